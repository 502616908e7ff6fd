"""Facts that are command lines: the exact command to try for the question and for each option.

llama.cpp (`llama-server`) runs GGUF files and 16-bit weights converted to GGUF, on every vendor,
and is the runtime that can keep part of a model in system RAM (`-ngl`). vLLM (`vllm serve`)
runs Hugging Face checkpoints on NVIDIA and AMD cards, split tensor-parallel within a node and
pipeline-parallel across nodes; it quantizes a 16-bit checkpoint to FP8 at load time with
`--quantization fp8`. Flags as documented by each project:
  llama-server -m FILE -ngl N -c N -np N -fa on -ctk T -ctv T:
    https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md (a quantized V
    cache needs flash attention)
  vllm serve REPO --tensor-parallel-size --pipeline-parallel-size --max-model-len --dtype
    --quantization --max-num-seqs --kv-cache-dtype: https://docs.vllm.ai/en/latest/cli/serve.html
"""
from __future__ import annotations

import math

from advisor.facts.question import Question
from advisor.kb.schema import Model
from advisor.sizing import constants as c
from advisor.sizing.plan import Placement
from advisor.sizing.precision import Precision, parse_precision

FACTS: dict[str, tuple[str, str]] = {
    "runtime": ("str", "the runtime the plan is for: llama.cpp, vllm or transformers"),
    "model_hf_repo": ("str", "the model's Hugging Face repository (its first alias with a '/')"),
    "llama_server_command": ("str", "llama-server command line for the question as asked"),
    "vllm_serve_command": ("str", "vllm serve command line for the question as asked "
                                  "(16-bit or FP8, NVIDIA or AMD)"),
    "quantize_command": ("str", "command line that runs quantize_precision"),
    "shard_command": ("str", "command line that runs the shard_gpu_count split"),
    "offload_command": ("str", "llama-server command line with offload_gpu_layers on the GPU"),
    "kv_quantize_command": ("str", "command line with the KV cache at kv_quantize_dtype"),
    "shorter_context_command": ("str", "command line at shorter_context_tokens"),
}
ALWAYS = {"runtime"}

_GGUF_FILE_TYPE = {"fp32": "F32", "fp16": "F16", "bf16": "BF16"}
_VLLM_DTYPE = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
_VLLM_VENDORS = ("nvidia", "amd")
# KV cache flags by precision; a precision missing from a runtime's table is one it lacks.
_LLAMACPP_KV_FLAGS = {"fp16": "", "bf16": " -ctk bf16 -ctv bf16", "fp32": " -ctk f32 -ctv f32",
                      "q8_0": " -fa on -ctk q8_0 -ctv q8_0", "q4_0": " -fa on -ctk q4_0 -ctv q4_0"}
_VLLM_KV_FLAGS = {"fp16": "", "bf16": "", "fp8": " --kv-cache-dtype fp8"}
# vLLM preallocates --gpu-memory-utilization of each GPU (default 0.9) for weights, activations
# and KV cache (https://docs.vllm.ai/en/latest/configuration/engine_args.html).
VLLM_DEFAULT_UTILIZATION = 0.9
VLLM_UTILIZATION_SLACK = 0.02
VLLM_UTILIZATION_MAX = 0.98


def hf_repo(model: Model) -> str | None:
    return next((a for a in model.aliases if "/" in a), None)


def gguf_file(model: Model, p: Precision) -> str:
    repo = hf_repo(model)
    stem = repo.split("/", 1)[1] if repo else model.id
    return f"{stem}-{_GGUF_FILE_TYPE.get(p.name, p.name)}.gguf"


def llama_server(model: Model, p: Precision, context: int, batch: int,
                 gpu_layers: int | None = None, gpus: int = 1, kv: str = "fp16") -> str | None:
    """-ngl counts repeating layers; one more than the model has puts the output layer there too.
    -c is the whole cache, which llama-server divides among -np parallel sequences. Over several
    GPUs, -sm layer -ts 1,1,... splits whole layers evenly (llama.cpp's default split mode)."""
    if p.family == "checkpoint" or kv not in _LLAMACPP_KV_FLAGS:
        return None
    ngl = model.architecture.layers + 1 if gpu_layers is None else gpu_layers
    cmd = f"llama-server -m {gguf_file(model, p)} -ngl {ngl} -c {context * batch}"
    if batch > 1:
        cmd += f" -np {batch}"
    if gpus > 1:
        cmd += " -sm layer -ts " + ",".join(["1"] * gpus)
    return cmd + _LLAMACPP_KV_FLAGS[kv]


def memory_share(total_bytes: int, available_bytes: int) -> float | None:
    """--gpu-memory-utilization for a plan that needs more than vLLM's default 0.9 of the memory:
    the share it needs, rounded up, plus 0.02 for vLLM's own profiling run; None under 0.9."""
    share = math.ceil(100 * total_bytes / available_bytes) / 100 + VLLM_UTILIZATION_SLACK
    return round(min(share, VLLM_UTILIZATION_MAX), 2) if share > VLLM_DEFAULT_UTILIZATION else None


