"""Facts about the memory model: the KV precision and the largest context that fits at each KV
precision the runtime offers. (Ways out, such as a quantized KV cache or a shorter context, are
levers of the planner's plans: advisor.plans.)"""
from __future__ import annotations

from dataclasses import replace

from advisor.facts.question import Question
from advisor.limits import MAX_CONTEXT
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.kv_cache import kv_dtype_splits_rows
from advisor.sizing.offload import partial_offload
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
    "runtime_share": ("float", "vLLM's --gpu-memory-utilization or SGLang's --mem-fraction-static: "
                               "the share of each GPU it takes at start"),
    "runtime_share_bytes": ("int", "vLLM/SGLang: that share of the total the driver reports, all "
                                   "GPUs"),
    "kv_pool_bytes": ("int", "vLLM/SGLang: the KV cache pool it allocates at start in that "
                             "share, all GPUs (0: none)"),
    "kv_pool_tokens": ("int", "vLLM/SGLang: the longest sequence that pool holds (the "
                              "sequences running at once share it)"),
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


def _one_sequence_tokens(q: Question, pool_bytes: int) -> int:
    """The longest single sequence (whole vLLM blocks of 16 tokens) whose KV cache fits in
    `pool_bytes` over all GPUs, with the model's sliding-window and latent layers as
    kv_cache_bytes counts them, so that it agrees with the largest context (before the model's
    own limit)."""
    from advisor.sizing.kv_cache import kv_cache_bytes

    a, w, step = q.model.architecture, q.work, c.VLLM_BLOCK_TOKENS
    lo, hi = 0, MAX_CONTEXT // step
    while lo < hi:  # the most blocks that fit
        mid = (lo + hi + 1) // 2
        if kv_cache_bytes(a, mid * step, 1, w.kv_cache_dtype, w.runtime, q.gpus) <= pool_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo * step


def kv_pool(q: Question, pl: Placement) -> tuple[float, int, int, int] | None:
    """(share, the share's bytes in all, pool bytes in all, pool tokens: one sequence's longest)
    of a server that preallocates its KV cache at
    start: vLLM fills gpu_memory_utilization of each GPU, less the weights and its profiled
    buffers (non-torch, activation peak), with KV blocks; SGLang its --mem-fraction-static less
    the weights (max_total_num_tokens). None for other runtimes, a data/expert-parallel vLLM
    layout (each rank's own pool: its layout note says it) and unequal sets."""
    w, parts = q.work, pl.parts
    if parts is None or pl.mixed is not None or pl.offload is not None or q.gpu is None:
        return None
    b = parts.breakdown
    tokens_asked = w.context_tokens * w.batch
    if w.runtime == "vllm" and "vllm_layout" not in b and tokens_asked and pl.kv_cache_bytes:
        # vLLM's share is of the total the driver reports (GPU.driver_total_bytes)
        u = w.gpu_memory_utilization
        share = int(u * q.gpu.driver_total_bytes) * q.gpus
        pool = share - pl.weights_bytes - b.get("overhead_non_torch", 0) \
            - b.get("overhead_activation_peak", 0)
        return u, share, max(pool, 0), _one_sequence_tokens(q, pool)
    if w.runtime == "sglang" and "vllm_layout" not in b:
        from advisor.sizing.memory import sglang_pool
        from advisor.sizing.sglang_memory import sglang_cell_bytes

        f, n, _ = sglang_pool(q.model.architecture, q.gpu, q.gpus, pl.weights_bytes, w)
        tokens = max(n, 0)
        cell = pl.kv_cache_bytes / tokens_asked if tokens_asked and pl.kv_cache_bytes else \
            sglang_cell_bytes(q.model.architecture, w.kv_cache_dtype)
        share = int(f * q.gpu.driver_total_bytes) * q.gpus
        return f, share, int(tokens * cell), tokens
    return None


def contribute(q: Question, pl: Placement, f: dict) -> None:
    w = q.work
    f.update(kv_cache_dtype=w.kv_cache_dtype,
             model_max_context_tokens=q.model.context_limit)

    f["max_context_tokens"] = _max_context(q, pl, w.kv_cache_dtype)
    pool = kv_pool(q, pl)
    if pool is not None:
        f["runtime_share"], f["runtime_share_bytes"], f["kv_pool_bytes"], f["kv_pool_tokens"] = pool
    offered = c.RUNTIME_KV_DTYPES[w.runtime]
    for dtype in ("fp16", "q8_0", "q4_0"):
        if dtype in offered and kv_dtype_splits_rows(q.model.architecture, dtype):
            # a KV precision the runtime lacks, or whose blocks the rows do not fill, is left out
            f[f"max_context_tokens_{dtype}"] = (f["max_context_tokens"] if dtype == w.kv_cache_dtype
                                                else _max_context(q, pl, dtype))
    if partial_offload(q.model, w) and pl.mixed is None:
        # a split with layers in system RAM: what the card holds with every layer on it, the
        # context a plan would shorten to (the split's own figures above answer another question)
        whole = replace(w, gpu_layers=None)
        for dtype in ("fp16", "q8_0", "q4_0"):
            if dtype in offered and kv_dtype_splits_rows(q.model.architecture, dtype):
                f[f"whole_max_context_tokens_{dtype}"] = max_context_tokens(
                    q.model, q.precision, whole, q.gpus, pl.available_bytes, pl.margin_bytes,
                    dtype, q.gpu)

