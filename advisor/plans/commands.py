"""The command that launches a plan, in the flags each runtime documents. Every command is
checked by advisor/plans/flags.py against advisor/data/runtime_flags.yaml (each runtime's flags,
spellings, value sets, and the version/commit and source file they were read from);
tests/test_commands_flags.py parses every command `advisor explain` prints over a sample of the
KB matrix against it.

  llama-server: -hf ORG/REPO:QUANT | -m FILE, -ngl, --n-cpu-moe, -c, -np, -fa on, -ctk/-ctv, -sm, -ts,
    --rope-scaling yarn --rope-scale F --yarn-orig-ctx N (the model card's YaRN, rope_scaling_for)
    (llama.cpp common/arg.cpp at 145b6280; -fa takes on|off|auto there, a bare -fa does not parse)
    https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
  vllm serve REPO: --tensor-parallel-size, --pipeline-parallel-size, --data-parallel-size,
    --enable-expert-parallel, --max-model-len, --hf-overrides (the model card's YaRN as
    rope_parameters, rope_scaling_for),
    --quantization, --kv-cache-dtype, --max-num-seqs, --gpu-memory-utilization; no --dtype: vLLM's
    auto dtype keeps a bf16 checkpoint's dtype, or falls back on a card without bfloat16 itself
    (advisor.plans.runtimes.half_fallback)
    https://docs.vllm.ai/en/latest/cli/serve.html
  transformers: AutoModelForCausalLM.from_pretrained(REPO, device_map="auto", torch_dtype=...,
    quantization_config=BitsAndBytesConfig(...), rope_parameters={...} for the card's YaRN);
    torch_dtype is the spelling every transformers version takes (5.x prefers dtype= and keeps
    torch_dtype for backward compatibility)
    https://huggingface.co/docs/transformers/main/en/main_classes/quantization
  SGLang: python -m sglang.launch_server --model-path REPO --tp-size, --pp-size,
    --context-length, --json-model-override-args (the model card's YaRN as rope_scaling),
    --quantization fp8, --kv-cache-dtype fp8_e4m3, --max-running-requests,
    --mem-fraction-static, --trust-remote-code; over several nodes --nnodes, --node-rank and
    --dist-init-addr (python/sglang/srt/server_args.py, SGLang 0.5)
    https://docs.sglang.ai/advanced_features/server_arguments.html
  mlx-lm: mlx_lm.server --model REPO (OpenAI-compatible server) and mlx_lm.generate --model REPO
    --max-tokens N [--max-kv-size N] [--kv-bits B]; a repo mlx-community has not published is made
    first with mlx_lm.convert --hf-path REPO -q --q-bits B --q-group-size 64 --mlx-path DIR
    (mlx_lm/generate.py, server.py, convert.py at ml-explore/mlx-lm
    d78bf58e217c904ec282ed8da9b947491f78c022)
"""
from __future__ import annotations

import json
import re
import shlex

from advisor.kb.schema import Model, RopeScaling
from advisor.plans.publishers import hf_spec
from advisor.sizing import constants as c
from advisor.sizing.offload import llamacpp_ngl
from advisor.sizing.precision import Precision
from advisor.text import exact_number

_GGUF_FILE_TYPE = {"fp32": "F32", "fp16": "F16", "bf16": "BF16"}
_LLAMACPP_KV = {"fp16": "", "bf16": " -ctk bf16 -ctv bf16", "fp32": " -ctk f32 -ctv f32",
                **{q: f" -fa on -ctk {q} -ctv {q}" for q in c.LLAMACPP_QUANT_KV}}



def shell_word(s: str) -> str:
    """`s` as one word of a POSIX shell command: shlex.quote where every character is printable,
    else bash's ANSI-C quoting ($'...' with \\n, \\xHH and \\uHHHH escapes), so a user's file
    name holding a newline, an escape sequence or a bidi override stays one runnable word and
    prints no control character (issue 14: names are text)."""
    if s.isprintable() and not any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069
                                   for ch in s):
        return shlex.quote(s)
    out = []
    for ch in s:
        o = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable() or 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069:
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


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


def quantize_type(p: Precision) -> str:
    """The type llama-quantize takes for a GGUF at p (Q4_K_M; F32, F16, BF16 for the floats)."""
    return _GGUF_FILE_TYPE.get(p.name, p.name)


