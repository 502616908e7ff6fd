"""The command that launches a plan, in the flags each runtime documents. Every command is
checked by advisor/plans/flags.py against advisor/data/runtime_flags.yaml (each runtime's flags,
spellings, value sets, and the version/commit and source file they were read from);
tests/test_commands_flags.py parses every command `advisor explain` prints over a sample of the
KB matrix against it.

  llama-server: -hf ORG/REPO:QUANT | -m FILE, -ngl, --n-cpu-moe, -c, -np, -fa on, -ctk/-ctv, -sm, -ts
    (llama.cpp common/arg.cpp at 145b6280; -fa takes on|off|auto there, a bare -fa does not parse)
    https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
  vllm serve REPO: --tensor-parallel-size, --pipeline-parallel-size, --data-parallel-size,
    --enable-expert-parallel, --max-model-len,
    --quantization, --kv-cache-dtype, --max-num-seqs, --gpu-memory-utilization; no --dtype: vLLM's
    auto dtype keeps a bf16 checkpoint's dtype, or falls back on a card without bfloat16 itself
    (advisor.plans.runtimes.half_fallback)
    https://docs.vllm.ai/en/latest/cli/serve.html
  transformers: AutoModelForCausalLM.from_pretrained(REPO, device_map="auto", torch_dtype=...,
    quantization_config=BitsAndBytesConfig(...)); torch_dtype is the spelling every transformers
    version takes (5.x prefers dtype= and keeps torch_dtype for backward compatibility)
    https://huggingface.co/docs/transformers/main/en/main_classes/quantization
"""
from __future__ import annotations

import shlex

from advisor.kb.schema import Model
from advisor.plans.publishers import hf_spec
from advisor.sizing import constants as c
from advisor.sizing.precision import Precision

_GGUF_FILE_TYPE = {"fp32": "F32", "fp16": "F16", "bf16": "BF16"}
_LLAMACPP_KV = {"fp16": "", "bf16": " -ctk bf16 -ctv bf16", "fp32": " -ctk f32 -ctv f32",
                **{q: f" -fa on -ctk {q} -ctv {q}" for q in c.LLAMACPP_QUANT_KV}}


def hf_repo(model: Model) -> str | None:
    """The model's own repo: the instruction-tuned one where the KB names it, else the first
    alias that is a repo id."""
    return model.instruct_repo or next((a for a in model.aliases if "/" in a), None)


def gguf_file(model: Model, p: Precision, latent: bool = False) -> str:
    """The name of a GGUF file a plan makes: REPO-TYPE.gguf; latent: REPO-TYPE-MLA.gguf, for a
    latent-attention model whose older files of that type (converted before llama.cpp PR 12801,
    caching per-head K and V) go by the plain name."""
    repo = hf_repo(model)
    stem = repo.split("/", 1)[1] if repo else model.id
    return f"{stem}-{_GGUF_FILE_TYPE.get(p.name, p.name)}{'-MLA' if latent else ''}.gguf"


def llama_server(model: Model, p: Precision, context: int, batch: int, kv: str, *,
                 gpu_layers: int | None = None, moe_cpu_layers: int = 0, gpus: int = 1,
                 gguf_repo: str | None = None, flash_attn: bool = True,
                 path: str | None = None) -> str:
    """gpu_layers: repeating layers on the GPU (None, or above layers: all, and the output
    layer: -ngl layers + 1). Up to all of them: -ngl gpu_layers, the output layer staying in
    RAM (src/llama-model.cpp:
    i_gpu_start = max(n_layer - n_gpu_layers, 0); the output layer, slot n_layer, goes to the GPU
    only when n_gpu_layers > n_layer). -c is the whole cache, which
    llama-server divides among -np parallel sequences; over several GPUs, -sm layer -ts 1,1,...
    splits whole layers evenly. path: the GGUF to load with -m (else -hf gguf_repo, else
    gguf_file's name). flash_attn False: `-fa off` (llama.cpp's default is auto, on
    where the backend has the kernels; a quantized V cache needs it on)."""
    layers = model.architecture.layers
    ngl = layers + 1 if gpu_layers is None or gpu_layers > layers else gpu_layers
    if path is not None:   # a file named by the caller (the question's own, or one to make)
        src = f"-m {shlex.quote(path)}"
    elif gguf_repo:  # a published GGUF: a quantized type, or a BF16/F16 file
        src = f"-hf {hf_spec(gguf_repo, p)}"
    else:
        src = f"-m {gguf_file(model, p)}"
    cmd = f"llama-server {src} -ngl {ngl} -c {context * batch}"
    if moe_cpu_layers:
        cmd += f" --n-cpu-moe {moe_cpu_layers}"
    if batch > 1:
        cmd += f" -np {batch}"
    if gpus > 1:
        cmd += " -sm layer -ts " + ",".join(["1"] * gpus)
    if not flash_attn:
        if kv in c.LLAMACPP_QUANT_KV:
            raise ValueError(f"llama.cpp quantizes the V cache only with flash attention, not {kv}")
        return cmd + _LLAMACPP_KV[kv] + " -fa off"
    return cmd + _LLAMACPP_KV[kv]


