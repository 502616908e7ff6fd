"""Fit llama.cpp's CPU share of partial offload (constants.CPU_BANDWIDTH_FRACTION and
CPU_LAYER_SECONDS) on benchmarks/data/llamacpp_offload_decode.csv, and score the fit leaving one
setup out.

    PYTHONPATH=. python benchmarks/fit_offload_speed.py

Rows: published single-stream llama.cpp decode with part of the model in system RAM, either
whole layers (-ngl N: advisor.sizing.offload.offload_decode_seconds) or the routed experts of the
first blocks (--n-cpu-moe N: expert_offload_decode_seconds), each with the host's RAM bandwidth
and how it was derived, its source and date. The GPU's share is timed with the fitted current
decode profile (benchmarks/fit_speed.py, fit_moe_speed.py) and left as it is; only the CPU terms
are fitted here, by least squares on log(predicted / measured), coordinate descent over the log
of each value as fit_moe_speed.py does (CPU_LAYER_SECONDS may stay at its floor: the data then
do not ask for a per-layer CPU cost).

Prints each row's error with the current constants and with the fit, their median and 90th
percentile, and the leave-one-setup-out error (each host predicted by a fit without its rows).
"""
from __future__ import annotations

import csv
import math
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

from advisor.kb import load_kb
from benchmarks.fitting import log_descent
from advisor.sizing import constants as c
from advisor.sizing.offload import (
    expert_offload_decode_seconds,
    llamacpp_cpu_moe_layers,
    offload_decode_seconds,
)
from advisor.sizing.precision import parse_precision
from advisor.sizing.speed import active_weight_bytes
from advisor.sizing.weights import weight_summary

DATA = Path(__file__).resolve().parent / "data" / "llamacpp_offload_decode.csv"
FITTED = ("CPU_BANDWIDTH_FRACTION", "CPU_LAYER_SECONDS")
FLOOR = {"CPU_BANDWIDTH_FRACTION": 0.05, "CPU_LAYER_SECONDS": 1e-7}
CEILING = {"CPU_BANDWIDTH_FRACTION": 1.0, "CPU_LAYER_SECONDS": 1e-2}


def offload_rows(path: Path = DATA) -> list[dict]:
    """The CSV's rows, as read (strings)."""
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def predict(kb, row: dict) -> float:
    """Tokens a second for a row with the constants as they are now: -ngl rows by
    offload_decode_seconds at the row's mean context, --n-cpu-moe rows by
    expert_offload_decode_seconds (llama.cpp's N read as block indices)."""
    model, gpu = kb.model(row["model"]), kb.gpu(row["gpu"])
    prec = parse_precision(row["quant"])
    bw = float(row["ram_bandwidth_gb_s"])
    if row["offload"] == "ngl":
        return 1.0 / offload_decode_seconds(model, gpu, prec, "fp16", int(row["gpu_layers"]),
                                            int(row["mean_context"]), bw)
    if row["offload"] == "n_cpu_moe":
        n = llamacpp_cpu_moe_layers(model, int(row["n_cpu_moe"]))
        return 1.0 / expert_offload_decode_seconds(model, gpu, prec, n, bw)
    raise ValueError(f"unknown offload kind {row['offload']!r}")


def roofline(kb, row: dict) -> float:
    """Tokens a second if the GPU read its share of the row's active weights at its full
    bandwidth and the CPU its share at the full RAM bandwidth, with no per-layer cost (KV cache
    left out): no prediction may exceed it."""
    model, gpu = kb.model(row["model"]), kb.gpu(row["gpu"])
    a, prec = model.architecture, parse_precision(row["quant"])
    if row["offload"] == "ngl":
        act_layers, act_out = active_weight_bytes(a, prec)
        layer = act_layers // a.layers
        on_gpu = int(row["gpu_layers"])
        gpu_bytes, cpu_bytes = on_gpu * layer, (a.layers - on_gpu) * layer + act_out
    else:
        w = weight_summary(a, prec)
        moe = [i for i in range(a.layers) if w.experts_per_layer[i]]
        n = llamacpp_cpu_moe_layers(model, int(row["n_cpu_moe"]))
        share = a.experts_active / a.experts_total
        cpu_experts = sum(w.experts_per_layer[i] for i in moe[:n])
        cpu_bytes = int(share * cpu_experts)
        gpu_bytes = (sum(w.dense_per_layer) + w.output
                     + int(share * (sum(w.experts_per_layer) - cpu_experts)))
    return 1.0 / (gpu_bytes / (gpu.bandwidth_gb_s * 1e9)
                  + cpu_bytes / (float(row["ram_bandwidth_gb_s"]) * 1e9))