def rope_scaling_for(model: Model, context: int) -> RopeScaling | None:
    """The rope scaling a plan of `context` tokens a sequence needs: the model card's
    (Model.rope_scaling: Qwen2, Qwen2.5, Qwen3, YaRN factor 4 over 32,768 positions) when the
    context is beyond the config's max_position_embeddings, else None. Only then: the cards
    warn that static YaRN (what llama.cpp, vLLM and transformers implement) can hurt short
    texts, and a model without the field (Command R's positions extend unscaled; Llama 3.1's
    config scales by itself) never gets any."""
    r = getattr(model, "rope_scaling", None)  # a model read from a file has none
    return r if r is not None and context > model.architecture.max_context else None


def llama_rope_flags(r: RopeScaling) -> str:
    """llama.cpp's flags for the card's YaRN (common/arg.cpp: --rope-scaling {none,linear,yarn},
    --rope-scale N, the context scaling factor, --yarn-orig-ctx N, the original context the
    model was trained on), as the Qwen3 cards print them: ` --rope-scaling yarn --rope-scale 4
    --yarn-orig-ctx 32768`. llama.cpp applies them to a GGUF whose metadata carries no rope
    scaling (the published Qwen files have none)."""
    return f" --rope-scaling {r.type} --rope-scale {flag_number(r.factor)} --yarn-orig-ctx {r.original_context}"


def vllm_rope_override(r: RopeScaling) -> str:
    """The JSON of vLLM's --hf-overrides for the card's YaRN, in the form current vLLM reads
    (docs.vllm.ai features/context_extension: `{"rope_parameters": {"rope_type": "yarn",
    "factor", "original_max_position_embeddings", "rope_theta"}}`; transformers v5's
    rope_parameters holds rope_theta, so the override that replaces it carries the config's)."""
    return json.dumps({"rope_parameters": {"rope_type": r.type, "factor": r.factor,
                                           "original_max_position_embeddings": r.original_context,
                                           "rope_theta": r.rope_theta}})


def llama_server(model: Model, p: Precision, context: int, batch: int, kv: str, *,
                 gpu_layers: int | None = None, moe_cpu_layers: int = 0, gpus: int = 1,
                 gguf_repo: str | None = None, flash_attn: bool = True,
                 path: str | None = None, tensor_split: str | None = None,
                 ngl: int | None = None) -> str:
    """gpu_layers: repeating layers on the GPU (None, or above layers: all, and the output
    layer), printed as llama.cpp counts them (advisor.sizing.offload.llamacpp_ngl: a GGUF's
    trailing blocks, GLM-4.5's NextN, are slots before the output layer, so every layer is -ngl
    layers + trailing + 1 and a partial count gpu_layers + trailing, the output layer staying in
    RAM; src/llama-model.cpp: i_gpu_start = max(n_layer - n_gpu_layers, 0); the output layer,
    slot n_layer, goes to the GPU only when n_gpu_layers > n_layer). ngl: the -ngl itself, in
    llama.cpp's count, where it is the user's own (Offload.ngl: echoed as given, gpu_layers then
    unused). -c is the whole cache, which
    llama-server divides among -np parallel sequences; over several GPUs, -sm layer -ts 1,1,...
    splits whole layers evenly. path: the GGUF to load with -m (else -hf gguf_repo, else
    gguf_file's name). flash_attn False: `-fa off` (llama.cpp's default is auto, on
    where the backend has the kernels; a quantized V cache needs it on). tensor_split: the
    -ts of unequal cards ("23.6,11.6,11.6": advisor.sizing.mixed), in device order. A context
    (a sequence's) beyond the config's positions adds the card's rope scaling (rope_scaling_for,
    llama_rope_flags)."""
    if ngl is None:
        ngl = llamacpp_ngl(model, gpu_layers)
    if path is not None:   # a file named by the caller (the question's own, or one to make)
        src = f"-m {shell_word(path)}"
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
        cmd += " -sm layer -ts " + (tensor_split or ",".join(["1"] * gpus))
    rope = rope_scaling_for(model, context)
    if rope is not None:
        cmd += llama_rope_flags(rope)
    if not flash_attn:
        if kv in c.LLAMACPP_QUANT_KV:
            raise ValueError(f"llama.cpp quantizes the V cache only with flash attention, not {kv}")
        return cmd + _LLAMACPP_KV[kv] + " -fa off"
    return cmd + _LLAMACPP_KV[kv]


