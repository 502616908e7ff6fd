"""Facts about the question itself: identity, memory, verdict inputs."""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.plans.runtimes import cannot_run
from advisor.sizing.plan import Placement
from advisor.sizing.tensors import parameter_count

FACTS: dict[str, tuple[str, str]] = {
    "kind": ("str", "always 'situation'"),
    "task": ("str", "inference or finetune"),
    "model_id": ("str", "the model's KB id"),
    "model_parameters": ("int", "parameters computed from the architecture"),
    "gpu_id": ("str", "the GPU's KB id"),
    "gpu_vendor": ("str", "nvidia, amd, apple or intel"),
    "gpu_count": ("int", "GPUs asked for (--gpus)"),
    "gpu_native_fp8": ("bool", "the card runs FP8 tensor math"),
    "precision": ("str", "the weight format asked for"),
    "precision_family": ("str", "float, checkpoint or gguf"),
    "context_tokens": ("int", "context length asked for"),
    "batch": ("int", "sequences at once"),
    "weights_bytes": ("int", "bytes of the weights"),
    "kv_cache_bytes": ("int", "bytes of the KV cache for context x batch"),
    "overhead_bytes": ("int", "runtime reservation and compute buffers"),
    "total_bytes": ("int", "weights + KV cache + overhead"),
    "available_bytes": ("int", "memory of all the GPUs asked for"),
    "headroom_bytes": ("int", "available - total; negative is a deficit"),
    "deficit_bytes": ("int", "total - available when positive, else 0"),
    "margin_bytes": ("int", "headroom below which a fit is tight"),
    "weights_exceed_memory": ("bool", "the weights alone do not fit"),
    "runtime": ("str", "the runtime the question is sized for: llama.cpp, ollama, vllm, "
                       "transformers, mlx or sglang (--runtime, else the format's default)"),
    "runs": ("bool", "the runtime runs the format on this card (advisor.plans.runtimes)"),
    "flash_attn": ("bool", "llama.cpp flash attention (--flash-attn; on unless turned off; other "
                           "runtimes use their own attention kernels)"),
    "ram_fits": ("bool", "system RAM holds what the question puts there (true unless --n-gpu-layers "
                         "leaves more layers in RAM than --ram-gb holds)"),
}
# Facts every situation has (rule validation relies on it; tests check it over the KB).
ALWAYS = set(FACTS)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    f.update({
        "model_id": q.model.id,
        "model_parameters": parameter_count(q.model.architecture),
        "gpu_id": q.gpu.id,
        "gpu_vendor": q.gpu.vendor,
        "gpu_count": q.gpus,
        "gpu_native_fp8": q.gpu.native_fp8,
        "precision": q.precision.name,
        "precision_family": q.precision.family,
        "context_tokens": q.work.context_tokens,
        "batch": q.work.batch,
        "task": q.work.task,
        "runtime": q.work.runtime,
        "flash_attn": q.work.flash_attn,
        "ram_fits": pl.offload is None or pl.offload.ram_fits,
    })
    if q.work.task != "inference":
        f["runs"] = True  # the training stack (PyTorch) runs on every card fine-tuning sizes
        return  # advisor/facts/finetune.py sets the memory and verdict facts of training
    f.update({
        "runs": cannot_run(q.work.runtime, q.precision, q.gpu, q.model, q.gpus,
                           q.work.vllm_version, q.work.gpu_memory_utilization) is None,
        "weights_bytes": pl.weights_bytes,
        "kv_cache_bytes": pl.kv_cache_bytes,
        "overhead_bytes": pl.overhead_bytes,
        "total_bytes": pl.total_bytes,
        "available_bytes": pl.available_bytes,
        "headroom_bytes": pl.headroom_bytes,
        "deficit_bytes": max(0, -pl.headroom_bytes),
        "margin_bytes": pl.margin_bytes,
        "weights_exceed_memory": pl.weights_bytes > pl.available_bytes,
    })