def memory_share(gpu_memory_utilization: float) -> float | None:
    """--gpu-memory-utilization for a plan: the share of each GPU the sizing let vLLM use, when
    it is not vLLM's default (advisor.sizing.vllm_memory sizes the fit at that share, so a plan
    that fits needs no more)."""
    if gpu_memory_utilization == c.VLLM_GPU_MEMORY_UTILIZATION:
        return None
    return round(gpu_memory_utilization, 2)


def vllm_serve(repo: str, context: int, batch: int, kv: str, *, tensor_parallel: int = 1,
               pipeline_parallel: int = 1, quantize_fp8: bool = False, dtype: str | None = None,
               share: float | None = None, mistral_format: bool = False, data_parallel: int = 1,
               expert_parallel: bool = False) -> str:
    """data_parallel > 1: --data-parallel-size (replicas of tensor_parallel GPUs);
    expert_parallel: --enable-expert-parallel (advisor.sizing.vllm_parallel)."""
    parts = ["vllm serve", repo]
    if mistral_format:
        parts.append("--tokenizer-mode mistral")
    if tensor_parallel > 1:
        parts.append(f"--tensor-parallel-size {tensor_parallel}")
    if data_parallel > 1:
        parts.append(f"--data-parallel-size {data_parallel}")
    if expert_parallel:
        parts.append("--enable-expert-parallel")
    if pipeline_parallel > 1:
        parts.append(f"--pipeline-parallel-size {pipeline_parallel}")
    parts.append(f"--max-model-len {context}")
    if quantize_fp8:
        parts.append("--quantization fp8")
    if dtype:
        parts.append(f"--dtype {dtype}")
    if kv == "fp8":
        parts.append("--kv-cache-dtype fp8")
    if batch > 1:
        parts.append(f"--max-num-seqs {batch}")
    if share is not None:
        parts.append(f"--gpu-memory-utilization {share:.2f}")
    return " ".join(parts)


def transformers_snippet(repo: str, p: Precision, dtype: str, *,
                         auto_class: str = "AutoModelForCausalLM",
                         trust_remote_code: bool = False) -> str:
    """A one-line Python launch: device_map="auto" places layers over the GPUs (and CPU).
    auto_class: Model.transformers_auto_class; trust_remote_code for repos with their own code."""
    q = ""
    if p.name == "nf4":
        q = (", quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4', "
             "bnb_4bit_use_double_quant=True)")
    elif p.name == "int8":
        q = ", quantization_config=BitsAndBytesConfig(load_in_8bit=True)"
    if trust_remote_code:
        q += ", trust_remote_code=True"
    imports = f"{auto_class}, BitsAndBytesConfig" if "BitsAndBytes" in q else auto_class
    return (f"python -c \"import torch; from transformers import {imports}; "
            f"m = {auto_class}.from_pretrained('{repo}', device_map='auto', "
            f"torch_dtype=torch.{dtype}{q})\"")


_STACK = {"nvidia": "CUDA", "amd": "ROCm (HIP)", "intel": "Level Zero"}


def raised_share_note(share: float, gpu) -> str:
    """What a plan that raises vLLM's --gpu-memory-utilization needs: the GPUs to itself."""
    left = gpu.usable_memory_bytes * (1 - share) / c.GIB
    return (f"nothing else on the GPUs (no desktop display, no other process): vLLM takes {share:.2f} "
            f"of each, leaving {left:.1f} GiB for the {_STACK.get(gpu.vendor, 'runtime')} context and graphs")


def long_context_note(config_context: int) -> str:
    """vLLM refuses a --max-model-len beyond the config's max_position_embeddings unless told."""
    return (f"`export VLLM_ALLOW_LONG_MAX_MODEL_LEN=1` (the context is beyond the config's "
            f"{config_context:,} positions; vLLM refuses it otherwise), or the model card's "
            "rope_scaling through --hf-overrides")


def ray_cluster_note(nodes: int) -> str:
    return (f"vLLM over {nodes} nodes runs on a Ray cluster: start it first (`ray start --head` on "
            f"one node, `ray start --address=HEAD_IP:6379` on the other {nodes - 1}), then run "
            "`vllm serve` on the head node")



def data_parallel_nodes_note(nodes: int, tensor_parallel: int) -> str:
    """vLLM's data parallel over several machines: one `vllm serve` a node, each running the
    data-parallel ranks of its own GPUs (a node's GPUs / TP)."""
    local = max(1, c.GPUS_PER_NODE // tensor_parallel)
    return (f"over {nodes} nodes: start the command on each node with --data-parallel-size-local "
            f"{local} (and, on all but the first, --headless --data-parallel-start-rank of its "
            f"first rank), all with --data-parallel-address and --data-parallel-rpc-port of the "
            f"first node (vLLM's multi-node data parallel deployment)")