def device_order_note(gset) -> str:
    """The device order a -ts over unequal cards assumes (CUDA numbers the fastest card first
    unless CUDA_DEVICE_ORDER=PCI_BUS_ID; -ts follows CUDA's numbering)."""
    from advisor.render import md_text  # KB names, printed in markdown

    order = ", ".join(md_text(g.name) for g in gset.devices)
    return (f"-ts lists the cards in device order: {order}; CUDA numbers the fastest card first "
            f"by default, and `llama-server --list-devices` shows its order: where it differs, set "
            f"CUDA_VISIBLE_DEVICES to list the cards in this order")


def memory_share(gpu_memory_utilization: float) -> float | None:
    """--gpu-memory-utilization for a plan: the share of each GPU the sizing let vLLM use, when
    it is not vLLM's default (advisor.sizing.vllm_memory sizes the fit at that share, so a plan
    that fits needs no more). Exactly that share: rounded, a share asked as 0.954 was printed
    0.95, at which the fit sized at 0.954 may not hold."""
    if gpu_memory_utilization == c.VLLM_GPU_MEMORY_UTILIZATION:
        return None
    return gpu_memory_utilization


def flag_number(x: float) -> str:
    """A share or factor as a command's flag value: the number the sizing used, exactly (the
    shortest decimal that reads back as the same float: 0.954, 0.99999999, 1), never rounded
    to fewer digits (vLLM's and SGLang's argparse read it with float())."""
    return exact_number(x)


def vllm_serve(repo: str, context: int, batch: int, kv: str, *, tensor_parallel: int = 1,
               pipeline_parallel: int = 1, quantize_fp8: bool = False, dtype: str | None = None,
               share: float | None = None, mistral_format: bool = False, data_parallel: int = 1,
               expert_parallel: bool = False, rope: RopeScaling | None = None,
               trust_remote_code: bool = False, quantize_bnb: bool = False) -> str:
    """quantize_bnb: vLLM quantizes the 16-bit checkpoint to 4-bit bitsandbytes as it loads it
    (`--quantization bitsandbytes`, in-flight: docs.vllm.ai features/quantization/bnb);
    data_parallel > 1: --data-parallel-size (replicas of tensor_parallel GPUs);
    expert_parallel: --enable-expert-parallel (advisor.sizing.vllm_parallel); rope: the card's
    rope scaling for a context beyond the config's positions (rope_scaling_for), as
    --hf-overrides beside --max-model-len (vllm_rope_override); trust_remote_code: the repo
    ships code vLLM must run (Model.trust_remote_code: Kimi K2's tokenizer)."""
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
    if rope is not None:
        parts.append(f"--hf-overrides {shlex.quote(vllm_rope_override(rope))}")
    if quantize_fp8:
        parts.append("--quantization fp8")
    elif quantize_bnb:
        parts.append("--quantization bitsandbytes")
    if dtype:
        parts.append(f"--dtype {dtype}")
    if kv == "fp8":
        parts.append("--kv-cache-dtype fp8")
    if batch > 1:
        parts.append(f"--max-num-seqs {batch}")
    if share is not None:
        parts.append(f"--gpu-memory-utilization {flag_number(share)}")
    if trust_remote_code:
        parts.append("--trust-remote-code")
    return " ".join(parts)


def sglang_rope_override(r: RopeScaling) -> str:
    """The JSON of SGLang's --json-model-override-args for the card's YaRN: the config's
    rope_scaling as the Qwen cards write it for SGLang (`{"rope_scaling": {"rope_type": "yarn",
    "factor", "original_max_position_embeddings"}}`)."""
    return json.dumps({"rope_scaling": {"rope_type": r.type, "factor": r.factor,
                                        "original_max_position_embeddings": r.original_context}})


