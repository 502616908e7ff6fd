"""Predicted against measured speed, by llama.cpp build era:
- May 2024: every usable row of ../shared/reference/speed_benchmarks.csv (XiongjieDai, llama.cpp
  of May 2024, no flash attention), predicted with the "2024-05" decode profile they were
  fitted on: tgN (decode, mean over N tokens from an empty cache) and ppN (prefill of N tokens);
- current: benchmarks/data/*.csv (each row with its source, date and build: the H200 rows the
  project measured with llama.cpp 0c1e570, rows llama.cpp's maintainers published in 2025 PRs),
  predicted with the current profile the advisories use.
- MoE decode: benchmarks/data/llamacpp_moe_decode.csv (published llama.cpp MoE runs), each row
  with its build era's profile (current, or 2025-01 for January 2025 builds; those also scored
  with the current profile, to show what a build change does).
Prints by GPU and test, then per category the median and 90th percentile of
|predicted / measured - 1|, and the leave-one-GPU-out figures of the current decode fit
(benchmarks/fit_speed.py) and of the MoE fit (benchmarks/fit_moe_speed.py): each GPU predicted
by a fit that never saw it.

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
DATA = Path(__file__).resolve().parent / "data"
GPU = {"3070 8GB": "rtx-3070", "3080 Ti 12GB": "rtx-3080-ti", "3090 24GB": "rtx-3090",
       "4090 24GB": "rtx-4090", "RTX 4000 Ada 20GB": "rtx-4000-ada",
       "RTX A6000 48GB": "rtx-a6000", "A100 PCIe 80GB": "a100-pcie-80gb",
       "H100 PCIe 80GB": "h100-pcie-80gb", "M1 Max 32\u2011Core GPU 64GB": "m1-max-64gb",
       "M2 Ultra 76-Core GPU 192GB": "m2-ultra-192gb"}
MODEL = {"Meta-Llama-3-8B (LLaMA 3)": "llama-3.1-8b", "Meta-Llama-3-70B (LLaMA 3)": "llama-3.1-70b"}


def predict(kb, row, era: str = "2024-05") -> float:
    """Tokens a second for a row: GPU and model given as the reference's names (May 2024 rows)
    or as KB ids (benchmarks/data rows, with a depth: tokens already cached)."""
    model = kb.model(MODEL.get(row["model"], row["model"]))
    gpu = kb.gpu(GPU.get(row["gpu"], row["gpu"]))
    prec = parse_precision("fp16" if row["quant"] == "F16" else row["quant"])
    n = int(row["n_gen"]) or int(row["n_prompt"])
    depth = int(row.get("depth") or 0)
    pl = place(model, gpu, prec, Workload(context_tokens=max(n + depth, 512), prompt_tokens=n),
               int(row["num_gpus"]))
    if int(row["n_gen"]):
        return 1.0 / pl.decode_seconds_per_token(depth + n // 2, era)  # mean context over the run
    from advisor.sizing.parallel import split_prefill_speedup
    from advisor.sizing.speed import prefill_seconds_per_token
    q = None if prec.family == "float" else pl.weights_bytes
    return split_prefill_speedup(pl.split, n) / prefill_seconds_per_token(
        gpu, model.architecture, prec, n, q, "llama.cpp", era)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


MOE_FILE = "llamacpp_moe_decode.csv"  # scored in its own category (benchmarks/fit_moe_speed.py)


def current_rows() -> list[dict]:
    """The dense rows of benchmarks/data (every CSV but the MoE one)."""
    rows = []
    for path in sorted(p for p in DATA.glob("*.csv") if p.name != MOE_FILE):
        with path.open(encoding="utf-8") as fh:
            rows += [dict(r, file=path.name) for r in csv.DictReader(fh)]
    return rows


def summary(label: str, v: list[float]) -> str:
    if not v:
        return f"{label:44} rows   0"
    return (f"{label:44} rows {len(v):3}  median error {statistics.median(v):6.1%}  "
            f"p90 {pct(v, .9):6.1%}")


def main(argv: list[str]) -> int:
    kb = load_kb()
    errs = defaultdict(list)
    cats = defaultdict(list)
    with REF.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["gpu"] not in GPU or row["model"] not in MODEL:
            continue
        pred, meas = predict(kb, row), float(row["tokens_per_sec"])
        e = pred / meas - 1
        kind = row["test"][:2]
        single = row["num_gpus"] == "1"
        cats[f"May 2024 {'decode' if kind == 'tg' else 'prefill'} "
             f"{'single GPU' if single else 'multi-GPU'} (2024-05 profile)"].append(abs(e))
        errs[(kind, GPU[row["gpu"]], row["test"])].append(abs(e))
        if kind == "tg" and single:
            now = predict(kb, row, "current") / meas - 1
            cats["May 2024 decode single GPU (current profile)"].append(abs(now))
        if "--rows" in argv:
            print(f"{GPU[row['gpu']]:15} x{row['num_gpus']} {row['model'][5:19]:14} {row['quant']:6} "
                  f"{row['test']:7} measured {meas:9.2f} predicted {pred:9.2f} error {e:+.1%}")
    for row in current_rows():
        meas = float(row["tokens_per_sec"])
        pred = predict(kb, row, "current")
        e = pred / meas - 1
        decode = int(row["n_gen"]) > 0
        fa = "" if row["flash_attn"] == "1" else ", -fa 0"
        cats[f"current {'decode' if decode else 'prefill'} ({row['build_date'][:4]} builds{fa})"].append(abs(e))
        errs[("tg" if decode else "pp", row["gpu"], row["test"][:12])].append(abs(e))
        if "--rows" in argv:
            print(f"{row['gpu']:15} x{row['num_gpus']} {row['model']:14} {row['quant']:6} "
                  f"{row['test']:22} build {row['build'][:22]:22} measured {meas:9.2f} "
                  f"predicted {pred:9.2f} error {e:+.1%}")
    from benchmarks import fit_moe_speed as moe

    for row in moe.moe_rows():
        era = moe.row_era(row)
        e = moe.error(kb, row)
        label = "current" if era == "current" else "January 2025 builds, 2025-01 profile"
        cats[f"MoE decode ({label})"].append(abs(e))
        if era != "current":
            cats["MoE decode (January 2025 builds, current profile)"].append(
                abs(moe.error(kb, row, "current")))
        errs[("tg", row["gpu"], "MoE " + row["test"][:8])].append(abs(e))
        if "--rows" in argv:
            print(f"{row['gpu']:15} x{row['num_gpus']} {row['model']:14} {row['quant']:6} "
                  f"{row['test']:22} build {row['build'][:22]:22} measured "
                  f"{float(row['tokens_per_sec']):9.2f} predicted "
                  f"{(1 + e) * float(row['tokens_per_sec']):9.2f} error {e:+.1%} ({era} profile)")
    print(f"{'gpu':15} {'test':12} {'rows':>4} {'median':>7} {'p90':>7}")
    for key in sorted(errs):
        v = errs[key]
        print(f"{key[1]:15} {key[2]:12} {len(v):4} {statistics.median(v):7.1%} {pct(v, .9):7.1%}")
    print()
    for label in sorted(cats):
        print(summary(label, cats[label]))
    if "--no-logo" not in argv:
        from benchmarks.fit_speed import decode_rows, fit, profile
        from benchmarks.fit_speed import predict as fit_predict

        fit_rows = decode_rows()
        logo = []
        for g in sorted({r["gpu"] for r in fit_rows}):
            with profile(fit(kb, [r for r in fit_rows if r["gpu"] != g])):
                logo += [abs(fit_predict(kb, r) / float(r["tokens_per_sec"]) - 1)
                         for r in fit_rows if r["gpu"] == g]
        print(summary("current decode, leave one GPU out", logo))
        print(summary("MoE decode (current), leave one GPU out",
                      moe.leave_one_gpu_out(kb, moe.moe_rows(use="fit"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