def error(kb, row: dict) -> float:
    """predicted / measured - 1."""
    return predict(kb, row) / float(row["tokens_per_sec"]) - 1


@contextmanager
def constants(values: dict):
    """Set constants.<name> for the block, then restore them."""
    old = {k: getattr(c, k) for k in values}
    for k, v in values.items():
        setattr(c, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(c, k, v)


def loss(kb, rows, values) -> float:
    with constants(values):
        return sum(math.log(predict(kb, r) / float(r["tokens_per_sec"])) ** 2 for r in rows)


def fit(kb, rows, keys=FITTED, rounds: int = 80) -> dict:
    """Coordinate descent on the log of each fitted value, halving the step when no move
    helps; each value kept within its FLOOR and CEILING (a fraction above 1 is not physical)."""
    cur = {k: min(CEILING[k], max(FLOOR[k], getattr(c, k))) for k in keys}
    return log_descent(lambda v: loss(kb, rows, v), cur, 1.0, rounds,
                       lambda k, v: min(CEILING[k], max(FLOOR[k], v)))


def leave_one_setup_out(kb, rows, keys=FITTED) -> list[tuple[dict, float]]:
    """(row, predicted / measured - 1) of each row, predicted by a fit that never saw its setup
    (its host: GPU, CPU and RAM together)."""
    out = []
    for s in sorted({r["setup"] for r in rows}):
        with constants(fit(kb, [r for r in rows if r["setup"] != s], keys)):
            out += [(r, error(kb, r)) for r in rows if r["setup"] == s]
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def summary(label: str, errs: list[float]) -> str:
    a = [abs(e) for e in errs]
    return f"{label}: median |error| {statistics.median(a):.1%}, p90 {pct(a, .9):.1%}, worst {max(a):.1%}"


def leave_one_row_out(kb, rows, keys=FITTED) -> list[float]:
    """predicted / measured - 1 of each row, by a fit without that row."""
    out = []
    for i, r in enumerate(rows):
        with constants(fit(kb, rows[:i] + rows[i + 1:], keys)):
            out.append(error(kb, r))
    return out


VARIANTS = ((("CPU_LAYER_SECONDS",), "layer cost alone (fraction kept)"),
            (("CPU_BANDWIDTH_FRACTION",), "fraction alone (no layer cost)"),
            (FITTED, "both"))


def main(argv: list[str]) -> int:
    kb = load_kb()
    rows = offload_rows()
    print(f"{len(rows)} rows on {len({r['setup'] for r in rows})} setups; constants now: "
          f"CPU_BANDWIDTH_FRACTION {c.CPU_BANDWIDTH_FRACTION:g}, "
          f"CPU_LAYER_SECONDS {c.CPU_LAYER_SECONDS * 1e6:g} us")
    now = [error(kb, r) for r in rows]
    fits = {}
    cols = [now]
    for keys, label in VARIANTS:
        base = {"CPU_BANDWIDTH_FRACTION": c.CPU_BANDWIDTH_FRACTION, "CPU_LAYER_SECONDS": 0.0}
        with constants({k: v for k, v in base.items() if k not in keys}):
            fits[label] = dict(base, **fit(kb, rows, keys))
        with constants(fits[label]):
            cols.append([error(kb, r) for r in rows])
        print(f"{label}: fraction {fits[label]['CPU_BANDWIDTH_FRACTION']:.3f}, "
              f"layer {fits[label]['CPU_LAYER_SECONDS'] * 1e6:.0f} us")
    print(f"{'setup':21} {'model':28} {'offload':13} {'meas':>6} {'roof':>6} {'now':>7} "
          f"{'layer':>7} {'frac':>7} {'both':>7}")
    for i, r in enumerate(rows):
        off = f"{r['offload']} {r['gpu_layers'] or r['n_cpu_moe']}"
        print(f"{r['setup']:21} {r['model']:28} {off:13} {float(r['tokens_per_sec']):6.1f} "
              f"{roofline(kb, r):6.1f} " + " ".join(f"{col[i]:+7.1%}" for col in cols))
    print(summary("constants now, in-sample", now))
    for (keys, label), col in zip(VARIANTS, cols[1:]):
        base = {k: v for k, v in fits[label].items() if k not in keys}
        print(summary(f"{label}, in-sample", col))
        with constants(base):
            print(summary(f"{label}, leave-one-row-out", leave_one_row_out(kb, rows, keys)))
            print(summary(f"{label}, leave-one-setup-out",
                          [e for _, e in leave_one_setup_out(kb, rows, keys)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