def sglang_launch(repo: str, context: int, batch: int, kv: str, *, tensor_parallel: int = 1,
                  pipeline_parallel: int = 1, data_parallel: int = 1, expert_parallel: int = 1,
                  dp_attention: bool = False, quantize_fp8: bool = False,
                  mem_fraction_static: float | None = None, nodes: int = 1,
                  rope: RopeScaling | None = None, trust_remote_code: bool = False) -> str:
    """SGLang's server for a plan: `python -m sglang.launch_server --model-path REPO`, tensor
    parallel over --tp-size GPUs and --pp-size stages, --context-length, the card's rope
    scaling (sglang_rope_override), --quantization fp8 for weights quantized at load,
    --kv-cache-dtype fp8_e4m3 for an FP8 cache, --max-running-requests for a batch, the
    --mem-fraction-static asked (None: SGLang's default, not printed); data_parallel > 1:
    --dp-size (with --enable-dp-attention for dp_attention), expert_parallel > 1: --ep-size
    (advisor.sizing.vllm_parallel.sglang_layout_command). nodes > 1: the first
    node's command, with --nnodes, --node-rank 0 and --dist-init-addr (sglang_nodes_note says
    what the others run). Flags: advisor/data/runtime_flags.yaml, runtime sglang."""
    parts = ["python -m sglang.launch_server", "--model-path", repo]
    if tensor_parallel > 1:
        parts.append(f"--tp-size {tensor_parallel}")
    if pipeline_parallel > 1:
        parts.append(f"--pp-size {pipeline_parallel}")
    if data_parallel > 1:
        parts.append(f"--dp-size {data_parallel}")
    if dp_attention:
        parts.append("--enable-dp-attention")
    if expert_parallel > 1:
        parts.append(f"--ep-size {expert_parallel}")
    parts.append(f"--context-length {context}")
    if rope is not None:
        parts.append(f"--json-model-override-args {shlex.quote(sglang_rope_override(rope))}")
    if quantize_fp8:
        parts.append("--quantization fp8")
    if kv == "fp8":
        parts.append("--kv-cache-dtype fp8_e4m3")
    if batch > 1:
        parts.append(f"--max-running-requests {batch}")
    if mem_fraction_static is not None:
        parts.append(f"--mem-fraction-static {flag_number(mem_fraction_static)}")
    if trust_remote_code:
        parts.append("--trust-remote-code")
    if nodes > 1:
        parts.append(f"--nnodes {nodes} --node-rank 0 --dist-init-addr {SGLANG_DIST_INIT_ADDR}")
    return " ".join(parts)


# The address every node of a multi-node SGLang plan is given: the first node's, a port of it.
SGLANG_DIST_INIT_ADDR = "NODE0_IP:50000"


def sglang_nodes_note(nodes: int) -> str:
    """What a multi-node SGLang plan runs besides the printed command (node 0's)."""
    return (f"SGLang over {nodes} nodes: run the same command on every node, with --node-rank 0 on "
            f"the first and 1 ... {nodes - 1} on the others, all with --nnodes {nodes} and "
            f"--dist-init-addr the first node's address (NODE0_IP) and a free port; no Ray cluster "
            "(SGLang starts its own workers)")


def sglang_long_context_note(config_context: int, rope: RopeScaling | None = None) -> str:
    """SGLang refuses a --context-length beyond the config's max_position_embeddings unless
    SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1 is set (python/sglang/srt/configs/model_config.py);
    with the card's rope scaling the command also carries it (sglang_rope_override)."""
    what = (f"--json-model-override-args turns on the model card's YaRN rope scaling (factor "
            f"{rope.factor:g} over {rope.original_context:,} positions); " if rope is not None else
            "where the model card gives rope scaling for this length, pass it with "
            "--json-model-override-args; ")
    return (f"the context is beyond the config's {config_context:,} positions, which SGLang "
            f"refuses unless told: {what}`export SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1` "
            "lets it take the longer --context-length")


