"""The largest context that fits: the KV cache is the only part that grows with the context."""
from __future__ import annotations

from advisor.kb.schema import GPU, Model
from advisor.sizing.kv_cache import check_kv_dtype
from advisor.sizing.memory import memory_total_bytes
from advisor.sizing.precision import Precision
from advisor.sizing.workload import Workload


def max_context_tokens(model: Model, precision: Precision, work: Workload, gpus: int,
                       available_bytes: int, margin_bytes: int, kv_dtype: str | None = None,
                       gpu: GPU | None = None) -> int:
    """Largest context (tokens a sequence, up to the model's max_context) whose total memory
    leaves margin_bytes of available_bytes free, at kv_dtype (default: the workload's), on
    `gpus` of `gpu` (vLLM's scheduler defaults depend on the card). 0 when not even one token
    fits."""
    kv = kv_dtype or work.kv_cache_dtype
    check_kv_dtype(kv, work.runtime)

    def fits(ctx: int) -> bool:
        total = memory_total_bytes(model, precision, work, gpus, ctx, kv, gpu)
        return available_bytes - total >= margin_bytes

    lo, hi = 0, model.architecture.max_context
    if fits(hi):
        return hi
    while lo < hi:  # invariant: fits(lo) or lo == 0; not fits(hi)
        mid = (lo + hi + 1) // 2
        if mid == hi:
            break
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo if lo and fits(lo) else 0
