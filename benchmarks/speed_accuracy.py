"""Predicted against published speed for every usable row of
../shared/reference/speed_benchmarks.csv (llama.cpp, XiongjieDai, May 2024): tgN (decode, mean
over N tokens from an empty cache) and ppN (prefill of N tokens), by GPU and test, with the
median and 90th percentile of |predicted / measured - 1|.

    PYTHONPATH=. python benchmarks/speed_accuracy.py [--rows]

Rows left out: the llama.cpp quantize README rows (no hardware stated). GPUs and models are read
from the KB by id; Llama 3 8B/70B share Llama 3.1's architecture.
"""
from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from advisor.kb import load_kb
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "speed_benchmarks.csv"
GPU = {"3070 8GB": "rtx-3070", "3080 Ti 12GB": "rtx-3080-ti", "3090 24GB": "rtx-3090",
       "4090 24GB": "rtx-4090", "RTX 4000 Ada 20GB": "rtx-4000-ada",
       "RTX A6000 48GB": "rtx-a6000", "A100 PCIe 80GB": "a100-pcie-80gb",
       "H100 PCIe 80GB": "h100-pcie-80gb", "M1 Max 32\u2011Core GPU 64GB": "m1-max-64gb",
       "M2 Ultra 76-Core GPU 192GB": "m2-ultra-192gb"}
MODEL = {"Meta-Llama-3-8B (LLaMA 3)": "llama-3.1-8b", "Meta-Llama-3-70B (LLaMA 3)": "llama-3.1-70b"}


def predict(kb, row) -> float:
    model, gpu = kb.model(MODEL[row["model"]]), kb.gpu(GPU[row["gpu"]])
    prec = parse_precision("fp16" if row["quant"] == "F16" else row["quant"])
    n = int(row["n_gen"]) or int(row["n_prompt"])
    pl = place(model, gpu, prec, Workload(context_tokens=n, prompt_tokens=n), int(row["num_gpus"]))
    if row["test"].startswith("tg"):
        return 1.0 / pl.decode_seconds_per_token(n // 2)  # mean context over the run
    from advisor.sizing.parallel import split_prefill_speedup
    from advisor.sizing.speed import prefill_seconds_per_token
    q = None if prec.family == "float" else pl.weights_bytes
    return split_prefill_speedup(pl.split, n) / prefill_seconds_per_token(gpu, model.architecture, prec, n, q)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main(argv: list[str]) -> int:
    kb = load_kb()
    errs = defaultdict(list)
    with REF.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["gpu"] not in GPU or row["model"] not in MODEL:
            continue
        pred, meas = predict(kb, row), float(row["tokens_per_sec"])
        e = pred / meas - 1
        kind = row["test"][:2]
        single = row["num_gpus"] == "1"
        errs[(kind, "all")].append(abs(e))
        errs[(kind, "single" if single else "multi")].append(abs(e))
        errs[(kind, GPU[row["gpu"]], row["test"])].append(abs(e))
        if "--rows" in argv:
            print(f"{GPU[row['gpu']]:15} x{row['num_gpus']} {row['model'][5:19]:14} {row['quant']:6} "
                  f"{row['test']:7} measured {meas:9.2f} predicted {pred:9.2f} error {e:+.1%}")
    print(f"{'gpu':15} {'test':7} {'rows':>4} {'median':>7} {'p90':>7}")
    for key in sorted(k for k in errs if len(k) == 3):
        v = errs[key]
        print(f"{key[1]:15} {key[2]:7} {len(v):4} {statistics.median(v):7.1%} {pct(v, .9):7.1%}")
    print()
    for kind in ("tg", "pp"):
        for scope in ("single", "multi", "all"):
            v = errs[(kind, scope)]
            print(f"{kind} {scope:6} rows {len(v):3}  median error {statistics.median(v):6.1%}  "
                  f"p90 {pct(v, .9):6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