def transformers_snippet(repo: str, p: Precision, dtype: str, *,
                         auto_class: str = "AutoModelForCausalLM",
                         trust_remote_code: bool = False, rope: RopeScaling | None = None,
                         quantize_fp8: bool = False) -> str:
    """A one-line Python launch: device_map="auto" places layers over the GPUs (and CPU); for a
    text model (AutoModelForCausalLM) it also answers one chat turn (the tokenizer's chat
    template, generate, the new tokens decoded and printed), so that it runs the model.
    auto_class: Model.transformers_auto_class; trust_remote_code for repos with their own code;
    rope: the card's rope scaling for a context beyond the config's positions
    (rope_scaling_for), as rope_parameters=, which from_pretrained sets on the config
    (transformers 5: PreTrainedConfig.from_dict sets a keyword the config has; rope_parameters
    replaces the whole dict, so it carries the config's rope_theta). transformers 4 has no
    rope_parameters and refuses the keyword rather than ignoring it (rope_scaling= there)."""
    q = ""
    if p.name == "nf4":
        q = (", quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4', "
             "bnb_4bit_use_double_quant=True)")
    elif p.name == "int8":
        q = ", quantization_config=BitsAndBytesConfig(load_in_8bit=True)"
    elif quantize_fp8:  # FP8 made from the 16-bit checkpoint as it loads (block-wise, 128 x 128)
        q = ", quantization_config=FineGrainedFP8Config()"
    if trust_remote_code:
        q += ", trust_remote_code=True"
    if rope is not None:
        q += (f", rope_parameters={{'rope_type': '{rope.type}', 'factor': {rope.factor!r}, "
              f"'original_max_position_embeddings': {rope.original_context}, "
              f"'rope_theta': {rope.rope_theta!r}}}")
    imports = (f"{auto_class}, BitsAndBytesConfig" if "BitsAndBytes" in q else
               f"{auto_class}, FineGrainedFP8Config" if "FineGrainedFP8" in q else auto_class)
    load = f"m = {auto_class}.from_pretrained('{repo}', device_map='auto', torch_dtype=torch.{dtype}{q})"
    if auto_class != "AutoModelForCausalLM":
        # image-text models take a processor and content lists: the snippet loads the model
        return f"python -c \"import torch; from transformers import {imports}; {load}\""
    # a text model: one chat turn through the tokenizer's chat template, the answer printed
    return (f"python -c \"import torch; from transformers import AutoTokenizer, {imports}; "
            f"t = AutoTokenizer.from_pretrained('{repo}'{', trust_remote_code=True' if trust_remote_code else ''}); "
            f"{load}; "
            f"x = t.apply_chat_template([{{'role': 'user', 'content': 'Hello'}}], "
            f"add_generation_prompt=True, return_dict=True, return_tensors='pt').to(m.device); "
            f"print(t.decode(m.generate(**x, max_new_tokens=128)[0][x['input_ids'].shape[1]:], "
            f"skip_special_tokens=True))\"")


_STACK = {"nvidia": "CUDA", "amd": "ROCm (HIP)", "intel": "Level Zero"}


def share_left_bytes(share: float, gpu) -> float:
    """Bytes of each GPU free beside vLLM's share: what is free for the GPU (the driver's total,
    or less on a unified-memory part whose OS holds some: GPU.usable_memory_bytes) less the
    share, which is of the driver's total."""
    return gpu.free_at_start_bytes - share * gpu.driver_total_bytes


def raised_share_note(share: float, gpu) -> str:
    """What a plan that raises vLLM's --gpu-memory-utilization needs: the GPUs to itself."""
    left = share_left_bytes(share, gpu) / c.GIB
    return (f"nothing else on the GPUs (no desktop display, no other process): vLLM takes {share:.2f} "
            f"of each, leaving {left:.1f} GiB for the {_STACK.get(gpu.vendor, 'runtime')} context and graphs")


# Hugging Face repos that download only after the user accepts the publisher's licence on the
# repo's page and authenticates (gated repos): every meta-llama repo ("You need to agree to share
# your contact information to access this model", https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct)
# and Google's Gemma repos ("To access Gemma on Hugging Face, you're required to review and
# agree to Google's usage license", https://huggingface.co/google/gemma-3-27b-it), their GGUFs
# included. Ollama pulls a gated hf.co repo with the Ollama key added to the user's Hugging Face
# account (https://huggingface.co/docs/hub/ollama); llama.cpp's -hf reads HF_TOKEN; vLLM, SGLang
# and transformers read huggingface_hub's stored login.
_GATED = re.compile(r"(?<![\w.-])((?:meta-llama/|google/[\w.-]*gemma)[\w.-]*)", re.IGNORECASE)


def gated_repo_note(command: str | None, runtime: str) -> str | None:
    """The step a command needs before it can download a gated Hugging Face repo it names
    (_GATED: meta-llama's and Google's Gemma repos), or None."""
    if not command:
        return None
    m = _GATED.search(command)
    if m is None:
        return None
    repo = m.group(1).split(":", 1)[0]
    how = ("add your Ollama public key (~/.ollama/id_ed25519.pub) to your Hugging Face account"
           if runtime == "ollama" else
           "log in (`hf auth login`, or set HF_TOKEN)" if runtime in ("llama.cpp",) else
           "log in (`hf auth login`)")
    return (f"{repo} is gated: accept its licence on https://huggingface.co/{repo} and {how}, "
            "or the download is refused")


