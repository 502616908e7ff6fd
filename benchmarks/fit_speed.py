"""Fit the current-build llama.cpp decode and prefill profiles per vendor
(constants.DECODE_PROFILES_CURRENT, PREFILL_PROFILES_CURRENT) on published runs, and score them
leaving one GPU out.

    PYTHONPATH=. python benchmarks/fit_speed.py [nvidia|apple]

Data (the "fit" rows; "check" rows are scored by benchmarks/speed_accuracy.py, never fitted):
- nvidia: benchmarks/data/llamacpp_decode_current.csv. Decode fitted: layer_seconds,
  weights_per_s_unit, kv_elements_per_s_unit; bandwidth_fraction stays the H200's measured
  0.885. Rows: decode with flash attention on (tgN, or ppN at -ub 1, which decodes N tokens one
  at a time). Prefill fitted: mmq_gflops_per_lane (quantized weights, MMQ); the float path
  (compute_fraction, the 600 TFLOPS cap) stays the H200's. Rows: ppN from an empty cache with
  flash attention on or not stated (the maintainers' PR tables omit it; from an empty cache
  its share of a 512-token prompt is below the runs' spread, as the H200's pair with and
  without it shows).
- apple: benchmarks/data/llamacpp_apple_current.csv. Decode fitted: bandwidth_fraction (at most
  1), layer_seconds, weights_per_s_tflop; prefill: compute_fraction.

All by least squares on log(predicted / measured) (coordinate descent over log-parameters).
Prints the fitted values, each row's error, and the leave-one-GPU-out error (each GPU predicted
by a fit that never saw it).
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

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA = DATA_DIR / "llamacpp_decode_current.csv"
VENDOR_DATA = {"nvidia": DATA, "apple": DATA_DIR / "llamacpp_apple_current.csv"}
FITTED = ("layer_seconds", "weights_per_s_unit", "kv_elements_per_s_unit")
VENDOR_FITTED = {"nvidia": FITTED,
                 "apple": ("bandwidth_fraction", "layer_seconds", "weights_per_s_tflop")}
# Vendors whose prefill profile is fitted here, and its fitted values
PREFILL_FITTED = {"nvidia": ("mmq_gflops_per_lane",), "apple": ("compute_fraction",)}
# Vendors whose fitted prefill values reach quantized weights only (NVIDIA: MMQ; its float path,
# cuBLAS under the 600 TFLOPS cap, is the H200's F16 row's, so a float row is in-sample there)
PREFILL_QUANTIZED_ONLY = {"nvidia"}


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def decode_rows(path: Path = DATA) -> list[dict]:
    """The decode rows (n_gen > 0) measured with flash attention on, marked for fitting."""
    return [r for r in _read(path)
            if int(r["n_gen"]) > 0 and r["flash_attn"] == "1" and r["use"] == "fit"]


def prefill_fa_counts(row: dict) -> bool:
    """Whether a prompt-processing row stands for flash attention on (what advisories run):
    measured with it, or from an empty cache with the setting not stated (flash_attn empty)."""
    return row["flash_attn"] == "1" or (row["flash_attn"] == "" and int(row["depth"] or 0) == 0)


def prefill_rows(path: Path, vendor: str | None = None) -> list[dict]:
    """The prompt-processing rows (n_gen 0) that stand for flash attention on
    (prefill_fa_counts), marked for fitting; for a vendor of PREFILL_QUANTIZED_ONLY, its rows of
    quantized weights only."""
    float_too = vendor not in PREFILL_QUANTIZED_ONLY
    return [r for r in _read(path)
            if int(r["n_gen"]) == 0 and prefill_fa_counts(r) and r["use"] == "fit"
            and (float_too or r["quant"] not in ("F16", "BF16", "F32"))]


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


def predict_prefill(kb, row: dict, era: str = "current") -> float:
    """Prompt tokens a second of a ppN row (benchmarks.speed_accuracy.predict)."""
    from benchmarks.speed_accuracy import predict as acc_predict

    return acc_predict(kb, row, era)


def profile(values: dict, vendor: str = "nvidia"):
    """The vendor's current-build decode profile with `values` for a block."""
    return patched(c.DECODE_PROFILES_CURRENT[vendor], values)


def prefill_profile(values: dict, vendor: str):
    """The vendor's current-build prefill profile with `values` for a block."""
    return patched(c.PREFILL_PROFILES_CURRENT[vendor], values)


def _clamp(k: str, v: float) -> float:
    return min(v, 1.0) if k in ("bandwidth_fraction", "compute_fraction") else v


