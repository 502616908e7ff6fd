"""What each runtime allocates besides weights and KV cache (runtime profiles).

- llama.cpp: on every GPU that holds layers, the CUDA/ROCm context and the compute buffer of one
  micro-batch (advisor.sizing.overhead).
- vLLM: on every GPU, non-torch memory (CUDA context, cuBLAS, NCCL) and the activation peak its
  profiler measures; and it only ever uses gpu_memory_utilization of a GPU. That reserve is sized
  as (1 - u) / u of everything else, so "everything else <= u x memory" holds exactly when the
  total fits the memory; CUDA graphs live in it.
- transformers: the CUDA context and the activations of one prefill forward pass.
"""
from __future__ import annotations

from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.overhead import compute_buffer_bytes

RUNTIMES = ("llama.cpp", "vllm", "transformers")


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise AdvisorError(f"unknown runtime '{runtime}' (known: {', '.join(RUNTIMES)})")


def prefill_activation_bytes(a: Architecture, prompt_tokens: int, batch: int) -> int:
    """transformers: the largest live tensors of a prefill forward pass: the MLP's gate and up
    outputs and their product (3 x ffn) and the residual stream and attention output (2 x hidden)
    in 16-bit, for every prompt token, plus fp32 logits of each sequence's last token."""
    ffn = a.expert_ffn_size or a.ffn_size
    return prompt_tokens * batch * (3 * ffn + 2 * a.hidden_size) * 2 + batch * a.vocab_size * 4


def llamacpp_compute_buffer_bytes(a: Architecture, context_tokens: int) -> int:
    """One micro-batch's graph: f32 logits and hidden state (258.5 MiB for Llama 3 8B, as its
    log prints) and, with flash attention, the f16 KQ mask of n_ubatch x the padded context
    (a Gemma log grows 12.00 MiB from 4,096 to 16,384 cells at n_ubatch 512: 2 bytes a cell a
    micro-batch token)."""
    cells = -(-context_tokens // c.LLAMACPP_KV_PAD_TOKENS) * c.LLAMACPP_KV_PAD_TOKENS
    return compute_buffer_bytes(a) + c.LLAMACPP_KQ_MASK_BYTES * c.COMPUTE_UBATCH_TOKENS * cells


def overhead_parts(a: Architecture, runtime: str, gpus: int, prompt_tokens: int, batch: int,
                   weights_bytes: int, kv_bytes: int, context_tokens: int = 0) -> dict[str, int]:
    check_runtime(runtime)
    if runtime == "llama.cpp":
        return {"device_context": gpus * c.RUNTIME_RESERVED_BYTES_PER_GPU,
                "compute_buffer": gpus * llamacpp_compute_buffer_bytes(a, context_tokens)}
    if runtime == "vllm":
        non_torch = c.VLLM_NON_TORCH_BYTES_TP1 if gpus == 1 else c.VLLM_NON_TORCH_BYTES_TP_MULTI
        parts = {"non_torch": gpus * non_torch, "activation_peak": gpus * c.VLLM_ACTIVATION_PEAK_BYTES}
        used = weights_bytes + kv_bytes + sum(parts.values())
        u = c.VLLM_GPU_MEMORY_UTILIZATION
        parts["gpu_memory_utilization_reserve"] = -(-int(used * (1 - u) * 1000) // int(u * 1000))
        return parts
    return {"device_context": gpus * c.RUNTIME_RESERVED_BYTES_PER_GPU,
            "activations": prefill_activation_bytes(a, prompt_tokens, batch)}


# How each vendor's GPU runtime context and captured graphs are called.
_CONTEXT = {"nvidia": "CUDA context", "amd": "HIP context", "apple": "Metal device",
            "intel": "SYCL context"}
_GRAPHS = {"nvidia": "CUDA graphs", "amd": "HIP graphs"}


def runtime_assumptions(runtime: str, gpus: int, vendor: str = "nvidia") -> list[str]:
    """What the overhead assumes, in the words of the vendor's stack (no CUDA on a Mac)."""
    where = "as measured" if vendor == "nvidia" else "measured on NVIDIA, assumed the same here"
    ctx = _CONTEXT.get(vendor, "device context")
    if runtime == "llama.cpp":
        return [f"llama.cpp: {c.RUNTIME_RESERVED_BYTES_PER_GPU // c.MIB} MiB {ctx} ({where}) and a "
                f"{c.COMPUTE_UBATCH_TOKENS}-token compute buffer (f32 logits and hidden state, f16 "
                "attention mask over the context) a GPU, flash attention on"]
    if runtime == "vllm":
        nt = c.VLLM_NON_TORCH_BYTES_TP1 if gpus == 1 else c.VLLM_NON_TORCH_BYTES_TP_MULTI
        graphs = _GRAPHS.get(vendor, "captured graphs")
        return [f"vLLM: gpu_memory_utilization {c.VLLM_GPU_MEMORY_UTILIZATION}, non-torch "
                f"{nt / c.GIB:.2f} GiB and activation peak {c.VLLM_ACTIVATION_PEAK_BYTES / c.GIB:.2f} "
                f"GiB a GPU (measured, Llama-3-8B on an NVIDIA H100); {graphs} "
                f"({c.VLLM_CUDA_GRAPH_BYTES / c.GIB:.2f} GiB) fit in the unused share"]
    return [f"transformers: {c.RUNTIME_RESERVED_BYTES_PER_GPU // c.MIB} MiB {ctx} a GPU ({where}) "
            "and one prefill forward pass of activations"]