def wired_limit_note(limit_mb: int, gpu) -> str:
    """What a plan that raises macOS's GPU wired-memory limit needs first (advisor.sizing.wired)."""
    left = gpu.memory_bytes / c.GIB - limit_mb / 1024
    return (f"macOS's GPU memory limit raised with `sudo sysctl iogpu.wired_limit_mb={limit_mb}` "
            f"(until the next restart; it leaves {left:.0f} GiB to macOS and your other apps: "
            f"close what you can)")


def long_context_note(config_context: int, rope: RopeScaling | None = None) -> str:
    """vLLM refuses a --max-model-len beyond the config's max_position_embeddings unless told.
    What to tell it depends on the model card. With the card's rope scaling in the KB
    (Model.rope_scaling: Qwen2, Qwen2.5, Qwen3, YaRN factor 4 over 32,768 positions) the
    command carries it as --hf-overrides (vllm_rope_override), which also lifts the check; the
    note says what it does and the spelling vLLM releases that still read `rope_scaling` take
    (docs.vllm.ai features/context_extension: `rope_parameters` now, `rope_scaling` without
    rope_theta before). Without it (Command R: the positions extend unscaled),
    VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 allows the longer context; it lifts the check and scales
    nothing, so alone, on a YaRN model, positions past the config would run unscaled."""
    if rope is not None:
        legacy = json.dumps({"rope_scaling": {"rope_type": rope.type, "factor": rope.factor,
                                              "original_max_position_embeddings": rope.original_context}})
        return (f"the context is beyond the config's {config_context:,} positions: --hf-overrides "
                f"turns on the model card's YaRN rope scaling (factor {rope.factor:g} over "
                f"{rope.original_context:,} positions), which also lets vLLM take the longer "
                f"--max-model-len; vLLM releases that read rope_scaling rather than "
                f"rope_parameters take `--hf-overrides '{legacy}'` instead. The card advises it "
                "only for long contexts: static YaRN can cost quality on short texts")
    return (f"the context is beyond the config's {config_context:,} positions, which vLLM refuses "
            "unless told: where the model card gives rope scaling for this length, turn it on "
            "through --hf-overrides (docs.vllm.ai features/context_extension); only where the "
            "card says the positions extend without scaling (Command R), `export "
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1`, which lifts the check and scales nothing")


def mlx_rope_note(model: Model, context: int) -> str:
    """What an MLX plan beyond the config's positions of a model whose card gives rope scaling
    needs: mlx-lm takes rope scaling only from the model folder's config.json (each model's
    ModelArgs.rope_scaling, read by mlx_lm/models/rope_utils.py initialize_rope, which knows
    "yarn"; mlx_lm.server and mlx_lm.generate have no flag for it), so the card's YaRN goes
    into that file, as the card itself says to do for transformers. Without it, positions past
    the config's run unscaled."""
    a, r = model.architecture, model.rope_scaling
    block = json.dumps({"rope_scaling": {"rope_type": r.type, "factor": r.factor,
                                         "original_max_position_embeddings": r.original_context}})
    return (f"{context:,} tokens is beyond the config's {a.max_context:,} positions: mlx-lm has "
            f"no flag for the model card's YaRN rope scaling (factor {r.factor:g} over "
            f"{r.original_context:,} positions) and reads it only from config.json, so add "
            f"`{block[1:-1]}` to the config.json of the model's folder (the converted folder, or a "
            "local download) before you start it; without it, positions past "
            f"{a.max_context:,} run unscaled. The card advises it only for long contexts")


def ollama_no_rope_note(model: Model, context: int) -> str:
    """Why an Ollama plan beyond the config's positions of a model whose card needs rope scaling
    has no command: Ollama takes rope scaling only from a GGUF's own metadata (its runner
    options, api/types.go Runner, have no rope setting and the Modelfile's PARAMETERs are
    those options) and clamps num_ctx to the file's trained context (llm/server.go: "requested
    context size too large for model"), so it would run the card's positions, not the context
    asked."""
    from advisor.render import md_text  # a KB name, printed in markdown

    a = model.architecture
    r = model.rope_scaling
    return (f"Ollama cannot run {md_text(model.name)} at {context:,} tokens: it clamps the context to the "
            f"GGUF's trained {a.max_context:,} (logging \"requested context size too large for "
            f"model\") and has no setting for the YaRN rope scaling the model card gives beyond "
            f"it (factor {r.factor:g} over {r.original_context:,} positions: no Modelfile "
            f"PARAMETER or server variable sets it); run it with llama-server and the card's "
            f"`--rope-scaling yarn --rope-scale {flag_number(r.factor)} --yarn-orig-ctx "
            f"{r.original_context}`, or with Ollama at up to {a.max_context:,} tokens")


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


