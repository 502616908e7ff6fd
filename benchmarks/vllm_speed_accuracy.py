"""vLLM (and SGLang) decode and serving speed, predicted against published runs.

Every row of benchmarks/data/vllm_serving.csv (source URL, date, engine version, model,
precision, GPUs, concurrency, input/output lengths, measured tokens/s a user and in all) is
predicted with constants.VLLM_DECODE_PROFILE (benchmarks/fit_vllm.py predict: the decode step at
the run's concurrency plus the prefill it interleaves). Prints each row, then per category the
median and 90th percentile of |predicted / measured - 1|, over the fitted rows and over all,
and leave-one-source-out: each source's rows predicted by a profile fitted without them.

    PYTHONPATH=. python benchmarks/vllm_speed_accuracy.py [--no-loo]

Categories (a row can be in several): single stream (concurrency 1), serving (concurrency > 1),
dense, MoE, multi-GPU (tensor parallel over more than one GPU).
"""
from __future__ import annotations

import statistics
import sys
from collections import defaultdict

from advisor.kb import load_kb
from advisor.sizing import constants as c
from benchmarks.fit_vllm import fit, measured, predict, rows


def categories(kb, row: dict) -> list[str]:
    a = kb.model(row["model"]).architecture
    out = ["single stream" if int(row["concurrency"]) == 1 else "serving at concurrency"]
    out.append("MoE" if a.experts_total else "dense")
    if int(row["gpus"]) > 1:
        out.append("multi-GPU")
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def errors(kb, data: list[dict], profile: dict | None = None) -> list[tuple[dict, float, float]]:
    """(row, predicted, relative error) for each row."""
    out = []
    for r in data:
        p = predict(kb, r, profile)
        out.append((r, p, p / measured(r)[1] - 1))
    return out


def summary(kb, errs, label: str) -> None:
    by = defaultdict(list)
    for r, _, e in errs:
        for cat in categories(kb, r) + ["all"]:
            by[cat].append(abs(e))
    print(f"\n{label}")
    print(f"{'category':<24}{'rows':>5}{'median':>9}{'p90':>8}")
    for cat in ("all", "single stream", "serving at concurrency", "dense", "MoE", "multi-GPU"):
        xs = by.get(cat)
        if xs:
            print(f"{cat:<24}{len(xs):>5}{statistics.median(xs):>9.1%}{pct(xs, 0.9):>8.1%}")


def leave_one_source_out(kb, data: list[dict]) -> list[tuple[dict, float, float]]:
    """Each source's rows predicted by a profile fitted on the other sources' rows."""
    out = []
    for src in sorted({r["source_url"] for r in data}):
        rest = [r for r in data if r["source_url"] != src]
        prof = fit(kb, rest)
        out += errors(kb, [r for r in data if r["source_url"] == src], prof)
    return out


def main(argv: list[str]) -> int:
    kb = load_kb()
    data = rows()
    errs = errors(kb, data)
    print(f"{'model':<24}{'gpu':<11}{'n':>3}{'conc':>5} {'engine':<7}{'kind':<9}"
          f"{'measured':>9}{'predicted':>10}{'error':>8}  fit")
    for r, p, e in errs:
        kind, m = measured(r)
        print(f"{r['model']:<24}{r['gpu']:<11}{r['gpus']:>3}{r['concurrency']:>5} {r['engine']:<7}"
              f"{kind:<9}{m:>9.1f}{p:>10.1f}{e:>+8.0%}  {r['fit']}")
    summary(kb, [x for x in errs if x[0]["fit"] == "yes"], "fitted rows (fit=yes)")
    summary(kb, errs, "all rows")
    if "--no-loo" not in argv:
        summary(kb, [x for x in leave_one_source_out(kb, data) if x[0]["fit"] == "yes"],
                "leave one source out (fitted rows, each source predicted by a fit without it)")
    print("\nprofile:", {k: v for k, v in c.VLLM_DECODE_PROFILE.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
