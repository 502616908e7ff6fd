"""Facts about what the headroom of a fit buys: a longer context, or more sequences at once.

Both are found by asking the sizing core again, so they follow whatever it counts (KV cache
layout, overhead): the largest value that still fits with the margin. The longest context is the
search advisor/facts/memory.py already made (max_context_tokens, at the KV precision asked).
"""
from __future__ import annotations

from dataclasses import replace

from advisor.facts.question import Question
from advisor.sizing.context import largest_within
from advisor.sizing.memory import memory_total_bytes
from advisor.sizing.plan import Placement

MAX_BATCH_SEARCHED = 1024

FACTS: dict[str, tuple[str, str]] = {
    "fit_max_context_tokens": ("int", "longest context (at this batch, up to the model's maximum) "
                                      "that still fits with the margin"),
    "fit_max_batch": ("int", f"most sequences at this context that fit with the margin "
                             f"(searched up to {MAX_BATCH_SEARCHED})"),
}
# model_max_context_tokens is registered by advisor/facts/memory.py
TOGETHER = [{"fit_max_context_tokens", "fit_max_batch"}]


def contribute(q: Question, pl: Placement, f: dict) -> None:
    if not pl.fits or pl.offload is not None:
        return  # with -ngl N the headroom is better spent on layers (the gpu-layers plan)
    # the longest context: advisor/facts/memory.py (run before this) searched it, same margin
    f["fit_max_context_tokens"] = max(q.work.context_tokens, f["max_context_tokens"])
    if pl.mixed is not None:  # unequal cards: every card keeps its margin at that batch
        from advisor.sizing.mixed import GpuSet, mixed_split

        gset = GpuSet(tuple(s.gpu for s in pl.mixed.cards))

        def short(n: int) -> int:
            split = mixed_split(q.model, q.precision, replace(q.work, batch=n), gset)
            return max(pl.margin_bytes - s.headroom_bytes for s in split.cards)

        f["fit_max_batch"] = largest_within(q.work.batch, max(q.work.batch, MAX_BATCH_SEARCHED),
                                            short, 0)
        return
    room = pl.available_bytes - pl.margin_bytes
    f["fit_max_batch"] = largest_within(
        q.work.batch, max(q.work.batch, MAX_BATCH_SEARCHED),
        lambda n: memory_total_bytes(q.model, q.precision, replace(q.work, batch=n), q.gpus,
                                     q.work.context_tokens, q.work.kv_cache_dtype, q.gpu), room)
