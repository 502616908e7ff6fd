"""Facts about the memory model: the KV precision and the largest context that fits at each KV
precision the runtime offers. (Ways out, such as a quantized KV cache or a shorter context, are
levers of the planner's plans: advisor.plans.)"""
from __future__ import annotations

from dataclasses import replace

from advisor.facts.question import Question
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.kv_cache import kv_dtype_splits_rows
from advisor.sizing.plan import Placement

FACTS: dict[str, tuple[str, str]] = {
    "kv_cache_dtype": ("str", "KV cache precision asked for (--kv-cache)"),
    "max_context_tokens": ("int", "largest context that fits at kv_cache_dtype, at most the "
                                  "model's context limit (0: none)"),
    "max_context_tokens_fp16": ("int", "largest context that fits with an fp16 KV cache"),
    "max_context_tokens_q8_0": ("int", "largest context with a q8_0 KV cache (llama.cpp only)"),
    "max_context_tokens_q4_0": ("int", "largest context with a q4_0 KV cache (llama.cpp only)"),
    "whole_max_context_tokens_fp16": ("int", "with layers in system RAM (-ngl): the largest "
                                             "context with every layer on the GPU, fp16 KV cache "
                                             "(0: the weights alone do not fit)"),
    "whole_max_context_tokens_q8_0": ("int", "the same with a q8_0 KV cache"),
    "whole_max_context_tokens_q4_0": ("int", "the same with a q4_0 KV cache"),
    "model_max_context_tokens": ("int", "the model's own context limit (the advertised one where "
                                        "it exceeds config.json's max_position_embeddings)"),
}
# `runtime` (--runtime) is registered by advisor/facts/core.py
ALWAYS = {"kv_cache_dtype", "max_context_tokens", "model_max_context_tokens"}


def _max_context(q: Question, pl: Placement, dtype: str) -> int:
    if pl.mixed is not None:  # every card of an unequal set keeps its margin
        from advisor.sizing.mixed import GpuSet, mixed_max_context

        return mixed_max_context(q.model, q.precision, q.work,
                                 GpuSet(tuple(s.gpu for s in pl.mixed.cards)), dtype)
    return max_context_tokens(q.model, q.precision, q.work, q.gpus, pl.available_bytes,
                              pl.margin_bytes, dtype, q.gpu)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    w = q.work
    f.update(kv_cache_dtype=w.kv_cache_dtype,
             model_max_context_tokens=q.model.context_limit)

    f["max_context_tokens"] = _max_context(q, pl, w.kv_cache_dtype)
    offered = c.RUNTIME_KV_DTYPES[w.runtime]
    for dtype in ("fp16", "q8_0", "q4_0"):
        if dtype in offered and kv_dtype_splits_rows(q.model.architecture, dtype):
            # a KV precision the runtime lacks, or whose blocks the rows do not fill, is left out
            f[f"max_context_tokens_{dtype}"] = (f["max_context_tokens"] if dtype == w.kv_cache_dtype
                                                else _max_context(q, pl, dtype))
    if w.gpu_layers is not None and w.gpu_layers <= q.model.architecture.layers and pl.mixed is None:
        # a split with layers in system RAM: what the card holds with every layer on it, the
        # context a plan would shorten to (the split's own figures above answer another question)
        whole = replace(w, gpu_layers=None)
        for dtype in ("fp16", "q8_0", "q4_0"):
            if dtype in offered and kv_dtype_splits_rows(q.model.architecture, dtype):
                f[f"whole_max_context_tokens_{dtype}"] = max_context_tokens(
                    q.model, q.precision, whole, q.gpus, pl.available_bytes, pl.margin_bytes,
                    dtype, q.gpu)

