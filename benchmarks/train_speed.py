"""Fit the training-time model (advisor/sizing/train_time.py) on the published fine-tuning runs
in benchmarks/data/finetune_speed.csv, and print each row's error.

    PYTHONPATH=. python benchmarks/train_speed.py

Fitted: FT_TRAIN_UTILIZATION (full; lora, which QLoRA shares), FT_QLORA_DEQUANT_BYTES_PER_WEIGHT
and FT_MICRO_STEP_OVERHEAD_S, by least squares on log(predicted / measured) (coordinate descent
over log-parameters), once for each attention convention (FT_ATTENTION_CAUSAL_SHARE 0.5 and 1.0).
Rows marked other than `fit` in the CSV are shown and left out; so is a row whose measured speed
needs more than CREDIBLE of the card's dense BF16 peak on the FLOPs it executes (no framework
runs a whole training step that close to peak). Prints the fit, each row's error, the median
and p90, leave-one-row-out and leave-one-source-out (each row predicted by a fit that never
saw its row, or its whole source).
"""
from __future__ import annotations

import csv
import math
import statistics
import sys
from functools import cache
from pathlib import Path

from advisor.kb import load_kb
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.finetune import FinetuneSpec, parse_lora_targets
from advisor.sizing.train_time import (
    architecture_flops,
    micro_step_seconds,
    nf4_compute_weights,
    tensor_tflops,
)

DATA = Path(__file__).resolve().parent / "data" / "finetune_speed.csv"
CREDIBLE = 0.8
NAMES = ("full", "lora", "dequant", "overhead")


def load_rows(path: Path = DATA) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def _kb():
    return load_kb()


def architecture(row: dict) -> Architecture:
    if row["model_kb"]:
        return _kb().model(row["model_kb"]).architecture
    layers, hidden, heads = int(row["layers"]), int(row["hidden"]), int(row["heads"])
    return Architecture(layers=layers, hidden_size=hidden, attention_heads=heads, kv_heads=heads,
                        head_dim=hidden // heads, ffn_size=int(row["ffn"]),
                        vocab_size=int(row["vocab"]), tied_embeddings=False, max_context=1 << 20,
                        qkv_bias=True)


def spec(row: dict) -> FinetuneSpec:
    kw = {"method": row["method"], "seq_len": int(row["seq_len"]),
          "micro_batch": int(row["micro_batch"]),
          "gradient_checkpointing": row["gradient_checkpointing"] == "true"}
    if row["method"] != "full":
        kw["lora_rank"] = int(row["lora_rank"])
        kw["lora_targets"] = parse_lora_targets(row["lora_targets"])
    return FinetuneSpec(**kw)


def measured_tokens_per_s(row: dict) -> float:
    """All GPUs together."""
    v, unit = float(row["measured"]), row["unit"]
    if unit == "tokens_per_s":
        return v
    if unit == "tokens_per_s_per_gpu":
        return v * int(row["gpus"])
    if unit == "seconds_per_step":
        return int(row["step_tokens"]) / v
    raise ValueError(f"unknown unit {unit!r}")


_STATIC: dict = {}


def _static(row: dict, share: float) -> tuple:
    """What a prediction needs from the row that no fitted parameter changes (computed once)."""
    key = (id(row), share)
    if key not in _STATIC:
        a, s = architecture(row), spec(row)
        gpu = _kb().gpu(row["gpu"])
        _STATIC[key] = (architecture_flops(a, s, share), s, gpu,
                        nf4_compute_weights(a) if s.method == "qlora" else 0)
    return _STATIC[key]


def predict(row: dict, params: dict, share: float) -> float:
    """Tokens/s over the row's GPUs, by advisor.sizing.train_time.micro_step_seconds."""
    flops, s, gpu, nf4 = _static(row, share)
    tokens = s.seq_len * s.micro_batch
    util = params["full" if s.method == "full" else "lora"]
    sec = micro_step_seconds(flops, tokens, tensor_tflops(gpu), util, nf4, gpu.bandwidth_gb_s,
                             params["dequant"], s.gradient_checkpointing, params["overhead"])
    return int(row["gpus"]) * tokens / sec


def implied_utilization(row: dict, share: float) -> float:
    """Executed FLOPs a second a GPU over the card's peak, at the measured speed."""
    flops, _, gpu, _ = _static(row, share)
    per_gpu = measured_tokens_per_s(row) / int(row["gpus"])
    return flops.total * per_gpu / (tensor_tflops(gpu) * 1e12)