def ollama_library_tag(model: Model, p: Precision) -> str | None:
    """The Ollama library tag the KB knows for this model at precision `p`: an alias that is an
    Ollama name (`llama3.1:70b`, kb/models/*.yaml with the library page as its source) whose
    default quantization (Model.ollama_quant, else Q4_K_M: advisor.kb.ollama) is `p`. Tags of
    other quantizations (`-q8_0`) are not recorded in the KB, so none is assumed to exist."""
    from advisor.kb.ollama import DEFAULT_QUANT, parse_ollama_name
    from advisor.sizing.precision import parse_precision

    if p.family != "gguf":
        return None
    own = parse_precision(model.ollama_quant or DEFAULT_QUANT).name
    for alias in model.aliases:
        if ":" not in alias:
            continue
        try:
            name = parse_ollama_name(alias)
        except Exception:  # an alias with a quantization the sizing does not know
            continue
        if name is not None and name.size is not None and name.quant is None and own == p.name:
            return alias
    return None


def ollama_model_name(model: Model, p: Precision, asked: str | None = None,
                      asked_precision: str | None = None) -> str | None:
    """What `ollama run` takes for a plan: the Ollama name the question gave when the plan is
    at its precision; else the library tag the KB knows at `p` (ollama_library_tag); else
    hf.co/ORG/REPO:TYPE, a published GGUF repo Ollama pulls from Hugging Face
    (https://huggingface.co/docs/hub/ollama); None when there is neither."""
    from advisor.plans.publishers import gguf_repo_for

    if asked is not None and asked_precision == p.name:
        return asked
    tag = ollama_library_tag(model, p)
    if tag is not None:
        return tag
    repo = gguf_repo_for(model, p) if p.family == "gguf" else None
    return f"hf.co/{hf_spec(repo, p)}" if repo else None


def ollama_pulls_per_head(model: Model, p: Precision) -> bool:
    """Whether `ollama run` of the file Ollama would pull for `model` at `p` (its library tag,
    else the hf.co GGUF repo: commands.ollama_model_name) caches per-head K and V: the library's
    file where the KB says Ollama's files of the model were converted before llama.cpp PR 12801
    (Model.ollama_mla_per_head_cache), a repo listed in gguf_repos_per_head_cache. False for
    models without latent attention."""
    a = model.architecture
    if not (a.kv_lora_rank and a.qk_rope_head_dim):
        return False
    if ollama_library_tag(model, p) is not None:
        return model.ollama_mla_per_head_cache
    from advisor.plans.publishers import gguf_repo_for

    repo = gguf_repo_for(model, p) if p.family == "gguf" else None
    return repo is not None and repo in model.gguf_repos_per_head_cache

def ollama_server_env(context: int, default_context: int, batch: int, kv: str,
                      flash_attn: bool, flash_attn_default: bool) -> list[str]:
    """The `ollama serve` environment a plan needs beyond Ollama's defaults (advisor/sizing/
    ollama.py): OLLAMA_CONTEXT_LENGTH where the context is not Ollama's default for the GPUs,
    OLLAMA_NUM_PARALLEL for several sequences (llama-server gets -c context x parallel),
    OLLAMA_KV_CACHE_TYPE for a quantized cache with OLLAMA_FLASH_ATTENTION=1 (llama.cpp
    quantizes V only with flash attention), OLLAMA_FLASH_ATTENTION=0 for a plan without it."""
    out = []
    if context != default_context:
        out.append(f"OLLAMA_CONTEXT_LENGTH={context}")
    if batch > 1:
        out.append(f"OLLAMA_NUM_PARALLEL={batch}")
    if kv != "fp16":
        if kv not in c.OLLAMA_KV_TYPES:
            raise ValueError(f"OLLAMA_KV_CACHE_TYPE has no {kv}")
        if not flash_attn:
            raise ValueError(f"Ollama quantizes the KV cache only with flash attention, not {kv}")
        out.append("OLLAMA_FLASH_ATTENTION=1")
        out.append(f"OLLAMA_KV_CACHE_TYPE={c.OLLAMA_KV_TYPES[kv]}")
    elif flash_attn != flash_attn_default:
        out.append(f"OLLAMA_FLASH_ATTENTION={int(flash_attn)}")
    return out


