"""Facts about speed when the model fits: decode, prefill, time to first token, serving."""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.sizing.plan import Placement
from advisor.sizing.serving import serving_capacity
from advisor.sizing.speed import decode_roofline_tokens_per_s

FACTS: dict[str, tuple[str, str]] = {
    "decode_tokens_per_s": ("float", "decode speed of one sequence at an empty context (when it fits)"),
    "decode_tokens_per_s_full_context": ("float", "decode speed with the whole context cached"),
    "decode_roofline_tokens_per_s": ("float", "bandwidth / bytes read a token: the physical ceiling"),
    "prefill_tokens_per_s": ("float", "prompt processing speed at --prompt-tokens"),
    "time_to_first_token_s": ("float", "prefill of the prompt plus the first decode step"),
    "prompt_tokens": ("int", "prompt length for prefill and time to first token"),
    "serving_max_sequences": ("int", "concurrent sequences of the full context that fit"),
    "serving_total_tokens_per_s": ("float", "decode tokens/s over all of them at that batch"),
}
ALWAYS = {"prompt_tokens"}
TOGETHER = [{"decode_tokens_per_s", "decode_tokens_per_s_full_context", "decode_roofline_tokens_per_s"},
            {"prefill_tokens_per_s", "time_to_first_token_s"},
            {"serving_max_sequences", "serving_total_tokens_per_s"}]


def contribute(q: Question, pl: Placement, f: dict) -> None:
    f["prompt_tokens"] = q.work.prompt_tokens
    if pl.headroom_bytes < 0:
        return
    f["decode_tokens_per_s"] = round(pl.decode_tokens_per_s(), 2)
    f["decode_tokens_per_s_full_context"] = round(pl.decode_tokens_per_s(full_context=True), 2)
    if pl.mixed is not None:  # unequal cards: each card's layers at its own bandwidth
        from advisor.sizing.mixed import mixed_roofline_tokens_per_s

        f["decode_roofline_tokens_per_s"] = round(mixed_roofline_tokens_per_s(
            pl.mixed, pl.model, pl.precision), 2)
    elif pl.offload is not None:  # -ngl N: the GPU's layers at its bandwidth, the rest at RAM's
        f["decode_roofline_tokens_per_s"] = round(pl.offload.decode_roofline_tokens_per_s, 2)
    else:
        bw = pl.bandwidth_gb_s * (pl.split.tensor_parallel if pl.split else 1)
        f["decode_roofline_tokens_per_s"] = round(decode_roofline_tokens_per_s(
            pl.decode_bytes_per_token_empty, bw), 2)
    pp = pl.prefill_tokens_per_s()
    if pp is not None:
        f["prefill_tokens_per_s"] = round(pp, 1)
        f["time_to_first_token_s"] = round(pl.time_to_first_token_s(), 3)
    # serving over unequal cards is not sized (the sequences each card's KV share holds differ)
    cap = serving_capacity(pl) if pl.offload is None and pl.mixed is None else None
    if cap is not None:
        f["serving_max_sequences"] = cap.sequences
        f["serving_total_tokens_per_s"] = round(cap.total_tokens_per_s, 1)
