"""Fit llama.cpp's MoE decode constants (constants.MOE_DECODE_PROFILES) on
benchmarks/data/llamacpp_moe_decode.csv, and score them leaving one GPU out.

    PYTHONPATH=. python benchmarks/fit_moe_speed.py

Rows: published single-stream llama.cpp decode of MoE models (tgN, or ppN at -ub 1, which decodes
N tokens one at a time), each with its source, build and date. The dense decode profile
(constants.DECODE_PROFILES_CURRENT, benchmarks/fit_speed.py) is kept as fitted on dense rows; only
the MoE terms are fitted here, by least squares on log(predicted / measured) (coordinate descent
over log-parameters, as fit_speed.py):
- use=fit rows (current builds): MOE_DECODE_PROFILES["current"] moe_layer_seconds and
  routed_expert_seconds;
  and mla_layer_seconds (multi-head latent attention's own kernels a layer; only the
  DeepSeek-V2-Lite rows have MLA, so this term rests on one GPU);
- use=era rows (January 2025 builds, before llama.cpp PR 13014): MOE_DECODE_PROFILES["2025-01"]
  routed_expert_seconds, the rest of the decode timed with the 2024-05 profile;
- use=check rows: the same era, never fitted (issue 15's targets, DeepSeek R1 UD-IQ1_S on
  2 x H100: 11.89 tok/s in unsloth issue 1591, about 14 in unsloth's blog), predicted by the
  era fit on the other rows as held-out checks.
Prints the fitted values, each row's error, the held-out checks and the leave-one-GPU-out error
of the current fit.
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

DATA = Path(__file__).resolve().parent / "data" / "llamacpp_moe_decode.csv"
FITTED = {"current": ("moe_layer_seconds", "routed_expert_seconds", "mla_layer_seconds"),
          "2025-01": ("routed_expert_seconds",)}
START = 1e-5  # seconds: where every fitted value starts
FLOOR = 1e-7  # seconds: the coordinate descent works on logs, so a value is kept above 0


def moe_rows(path: Path = DATA, use: str | None = None) -> list[dict]:
    """The CSV's rows (all, or those whose `use` column is `use`: fit, era, check)."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if use is None or r["use"] == use]


def row_era(row: dict) -> str:
    return "current" if row["era"] == "current" else "2025-01"


def mean_context(row: dict) -> int:
    return int(row["depth"]) + int(row["n_gen"]) // 2


def predict(kb, row: dict, era: str | None = None) -> float:
    """Tokens a second, one sequence, at the run's mean context, with the row's era's profile
    (or `era`)."""
    model, gpu = kb.model(row["model"]), kb.gpu(row["gpu"])
    prec = parse_precision(row["quant"])
    ctx = mean_context(row)
    pl = place(model, gpu, prec, Workload(context_tokens=max(ctx, 512)), int(row["num_gpus"]),
               detail=False)
    return 1.0 / pl.decode_seconds_per_token(ctx, era or row_era(row))


def error(kb, row: dict, era: str | None = None) -> float:
    """predicted / measured - 1."""
    return predict(kb, row, era) / float(row["tokens_per_sec"]) - 1


def profile(era: str, values: dict):
    """The era's MoE decode profile with `values` for a block."""
    return patched(c.MOE_DECODE_PROFILES[era], values)


def loss(kb, rows, era, values) -> float:
    with profile(era, values):
        return sum(math.log(predict(kb, r) / float(r["tokens_per_sec"])) ** 2 for r in rows)


def fit(kb, rows, era: str, rounds: int = 60) -> dict:
    """Coordinate descent on the log of each fitted value, halving the step when no move helps.
    Every value starts at START, not at the constants, so that a fit leaving rows out learns
    nothing from them (a term no remaining row exercises stays at START)."""
    keys = FITTED[era]
    cur = {k: START for k in keys}
    return log_descent(lambda v: loss(kb, rows, era, v), cur, 1.0, rounds,
                       lambda k, v: max(FLOOR, v))


def leave_one_gpu_out(kb, rows, era: str = "current") -> list[float]:
    """|error| of each row predicted by a fit that never saw its GPU."""
    errs = []
    for g in sorted({r["gpu"] for r in rows}):
        with profile(era, fit(kb, [r for r in rows if r["gpu"] != g], era)):
            errs += [abs(error(kb, r)) for r in rows if r["gpu"] == g]
    return errs


def main(argv: list[str]) -> int:
    kb = load_kb()
    for era, use in (("current", "fit"), ("2025-01", "era")):
        rows = moe_rows(use=use)
        values = fit(kb, rows, era)
        print(f"{era}: fitted on {len(rows)} rows:",
              ", ".join(f"{k} {v * 1e6:.2f} us" for k, v in values.items()))
        with profile(era, values):
            for r in rows:
                p = predict(kb, r)
                print(f"  {r['gpu']:22} x{r['num_gpus']} {r['model']:20} {r['quant']:9} "
                      f"{r['test']:26} measured {float(r['tokens_per_sec']):7.2f} predicted "
                      f"{p:7.2f} {p / float(r['tokens_per_sec']) - 1:+.1%}")
    with profile("2025-01", fit(kb, moe_rows(use="era"), "2025-01")):
        print("held-out checks (never fitted; the 2025-01 fit above):")
        for r in moe_rows(use="check"):
            p = predict(kb, r)
            print(f"  {r['gpu']:22} x{r['num_gpus']} {r['model']:20} {r['quant']:9} "
                  f"{r['test']:26} measured {float(r['tokens_per_sec']):7.2f} predicted "
                  f"{p:7.2f} {p / float(r['tokens_per_sec']) - 1:+.1%}")
    rows = moe_rows(use="fit")
    errs = leave_one_gpu_out(kb, rows)
    print(f"current, leave-one-GPU-out over {len(errs)} rows: median {statistics.median(errs):.1%}, "
          f"worst {max(errs):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