def ollama_serve_note(env: list[str]) -> str:
    """What must run first for an Ollama plan with server settings."""
    return (f"the Ollama server started with `{' '.join(env)} ollama serve` (they are the "
            "server's settings: where Ollama runs as a service, set them in its environment, "
            "`systemctl edit ollama` on Linux or `launchctl setenv` for the macOS app, and "
            "restart it)")


def ollama_local_name(path: str) -> str:
    """A name `ollama create` accepts for a local GGUF file: its stem, lower-case, with what is
    not a letter, digit, dot, dash or underscore made a dash (the form runtime_flags.yaml's
    `ollama run` model pattern takes)."""
    import re
    from pathlib import PurePath

    stem = PurePath(path).name
    stem = stem[:-5] if stem.lower().endswith(".gguf") else stem
    stem = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._") or "model"
    return stem if stem[0].isalnum() else "m" + stem


# mlx-lm's --kv-bits for each MLX KV cache precision (--kv-group-size stays at its default 64).
MLX_KV_BITS = {"mlx-8bit": 8, "mlx-4bit": 4}


def mlx_path(hf_repo_id: str, p: Precision) -> str:
    """The local folder mlx_lm.convert writes a conversion to: the repo's name and the precision,
    as mlx-community names theirs (Llama-3.1-8B-Instruct-4bit)."""
    from advisor.sizing.precision import MLX_BITS

    stem = hf_repo_id.split("/", 1)[1]
    return f"{stem}-{MLX_BITS[p.name]}bit" if p.name in MLX_BITS else f"{stem}-{p.name}"


def mlx_convert(hf_repo_id: str, p: Precision) -> str:
    """mlx_lm.convert making an MLX repo of p from the Hugging Face checkpoint: -q --q-bits B
    --q-group-size 64 for MLX's affine formats, --dtype for 16-bit ones."""
    from advisor.sizing.precision import MLX_BITS, MLX_GROUP_SIZE

    if p.name in MLX_BITS:
        how = f"-q --q-bits {MLX_BITS[p.name]} --q-group-size {MLX_GROUP_SIZE}"
    else:
        how = f"--dtype {'bfloat16' if p.name == 'bf16' else 'float16'}"
    return f"mlx_lm.convert --hf-path {shlex.quote(hf_repo_id)} {how} --mlx-path {shlex.quote(mlx_path(hf_repo_id, p))}"


def mlx_server(model_path: str, kv: str = "fp16", context: int | None = None) -> str:
    """mlx_lm.server --model REPO_OR_PATH: an OpenAI-compatible server on port 8080. The server
    takes no --kv-bits or --max-kv-size (mlx_lm/server.py at d78bf58): a quantized cache or a
    bounded one is mlx_lm.generate's (mlx_generate)."""
    return f"mlx_lm.server --model {shlex.quote(model_path)}"


def mlx_generate(model_path: str, max_tokens: int, kv: str = "fp16",
                 max_kv_size: int | None = None) -> str:
    """mlx_lm.generate --model REPO_OR_PATH --max-tokens N, with --kv-bits B for a quantized
    cache (with --quantized-kv-start 0: quantized from the first token, as sized) and
    --max-kv-size N to bound the cache (a rotating cache past N tokens)."""
    out = f"mlx_lm.generate --model {shlex.quote(model_path)} --max-tokens {max_tokens}"
    if max_kv_size is not None:
        out += f" --max-kv-size {max_kv_size}"
    if kv in MLX_KV_BITS:
        # quantized from the first token, as sized (mlx-lm's default starts at 5,000 tokens:
        # DEFAULT_QUANTIZED_KV_START, mlx_lm/generate.py at d78bf58)
        out += f" --kv-bits {MLX_KV_BITS[kv]} --quantized-kv-start 0"
    return out
