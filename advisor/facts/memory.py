"""Facts about the memory model: the runtime, the KV precision, and the largest context that
fits at each KV precision (for the KV-quantization and shorter-context rules)."""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.plan import Placement

FACTS: dict[str, tuple[str, str]] = {
    "kv_cache_dtype": ("str", "KV cache precision asked for (--kv-cache)"),
    "max_context_tokens": ("int", "largest context that fits at kv_cache_dtype, at most the "
                                  "model's max_context (0: none)"),
    "max_context_tokens_fp16": ("int", "largest context that fits with an fp16 KV cache"),
    "max_context_tokens_q8_0": ("int", "largest context with a q8_0 KV cache (llama.cpp only)"),
    "max_context_tokens_q4_0": ("int", "largest context with a q4_0 KV cache (llama.cpp only)"),
    "model_max_context_tokens": ("int", "the model's own context limit"),
}
# `runtime` (--runtime) is registered by advisor/facts/commands.py
ALWAYS = {"kv_cache_dtype", "max_context_tokens", "model_max_context_tokens"}


def contribute(q: Question, pl: Placement, f: dict) -> None:
    w = q.work
    f.update(kv_cache_dtype=w.kv_cache_dtype,
             model_max_context_tokens=q.model.architecture.max_context)

    def mc(dtype: str) -> int:
        return max_context_tokens(q.model, q.precision, w, q.gpus, pl.available_bytes,
                                  pl.margin_bytes, dtype)

    f["max_context_tokens"] = mc(w.kv_cache_dtype)
    offered = c.RUNTIME_KV_DTYPES[w.runtime]
    for dtype in ("fp16", "q8_0", "q4_0"):
        if dtype in offered:  # a KV precision the runtime lacks is left out
            f[f"max_context_tokens_{dtype}"] = (f["max_context_tokens"] if dtype == w.kv_cache_dtype
                                                else mc(dtype))
