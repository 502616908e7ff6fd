"""Memory a runtime needs beyond weights and KV cache."""
from __future__ import annotations

from advisor.kb.schema import Architecture
from advisor.sizing import constants as c


def compute_buffer_bytes(a: Architecture, ubatch: int = c.COMPUTE_UBATCH_TOKENS) -> int:
    """The f32 logits and hidden state of one micro-batch of `ubatch` tokens, bytes."""
    return c.COMPUTE_BYTES_PER_ELEMENT * ubatch * (a.vocab_size + a.hidden_size)


def overhead_bytes(a: Architecture, gpus: int = 1) -> int:
    """Runtime reservation and a compute buffer on every GPU that holds layers."""
    return gpus * (c.RUNTIME_RESERVED_BYTES_PER_GPU + compute_buffer_bytes(a))


def fit_margin_bytes(gpus: int = 1, runtime: str | None = None) -> int:
    """The headroom a fit keeps free, bytes over `gpus` GPUs: llama.cpp's --fit-target margin of
    1024 MiB a device (constants.FIT_MARGIN_BYTES_PER_GPU) for llama.cpp, Ollama, MLX and
    transformers (runtime None: the same); none for vLLM and SGLang, whose own share
    (--gpu-memory-utilization, --mem-fraction-static) already leaves the rest of each GPU
    unused, sized as part of their overhead (the CUDA context and graphs live there)."""
    if runtime in c.TENSOR_PARALLEL_RUNTIMES:
        return 0
    return gpus * c.FIT_MARGIN_BYTES_PER_GPU
