"""Facts about what the headroom of a fit buys: a longer context, or more sequences at once.

Both are found by asking the sizing core (advisor.sizing.plan.place) again, so they follow
whatever it counts (KV cache layout, overhead): the largest value that still fits with the margin.
"""
from __future__ import annotations

from dataclasses import replace

from advisor.facts.question import Question
from advisor.sizing.plan import Placement, place

MAX_BATCH_SEARCHED = 1024

FACTS: dict[str, tuple[str, str]] = {
    "fit_max_context_tokens": ("int", "longest context (at this batch, up to the model's maximum) "
                                      "that still fits with the margin"),
    "fit_max_batch": ("int", f"most sequences at this context that fit with the margin "
                             f"(searched up to {MAX_BATCH_SEARCHED})"),
}
# model_max_context_tokens is registered by advisor/facts/memory.py
TOGETHER = [{"fit_max_context_tokens", "fit_max_batch"}]


def _largest(lo: int, hi: int, fits) -> int:
    """Largest n in [lo, hi] with fits(n), given fits(lo)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def contribute(q: Question, pl: Placement, f: dict) -> None:
    a = q.model.architecture
    if not pl.fits:
        return

    def fits(**change) -> bool:
        return place(q.model, q.gpu, q.precision, replace(q.work, **change), q.gpus).fits

    ctx = q.work.context_tokens
    if "max_context_tokens" in f:  # advisor/facts/memory.py searched the same thing (same margin)
        f["fit_max_context_tokens"] = max(ctx, f["max_context_tokens"])
    else:
        f["fit_max_context_tokens"] = (_largest(ctx, a.max_context, lambda n: fits(context_tokens=n))
                                       if ctx < a.max_context else ctx)
    f["fit_max_batch"] = _largest(q.work.batch, max(q.work.batch, MAX_BATCH_SEARCHED),
                                  lambda n: fits(batch=n))