def vllm_serve(model: Model, vendor: str, p: Precision, context: int, batch: int,
               gpus: int = 1, pcie: bool = False, share: float | None = None,
               kv: str = "fp16") -> str | None:
    """Tensor parallel within a node, pipeline parallel across nodes; over PCIe (no NVLink),
    pipeline parallel throughout, since tensor parallel all-reduces every layer."""
    repo = hf_repo(model)
    if (repo is None or vendor not in _VLLM_VENDORS or p.name not in (*_VLLM_DTYPE, "fp8")
            or kv not in _VLLM_KV_FLAGS):
        return None
    parts = ["vllm serve", repo]
    if pcie:
        tp, pp = 1, gpus
    elif gpus <= c.GPUS_PER_NODE:
        tp, pp = gpus, 1
    else:
        tp, pp = c.GPUS_PER_NODE, gpus // c.GPUS_PER_NODE
    if tp > 1:
        parts.append(f"--tensor-parallel-size {tp}")
    if pp > 1:
        parts.append(f"--pipeline-parallel-size {pp}")
    parts.append(f"--max-model-len {context}")
    parts.append("--quantization fp8" if p.name == "fp8" else f"--dtype {_VLLM_DTYPE[p.name]}")
    if batch > 1:
        parts.append(f"--max-num-seqs {batch}")
    if share is not None:
        parts.append(f"--gpu-memory-utilization {share:.2f}")
    return " ".join(parts) + _VLLM_KV_FLAGS[kv]


def best_command(model: Model, vendor: str, p: Precision, context: int, batch: int,
                 gpus: int = 1, pcie: bool = False, share: float | None = None,
                 kv: str = "fp16") -> str | None:
    """vLLM for checkpoints it can serve, llama.cpp for GGUF (and where vLLM cannot run)."""
    if p.family != "gguf":
        v = vllm_serve(model, vendor, p, context, batch, gpus, pcie, share, kv)
        if v:
            return v
    if gpus > c.GPUS_PER_NODE:
        return None  # llama.cpp does not split one model over several machines without RPC servers
    return llama_server(model, p, context, batch, gpus=gpus, kv=kv)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    m, ctx, batch, vendor = q.model, q.work.context_tokens, q.work.batch, q.gpu.vendor
    kv = q.work.kv_cache_dtype
    pcie = "pcie" in (q.gpu.interconnect or "").lower()
    f["runtime"] = q.work.runtime
    repo = hf_repo(m)
    if repo:
        f["model_hf_repo"] = repo
    if q.gpus <= c.GPUS_PER_NODE:
        cmd = llama_server(m, q.precision, ctx, batch, gpus=q.gpus, kv=kv)
        if cmd:
            f["llama_server_command"] = cmd
    cmd = vllm_serve(m, vendor, q.precision, ctx, batch, q.gpus, pcie,
                     memory_share(pl.total_bytes, pl.available_bytes), kv)
    if cmd:
        f["vllm_serve_command"] = cmd
    if "quantize_precision" in f:
        cmd = best_command(m, vendor, parse_precision(f["quantize_precision"]), ctx, batch, q.gpus,
                           pcie, memory_share(f["quantize_total_bytes"], pl.available_bytes), kv)
        if cmd:
            f["quantize_command"] = cmd
    if "shard_gpu_count" in f:
        n = f["shard_gpu_count"]
        cmd = best_command(m, vendor, q.precision, ctx, batch, n, pcie,
                           memory_share(f["shard_total_bytes"], n * q.gpu.memory_bytes), kv)
        if cmd:
            f["shard_command"] = cmd
    if "offload_gpu_layers" in f:
        cmd = llama_server(m, q.precision, ctx, batch, f["offload_gpu_layers"], kv=kv)
        if cmd:
            f["offload_command"] = cmd
    if "kv_quantize_dtype" in f:
        d = f["kv_quantize_dtype"]
        cmd = (vllm_serve(m, vendor, q.precision, ctx, batch, q.gpus, pcie,
                          memory_share(f["kv_quantize_total_bytes"], pl.available_bytes), d)
               if d in _VLLM_KV_FLAGS else
               llama_server(m, q.precision, ctx, batch, gpus=q.gpus, kv=d)
               if q.gpus <= c.GPUS_PER_NODE else None)
        if cmd:
            f["kv_quantize_command"] = cmd
    if "shorter_context_tokens" in f:  # the runtime the numbers are for
        n, share = f["shorter_context_tokens"], memory_share(f["shorter_context_total_bytes"],
                                                            pl.available_bytes)
        cmd = (vllm_serve(m, vendor, q.precision, n, batch, q.gpus, pcie, share, kv)
               if q.work.runtime == "vllm" else
               llama_server(m, q.precision, n, batch, gpus=q.gpus, kv=kv)
               if q.work.runtime == "llama.cpp" and q.gpus <= c.GPUS_PER_NODE else None)
        if cmd:
            f["shorter_context_command"] = cmd