def loss(kb, rows, values, vendor: str = "nvidia") -> float:
    with profile(values, vendor):
        return sum(math.log(predict(kb, r) / float(r["tokens_per_sec"])) ** 2 for r in rows)


def fit(kb, rows, start: dict | None = None, rounds: int = 40, vendor: str = "nvidia") -> dict:
    """Coordinate descent on the log of each fitted value, halving the step when no move helps."""
    cur = {k: (start or c.DECODE_PROFILES_CURRENT[vendor])[k] for k in VENDOR_FITTED[vendor]}
    return log_descent(lambda v: loss(kb, rows, v, vendor), cur, 0.5, rounds, _clamp)


def fit_prefill(kb, rows, vendor: str, rounds: int = 40) -> dict:
    """The prefill values of PREFILL_FITTED[vendor] that minimise the log error over rows."""
    def lossp(values):
        with prefill_profile(values, vendor):
            return sum(math.log(predict_prefill(kb, r) / float(r["tokens_per_sec"])) ** 2
                       for r in rows)
    start = {k: c.PREFILL_PROFILES_CURRENT[vendor][k] for k in PREFILL_FITTED[vendor]}
    return log_descent(lossp, start, 0.5, rounds, _clamp)


def leave_one_gpu_out(kb, vendor: str, kind: str = "decode") -> list[tuple[dict, float]]:
    """(row, predicted / measured - 1) for each fit row of the vendor, predicted by a fit that
    never saw its GPU; none where the rows are on one GPU (nothing left to fit on)."""
    path = VENDOR_DATA[vendor]
    rows = decode_rows(path) if kind == "decode" else prefill_rows(path, vendor)
    gpus = sorted({r["gpu"] for r in rows})
    out = []
    if len(gpus) < 2:
        return out
    for g in gpus:
        train = [r for r in rows if r["gpu"] != g]
        if kind == "decode":
            with profile(fit(kb, train, vendor=vendor), vendor):
                out += [(r, predict(kb, r) / float(r["tokens_per_sec"]) - 1)
                        for r in rows if r["gpu"] == g]
        else:
            with prefill_profile(fit_prefill(kb, train, vendor), vendor):
                out += [(r, predict_prefill(kb, r) / float(r["tokens_per_sec"]) - 1)
                        for r in rows if r["gpu"] == g]
    return out


def _print_rows(kb, rows, predict_fn) -> None:
    """Each row's measured and predicted tokens/s, and the error."""
    for r in rows:
        p = predict_fn(kb, r)
        print(f"  {r['gpu']:15} {r['model']:14} {r['quant']:7} {r['test']:22} measured "
              f"{float(r['tokens_per_sec']):8.2f} predicted {p:8.2f} "
              f"{p / float(r['tokens_per_sec']) - 1:+.1%}")


def report(kb, vendor: str) -> None:
    rows = decode_rows(VENDOR_DATA[vendor])
    values = fit(kb, rows, vendor=vendor)
    print(f"{vendor} decode, fitted on", len(rows), "rows:",
          ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    with profile(values, vendor):
        _print_rows(kb, rows, predict)
    _print_held(leave_one_gpu_out(kb, vendor))
    if vendor not in PREFILL_FITTED:
        return
    prow = prefill_rows(VENDOR_DATA[vendor], vendor)
    pv = fit_prefill(kb, prow, vendor)
    print(f"{vendor} prefill, fitted on", len(prow), "rows:",
          ", ".join(f"{k} {v:.4g}" for k, v in pv.items()))
    with prefill_profile(pv, vendor):
        _print_rows(kb, prow, predict_prefill)
    _print_held(leave_one_gpu_out(kb, vendor, "prefill"))


def _print_held(held: list[tuple[dict, float]]) -> None:
    """Each held-out GPU's rows, then all of them: median, 90th percentile, worst |error|."""
    from benchmarks.speed_accuracy import pct

    for g in sorted({r["gpu"] for r, _ in held}):
        e = [abs(x) for r, x in held if r["gpu"] == g]
        print(f"  leave out {g:15}: {len(e)} rows, median |error| {statistics.median(e):.1%}, "
              f"worst {max(e):.1%}")
    if held:
        e = [abs(x) for _, x in held]
        print(f"  leave-one-GPU-out over {len(e)} rows: median {statistics.median(e):.1%}, "
              f"p90 {pct(e, .9):.1%}, worst {max(e):.1%}")


def main(argv: list[str]) -> int:
    kb = load_kb()
    vendors = [v for v in argv if v in VENDOR_DATA] or list(VENDOR_DATA)
    for v in vendors:
        report(kb, v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
