"""Fit constants.VLLM_DECODE_PROFILE on benchmarks/data/vllm_serving.csv.

Each row is a published serving run: a model at a precision on N GPUs (tensor parallel), a
concurrency C, input and output lengths where stated, and the tokens/s a user (1000 / mean
TPOT) and/or in all (output tokens over the run). predict() gives the same figure from
advisor.sizing.vllm_speed: the decode step of C sequences at their mean context (input plus
half the output), plus the prefill the run interleaves with decode: each sequence's I prompt
tokens once every O output tokens: the run's total output counts all C sequences' prompts, C x
I / O prompt tokens a step, a user's time a token (TPOT, after the first token) the other C - 1
sequences' (advisor.sizing.speed.prefill_seconds_per_token at the prefill rate, split over the
tensor-parallel GPUs). Rows with fit=no are scored, not fitted.

    PYTHONPATH=. python benchmarks/fit_vllm.py          # prints the fitted profile

The fit minimises the sum of |log(predicted / measured)| (the median error is what the issue
asks; a few rows of old builds sit far off) by coordinate descent over five bounded parameters.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from advisor.kb import load_kb
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.precision import parse_precision
from advisor.sizing.speed import prefill_seconds_per_token
from advisor.sizing.vllm_memory import vllm_tensor_parallel_size
from advisor.sizing.vllm_speed import vllm_step

DATA = Path(__file__).resolve().parent / "data" / "vllm_serving.csv"
# compute_fraction is not fitted: no row is compute-bound (it is the prefill profile's share)
PARAMS = ("bandwidth_fraction", "moe_bandwidth_fraction", "layer_seconds", "moe_layer_seconds",
          "step_seconds", "allreduce_hop_latency_s")
BOUNDS = {"bandwidth_fraction": (0.5, 0.95), "moe_bandwidth_fraction": (0.1, 1.0),
          "layer_seconds": (0.0, 400e-6), "moe_layer_seconds": (0.0, 1e-3),
          "step_seconds": (0.0, 20e-3), "compute_fraction": (0.1, 0.9),
          "allreduce_hop_latency_s": (0.5e-6, 30e-6)}


def rows(path: Path = DATA) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def measured(row: dict) -> tuple[str, float]:
    """('total', tokens/s in all) for a run of several sequences that gives it, else
    ('per_user', tokens/s a sequence)."""
    c_ = int(row["concurrency"])
    if row["total_tok_s"] and (c_ > 1 or not row["per_user_tok_s"]):
        return "total", float(row["total_tok_s"])
    return "per_user", float(row["per_user_tok_s"])


def predict(kb, row: dict, profile: dict | None = None) -> float:
    """The row's measured quantity (measured(row)[0]) as the profile predicts it."""
    m = kb.model(row["model"])
    g = kb.gpu(row["gpu"])
    a = m.architecture
    p = parse_precision(row["precision"])
    gpus = int(row["gpus"])
    tp = vllm_tensor_parallel_size(a, gpus) if gpus > 1 else 1
    pp = gpus // tp
    conc = int(row["concurrency"])
    i = int(row["input_tokens"]) if row["input_tokens"] else 0
    o = int(row["output_tokens"]) if row["output_tokens"] else 0
    ctx = i + o // 2
    kv = kv_cache_bytes(a, max(ctx, 1), 1, "fp16")
    step = vllm_step(g, a, p, conc, kv, tp, pp, profile).seconds
    kind, _ = measured(row)
    others = conc if kind == "total" else conc - 1
    if i and o and others:
        pf = prefill_seconds_per_token(g, a, p, i, None, "vllm")
        if pf:
            step += others * i / o * pf / gpus
    return conc / step if kind == "total" else 1.0 / step


def loss(kb, data: list[dict], profile: dict) -> float:
    """Sum of |log(predicted / measured)| over the rows."""
    return sum(abs(math.log(predict(kb, r, profile) / measured(r)[1])) for r in data)


def fit(kb, data: list[dict], rounds: int = 30) -> dict:
    """The profile minimising loss() on the rows marked fit=yes of `data`: coordinate descent,
    each parameter moved by a factor (halved when no move helps) inside BOUNDS."""
    use = [r for r in data if r["fit"] == "yes"]
    best = dict(c.VLLM_DECODE_PROFILE)
    best_loss = loss(kb, use, best)
    step = {k: 0.5 for k in PARAMS}
    for _ in range(rounds):
        moved = False
        for k in PARAMS:
            lo, hi = BOUNDS[k]
            for f in (1 + step[k], 1 / (1 + step[k])):
                v = best[k] * f if best[k] else (hi - lo) * 0.01
                v = min(max(v, lo), hi)
                trial = dict(best, **{k: v})
                t = loss(kb, use, trial)
                if t < best_loss - 1e-12:
                    best, best_loss, moved = trial, t, True
                    break
            else:
                step[k] /= 2
        if not moved and max(step.values()) < 1e-3:
            break
    return best


def main() -> None:
    kb = load_kb()
    p = fit(kb, rows())
    for k in PARAMS:
        v = p[k]
        print(f"{k}: {v * 1e6:.1f} us" if k.endswith(("seconds", "_s")) else f"{k}: {v:.3f}")


if __name__ == "__main__":
    main()
