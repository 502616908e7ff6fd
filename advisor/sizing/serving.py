"""Serving: how many sequences of the full context fit at once, and their total decode speed.

A decode step reads the weights once for the whole batch and each sequence's KV cache; it is
also bound by compute (2 FLOPs a parameter a sequence). Total tokens/s = batch / step time.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.speed import active_compute_parameters, peak_tflops
from advisor.sizing import constants as c


@dataclass(frozen=True)
class Serving:
    sequences: int
    total_tokens_per_s: float


def serving_capacity(pl) -> Serving | None:
    """Sequences of work.context_tokens that fit beside the weights with the margin free."""
    a, w = pl.model.architecture, pl.work
    per_seq = kv_cache_bytes(a, w.context_tokens, 1, w.kv_cache_dtype)
    free = pl.available_bytes - pl.margin_bytes - pl.weights_bytes - pl.overhead_bytes
    n = free // per_seq if per_seq else 0
    if n < 1:
        return None
    # weights once a step (the empty-context step), plus every sequence's KV at half context
    weights_s = pl.decode_seconds_per_token(0)
    one_seq_kv = pl.decode_seconds_per_token(w.context_tokens // 2) - weights_s
    memory_s = weights_s + n * one_seq_kv
    peak = peak_tflops(pl.gpu, pl.precision, w.runtime)
    compute_s = 0.0
    if peak:
        prof = c.PREFILL_PROFILES.get(pl.gpu.vendor, c.PREFILL_PROFILES["intel"])
        gpus = pl.split.tensor_parallel if pl.split else 1
        compute_s = n * 2 * active_compute_parameters(a) / (prof["compute_fraction"] * peak * 1e12 * gpus)
    return Serving(int(n), n / max(memory_s, compute_s))