def log_error(row: dict, params: dict, share: float) -> float:
    return math.log(predict(row, params, share) / measured_tokens_per_s(row))


def fit(rows: list[dict], share: float, start: dict | None = None) -> dict:
    """Coordinate descent on log-parameters, least squares of log errors."""
    p = dict(start or {"full": 0.4, "lora": 0.4, "dequant": 10.0, "overhead": 0.05})
    used = {"full": any(r["method"] == "full" for r in rows),
            "lora": any(r["method"] != "full" for r in rows),
            "dequant": any(r["method"] == "qlora" for r in rows), "overhead": True}

    def loss(q):
        return sum(log_error(r, q, share) ** 2 for r in rows)

    best = loss(p)
    step = 0.5
    while step > 1e-3:
        moved = False
        for name in NAMES:
            if not used[name]:
                continue
            for f in (math.exp(step), math.exp(-step)):
                q = dict(p)
                q[name] = p[name] * f
                if name in ("full", "lora") and q[name] > 1:
                    continue
                v = loss(q)
                if v < best - 1e-12:
                    p, best, moved = q, v, True
        if not moved:
            step /= 2
    return p


def pct(x: float) -> float:
    return 100 * (math.exp(x) - 1)


def summary(errs: list[float]) -> str:
    a = sorted(abs(pct(e)) for e in errs)
    p90 = a[min(len(a) - 1, math.ceil(0.9 * len(a)) - 1)]
    return f"median {statistics.median(a):.0f}%, p90 {p90:.0f}% over {len(a)} rows"


def main() -> int:
    rows = load_rows()
    for share in (0.5, 1.0):
        usable, left = [], []
        for r in rows:
            u = implied_utilization(r, share)
            if r["use"] != "fit":
                left.append((r, r["use"]))
            elif u > CREDIBLE:
                why = (f"excluded: needs {u:.0%} of the card's BF16 peak on the FLOPs it "
                       f"executes (above {CREDIBLE:.0%}, not credible)")
                left.append((r, why))
            else:
                usable.append(r)
        p = fit(usable, share)
        print(f"== attention causal share {share} ==")
        print("fit: " + ", ".join(f"{k} {v:.4g}" for k, v in p.items()))
        print(f"in-sample: {summary([log_error(r, p, share) for r in usable])}")
        for m in ("full", "lora", "qlora"):
            errs = [log_error(r, p, share) for r in usable if r["method"] == m]
            if errs:
                print(f"  {m}: {summary(errs)}")
        loo = [log_error(r, fit([x for x in usable if x is not r], share, p), share)
               for r in usable]
        print(f"leave-one-row-out: {summary(loo)}")
        sources = sorted({r["source"] for r in usable})
        loso = []
        for src in sources:
            q = fit([x for x in usable if x["source"] != src], share, p)
            errs = [log_error(r, q, share) for r in usable if r["source"] == src]
            loso += errs
            print(f"  leave out {src}: {summary(errs)}")
        print(f"leave-one-source-out: {summary(loso)}")
        print(f"{'source':<15}{'model':<15}{'method':<6}{'gpus':>5} {'gpu':<10}{'seq':>7}"
              f"{'measured':>10}{'ours':>10}{'err':>7}{'util':>6}")
        for r in usable:
            m, pr = measured_tokens_per_s(r), predict(r, p, share)
            print(f"{r['source']:<15}{r['model'][:14]:<15}{r['method']:<6}{r['gpus']:>5} "
                  f"{r['gpu']:<10}{r['seq_len']:>7}{m:>10.0f}{pr:>10.0f}"
                  f"{pct(math.log(pr / m)):>6.0f}%{implied_utilization(r, share):>6.2f}")
        for r, why in left:
            print(f"left out: {r['source']} {r['model']} {r['method']} {r['gpus']} x {r['gpu']} "
                  f"at {r['seq_len']}: {measured_tokens_per_s(r):.0f} tok/s ({why})")
        print()
    print("constants now: " + ", ".join(f"{k} {v}" for k, v in (
        ("FT_TRAIN_UTILIZATION", c.FT_TRAIN_UTILIZATION),
        ("FT_QLORA_DEQUANT_BYTES_PER_WEIGHT", c.FT_QLORA_DEQUANT_BYTES_PER_WEIGHT),
        ("FT_MICRO_STEP_OVERHEAD_S", c.FT_MICRO_STEP_OVERHEAD_S),
        ("FT_ATTENTION_CAUSAL_SHARE", c.FT_ATTENTION_CAUSAL_SHARE))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
