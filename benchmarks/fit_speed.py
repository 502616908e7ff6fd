"""Fit the current-build llama.cpp decode profile (constants.DECODE_PROFILES_CURRENT["nvidia"])
on benchmarks/data/llamacpp_decode_current.csv, and score it leaving one GPU out.

    PYTHONPATH=. python benchmarks/fit_speed.py

Fitted: layer_seconds, weights_per_s_unit, kv_elements_per_s_unit, by least squares on
log(predicted / measured) (coordinate descent over log-parameters); bandwidth_fraction stays
the H200's measured 0.885. Rows: decode with flash attention on (tgN, or ppN at -ub 1, which
decodes N tokens one at a time). Prints the fitted values, each row's error, and the
leave-one-GPU-out error (each GPU predicted by a fit that never saw it).
"""
from __future__ import annotations

import csv
import math
import statistics
import sys
from pathlib import Path

from advisor.kb import load_kb
from benchmarks.fitting import log_descent, patched
from advisor.sizing import constants as c
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload

DATA = Path(__file__).resolve().parent / "data" / "llamacpp_decode_current.csv"
FITTED = ("layer_seconds", "weights_per_s_unit", "kv_elements_per_s_unit")


def decode_rows(path: Path = DATA) -> list[dict]:
    """The decode rows (n_gen > 0) measured with flash attention on."""
    with path.open(encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh)
                if int(r["n_gen"]) > 0 and r["flash_attn"] == "1" and r["use"] == "fit"]


def mean_context(row: dict) -> int:
    return int(row["depth"]) + int(row["n_gen"]) // 2


def predict(kb, row: dict, era: str = "current") -> float:
    """Tokens a second, one sequence, at the run's mean context."""
    model, gpu = kb.model(row["model"]), kb.gpu(row["gpu"])
    prec = parse_precision("fp16" if row["quant"] == "F16" else row["quant"])
    ctx = mean_context(row)
    pl = place(model, gpu, prec, Workload(context_tokens=max(ctx, 512)), int(row["num_gpus"]),
               detail=False)
    return 1.0 / pl.decode_seconds_per_token(ctx, era)


def profile(values: dict):
    """The NVIDIA current-build decode profile with `values` for a block."""
    return patched(c.DECODE_PROFILES_CURRENT["nvidia"], values)


def loss(kb, rows, values) -> float:
    with profile(values):
        return sum(math.log(predict(kb, r) / float(r["tokens_per_sec"])) ** 2 for r in rows)


def fit(kb, rows, start: dict | None = None, rounds: int = 40) -> dict:
    """Coordinate descent on the log of each fitted value, halving the step when no move helps."""
    cur = {k: (start or c.DECODE_PROFILES_CURRENT["nvidia"])[k] for k in FITTED}
    return log_descent(lambda v: loss(kb, rows, v), cur, 0.5, rounds)


def main(argv: list[str]) -> int:
    kb = load_kb()
    rows = decode_rows()
    values = fit(kb, rows)
    print("fitted on", len(rows), "rows:",
          ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    with profile(values):
        for r in rows:
            p = predict(kb, r)
            print(f"  {r['gpu']:9} {r['model']:13} {r['quant']:7} {r['test']:22} measured "
                  f"{float(r['tokens_per_sec']):8.2f} predicted {p:8.2f} {p / float(r['tokens_per_sec']) - 1:+.1%}")
    errs = []
    for g in sorted({r["gpu"] for r in rows}):
        train = [r for r in rows if r["gpu"] != g]
        held = [r for r in rows if r["gpu"] == g]
        v = fit(kb, train)
        with profile(v):
            e = [abs(predict(kb, r) / float(r["tokens_per_sec"]) - 1) for r in held]
        errs += e
        print(f"leave out {g:9}: {len(held)} rows, median |error| {statistics.median(e):.1%}, "
              f"worst {max(e):.1%} (fit on {len(train)} rows)")
    print(f"leave-one-GPU-out over {len(errs)} rows: median {statistics.median(errs):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
