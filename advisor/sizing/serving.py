"""Serving: how many sequences of the full context fit at once, and their decode speed.

A decode step reads the weights once for the whole batch and each sequence's KV cache; it is
also bound by compute (2 FLOPs a parameter a sequence). Total tokens/s = batch / step time.
Under vLLM the step is advisor.sizing.vllm_speed's (fitted on published serving runs: MoE
experts touched at the batch, per-layer and all-reduce overheads); other runtimes keep the
bandwidth/compute estimate below. Every sequence holds half the context on average.
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
    tokens_per_s_per_sequence: float | None = None


def vllm_batch_speed(pl, batch: int) -> Serving:
    """vLLM decode of `batch` sequences at half the context each (advisor.sizing.vllm_speed):
    data-parallel replicas share the sequences evenly, each replica a tensor-parallel group."""
    from advisor.sizing.plan import vllm_group
    from advisor.sizing.vllm_speed import vllm_step
    a, w = pl.model.architecture, pl.work
    tp, pp, dp = vllm_group(pl.split)
    per_replica = max(1, -(-batch // dp))
    kv = kv_cache_bytes(a, max(w.context_tokens // 2, 1), 1, w.kv_cache_dtype)
    step = vllm_step(pl.gpu, a, pl.precision, per_replica, kv, tp, pp).seconds
    return Serving(batch, batch / step, 1.0 / step)


def serving_capacity(pl) -> Serving | None:
    """Sequences of work.context_tokens that fit beside the weights with the margin free, and
    their decode speed all together."""
    a, w = pl.model.architecture, pl.work
    per_seq = kv_cache_bytes(a, w.context_tokens, 1, w.kv_cache_dtype)
    free = pl.available_bytes - pl.margin_bytes - pl.weights_bytes - pl.overhead_bytes
    n = free // per_seq if per_seq else 0
    if n < 1:
        return None
    if w.runtime in ("vllm", "sglang"):  # SGLang: vLLM's step model, uncalibrated for it
        return vllm_batch_speed(pl, int(n))
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


def serving_at_batch(pl, batch: int) -> Serving | None:
    """Decode speed of `batch` sequences at once (--batch), a sequence and in all; None for a
    batch of 1 (single stream: decode_tokens_per_s) or a runtime without a batch model (only
    vLLM has one; llama.cpp's figures are its own)."""
    if batch <= 1 or pl.work.runtime not in ("vllm", "sglang") or pl.offload is not None:
        return None
    return vllm_batch_speed(pl, batch)
