"""Predicted against measured speed, by llama.cpp build era:
- May 2024: every usable row of ../shared/reference/speed_benchmarks.csv (XiongjieDai, llama.cpp
  of May 2024, no flash attention), predicted with the "2024-05" decode profile they were
  fitted on: tgN (decode, mean over N tokens from an empty cache) and ppN (prefill of N tokens);
- current: benchmarks/data/llamacpp_*.csv but the MoE file (each row with its source, date and build: the H200 rows the
  project measured with llama.cpp 0c1e570, rows llama.cpp's maintainers published in 2025 PRs),
  predicted with the current profile the advisories use.
- CPU offload: benchmarks/data/llamacpp_offload_decode.csv (published -ngl and --n-cpu-moe runs
  with the host's RAM bandwidth), into the `offload` band with each host held out of the fit of
  the CPU terms (benchmarks/fit_offload_speed.py).
- MoE decode: benchmarks/data/llamacpp_moe_decode.csv (published llama.cpp MoE runs), each row
  with its build era's profile (current, or 2025-01 for January 2025 builds; those also scored
  with the current profile, to show what a build change does).
Prints by GPU and test, then per category the median and 90th percentile of
|predicted / measured - 1|, and the leave-one-GPU-out figures of the current decode fit
(benchmarks/fit_speed.py) and of the MoE fit (benchmarks/fit_moe_speed.py): each GPU predicted
by a fit that never saw it.

    PYTHONPATH=. python benchmarks/speed_accuracy.py [--rows] [--write-bands]

Then the band of each advisory speed category (advisor/sizing/speed_category.py: the rows
predicted the way an advisory's figure of that category is); --write-bands writes them to
advisor/data/speed_bands.yaml, which the advisories quote.

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
from advisor.sizing.speed_category import VENDOR_NAMES, all_categories, speed_category
from advisor.sizing.workload import Workload
from benchmarks.fit_speed import prefill_fa_counts

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "speed_benchmarks.csv"
REF_NAME = "../shared/reference/speed_benchmarks.csv"
DATA = Path(__file__).resolve().parent / "data"
BANDS = Path(__file__).resolve().parents[1] / "advisor" / "data" / "speed_bands.yaml"
BANDS_COMMAND = "PYTHONPATH=. python benchmarks/speed_accuracy.py --write-bands"
BANDS_HEADER = (
    "# The measured error band of each speed category (advisor/sizing/speed_category.py): the\n"
    "# median and 90th percentile of |predicted / measured - 1| over the benchmark's rows that\n"
    "# were predicted the way an advisory's figure of that category is. Written by the command\n"
    "# below (benchmarks/speed_accuracy.py; do not edit by hand: tests/test_speed_bands.py fails\n"
    "# when it is stale). basis: leave-one-GPU-out (each GPU predicted by a fit that never saw it),\n"
    "# leave-one-source-out (vLLM: each publication predicted by a fit without its rows),\n"
    "# leave-one-setup-out (CPU offload: each host predicted by a fit without its rows)\n"
    "# or in-sample (the rows the profile was fitted on). A category with fewer than min_rows rows\n"
    "# or on fewer than min_gpus GPUs is uncalibrated, with the reason.\n")
# A band needs this many rows on this many GPUs; fewer is "uncalibrated" (one GPU cannot say how
# the fit carries to other cards).
MIN_ROWS = 5
MIN_GPUS = 2
# The basis of a row marked "check" in its data file: scored, never fitted (a category with only
# such rows stays uncalibrated whatever their number).
CHECK_BASIS = "never fitted (a check)"
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
        gpu, model.architecture, prec, n, q, "llama.cpp", era, depth)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


MOE_FILE = "llamacpp_moe_decode.csv"  # scored in its own category (benchmarks/fit_moe_speed.py)


def current_rows() -> list[dict]:
    """The dense llama.cpp rows of benchmarks/data (its llamacpp_*.csv but the MoE one; the
    fine-tuning runs there are benchmarks/train_speed.py's)."""
    rows = []
    for path in sorted(p for p in DATA.glob("llamacpp_*.csv")
                       if p.name not in (MOE_FILE, "llamacpp_offload_decode.csv")):
        with path.open(encoding="utf-8") as fh:
            rows += [dict(r, file=path.name) for r in csv.DictReader(fh)]
    return rows


def summary(label: str, v: list[float]) -> str:
    if not v:
        return f"{label:44} rows   0"
    return (f"{label:44} rows {len(v):3}  median error {statistics.median(v):6.1%}  "
            f"p90 {pct(v, .9):6.1%}")


def collect(kb, show_rows: bool = False, reference: bool = True) -> tuple[dict, dict, dict]:
    """Score every row: (errors by (kind, GPU, test), errors by printed category, band errors:
    speed_category -> [(gpu, |error|, the file the row is from, basis)]); reference=False leaves out
    the May-2024 reference rows (../shared/reference, outside the repository). A row joins a band when it was predicted the way an
    advisory's figure is: the profile of its build era, llama.cpp, flash attention as the
    advisories run it (on) for current builds. Decode rows of the current fit carry their
    leave-one-GPU-out error, not the in-sample one."""
    errs = defaultdict(list)
    cats = defaultdict(list)
    bands = defaultdict(list)
    rows = []
    if reference:
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
        bands[row_category(kb, row, GPU[row["gpu"]], MODEL[row["model"]], "2024-05")].append(
            (GPU[row["gpu"]], abs(e), REF_NAME, "in-sample"))
        if kind == "tg" and single:
            now = predict(kb, row, "current") / meas - 1
            cats["May 2024 decode single GPU (current profile)"].append(abs(now))
        if show_rows:
            print(f"{GPU[row['gpu']]:15} x{row['num_gpus']} {row['model'][5:19]:14} {row['quant']:6} "
                  f"{row['test']:7} measured {meas:9.2f} predicted {pred:9.2f} error {e:+.1%}")
    logo, logo_labels = leave_one_gpu_out(kb)
    for row in current_rows():
        meas = float(row["tokens_per_sec"])
        pred = predict(kb, row, "current")
        e = pred / meas - 1
        decode = int(row["n_gen"]) > 0
        fa = {"1": "", "": ", fa not stated"}.get(row["flash_attn"], ", -fa 0")
        vendor = kb.gpu(row["gpu"]).vendor
        who = "" if vendor == "nvidia" else f"{VENDOR_NAMES.get(vendor, vendor)} "
        cats[f"current {who}{'decode' if decode else 'prefill'} ({row['build_date'][:4]} builds{fa})"].append(abs(e))
        errs[("tg" if decode else "pp", row["gpu"], row["test"][:12])].append(abs(e))
        if row["flash_attn"] == "1" or (not decode and prefill_fa_counts(row)):
            held = logo.get(row_key(row))  # a fit row: its held-out error
            bands[row_category(kb, row, row["gpu"], row["model"], "current")].append(
                (row["gpu"], abs(e) if held is None else held, f"benchmarks/data/{row['file']}",
                 "leave-one-GPU-out" if held is not None else
                 CHECK_BASIS if row.get("use") == "check" else "in-sample"))
        if show_rows:
            print(f"{row['gpu']:15} x{row['num_gpus']} {row['model']:14} {row['quant']:6} "
                  f"{row['test']:22} build {row['build'][:22]:22} measured {meas:9.2f} "
                  f"predicted {pred:9.2f} error {e:+.1%}")
    for label, keys in logo_labels.items():
        cats[label] = [logo[k] for k in keys]
    moe_rows(kb, errs, cats, bands, show_rows)
    vllm_rows(kb, cats, bands)
    offload_rows(kb, errs, cats, bands, show_rows)
    return errs, cats, bands


OFFLOAD_FILE = "llamacpp_offload_decode.csv"  # benchmarks/fit_offload_speed.py's, not a dense file


def offload_rows(kb, errs: dict, cats: dict, bands: dict, show_rows: bool) -> None:
    """The published partial-offload runs (benchmarks/fit_offload_speed.py: -ngl and
    --n-cpu-moe) into the `offload` band, each predicted by a fit of the CPU terms that never
    saw its host (leave-one-setup-out; CPU_LAYER_SECONDS refitted with the fraction kept, as the
    constants were fitted)."""
    from benchmarks import fit_offload_speed as off

    rows = off.offload_rows()
    in_sample = {id(r): off.error(kb, r) for r in rows}
    held = off.leave_one_setup_out(kb, rows, ("CPU_LAYER_SECONDS",))
    cats["CPU offload decode (fitted CPU terms)"] = [abs(e) for e in in_sample.values()]
    cats["CPU offload decode, leave one host out"] = [abs(e) for _, e in held]
    bands["offload"] += [(r["gpu"], abs(e), f"benchmarks/data/{OFFLOAD_FILE}",
                          "leave-one-setup-out") for r, e in held]
    for r in rows:
        e = in_sample[id(r)]
        errs[("tg", r["gpu"], "offload " + r["offload"])].append(abs(e))
        if show_rows:
            print(f"{r['gpu']:15} x1 {r['model']:14} {r['quant']:6} {r['offload']:9} "
                  f"{r['gpu_layers'] or r['n_cpu_moe']:>4} RAM {r['ram_bandwidth_gb_s']:>6} GB/s "
                  f"measured {float(r['tokens_per_sec']):9.2f} error {e:+.1%}")


def vllm_rows(kb, cats: dict, bands: dict) -> None:
    """The fitted vLLM serving rows (benchmarks/vllm_speed_accuracy.py), each source's rows
    predicted by a profile fitted without them, into the `vllm` band (single stream and at
    concurrency: one step model times both)."""
    from benchmarks.vllm_speed_accuracy import leave_one_source_out
    from benchmarks.fit_vllm import rows as vllm_data

    held = [(r, e) for r, _, e in leave_one_source_out(kb, vllm_data()) if r["fit"] == "yes"]
    cats["vLLM decode and serving, leave one source out"] = [abs(e) for _, e in held]
    bands["vllm"] += [(r["gpu"], abs(e), "benchmarks/data/vllm_serving.csv", "leave-one-source-out")
                      for r, e in held]


def moe_rows(kb, errs: dict, cats: dict, bands: dict, show_rows: bool) -> None:
    """Score the MoE rows (benchmarks/fit_moe_speed.py) into collect()'s tables: each with its
    era's profile; the current-build fit rows join the `moe` band with their leave-one-GPU-out
    error."""
    from benchmarks import fit_moe_speed as moe

    fit_rows = moe.moe_rows(use="fit")
    held = []
    for g in sorted({r["gpu"] for r in fit_rows}):
        with moe.profile("current", moe.fit(kb, [r for r in fit_rows if r["gpu"] != g], "current")):
            held += [(r["gpu"], abs(moe.error(kb, r))) for r in fit_rows if r["gpu"] == g]
    cats["MoE decode (current), leave one GPU out"] = [e for _, e in held]
    bands["moe"] += [(g, e, f"benchmarks/data/{MOE_FILE}", "leave-one-GPU-out") for g, e in held]
    for row in moe.moe_rows():
        era = moe.row_era(row)
        e = moe.error(kb, row)
        label = "current" if era == "current" else "January 2025 builds, 2025-01 profile"
        cats[f"MoE decode ({label})"].append(abs(e))
        if era != "current":
            cats["MoE decode (January 2025 builds, current profile)"].append(
                abs(moe.error(kb, row, "current")))
        errs[("tg", row["gpu"], "MoE " + row["test"][:8])].append(abs(e))
        if show_rows:
            print(f"{row['gpu']:15} x{row['num_gpus']} {row['model']:14} {row['quant']:6} "
                  f"{row['test']:22} build {row['build'][:22]:22} measured "
                  f"{float(row['tokens_per_sec']):9.2f} predicted "
                  f"{(1 + e) * float(row['tokens_per_sec']):9.2f} error {e:+.1%} ({era} profile)")


def row_key(row: dict) -> tuple:
    """A current row's identity (two runs of one test differ in their speed)."""
    return tuple(row[k] for k in ("gpu", "model", "quant", "test", "depth", "flash_attn", "build",
                                  "source", "tokens_per_sec"))


def leave_one_gpu_out(kb) -> tuple[dict[tuple, float], dict[str, list[tuple]]]:
    """|error| of each current fit row, predicted by a fit that never saw its GPU
    (benchmarks/fit_speed.py), by row_key: decode for every vendor with current data, prefill
    where the vendor's prefill profile is fitted there (Apple); and the row keys under the
    label each group is printed with."""
    from benchmarks import fit_speed as fs

    out, labels = {}, {}
    for vendor in fs.VENDOR_DATA:
        kinds = ("decode", "prefill") if vendor in fs.PREFILL_FITTED else ("decode",)
        for kind in kinds:
            who = "" if vendor == "nvidia" else f"{VENDOR_NAMES.get(vendor, vendor)} "
            label = f"current {who}{kind}, leave one GPU out"
            for r, e in fs.leave_one_gpu_out(kb, vendor, kind):
                out[row_key(r)] = abs(e)
                labels.setdefault(label, []).append(row_key(r))
    return out, labels


def row_category(kb, row: dict, gpu_id: str, model_id: str, era: str) -> str:
    """The advisory's speed category of a benchmark row (advisor.sizing.speed_category)."""
    kind = "decode" if int(row["n_gen"]) else "prefill"
    moe = bool(kb.model(model_id).architecture.experts_total)
    return speed_category(kind, "llama.cpp", kb.gpu(gpu_id).vendor, era, moe, False,
                          int(row["num_gpus"]))


def band_table(kb, bands: dict | None = None) -> dict:
    """The content of advisor/data/speed_bands.yaml but its date: every category
    speed_category() can return, with its rows' median and p90 |error| where the benchmark has
    at least MIN_ROWS rows on MIN_GPUS GPUs, else uncalibrated and why."""
    if bands is None:
        bands = collect(kb)[2]
    out = {}
    for cat, (covers, why) in sorted(all_categories().items()):
        got = bands.get(cat, [])
        entry = {"covers": covers, "rows": len(got)}
        v = [e for _, e, _, _ in got]
        gpus = sorted({g for g, _, _, _ in got})
        if got:
            bases = sorted({b for _, _, _, b in got})  # one, or both where a category mixes them
            entry.update(gpus=gpus, sources=sorted({f for _, _, f, _ in got}),
                         median_pct=round(100 * statistics.median(v), 1),
                         p90_pct=round(100 * pct(v, .9), 1), basis=" and ".join(bases))
        old = bands.get(f"{cat}-2024-05", []) if cat.startswith(("decode-", "prefill-")) else []
        if not got and old:  # current builds not measured in this setting, May-2024 ones were
            why = (f"no published runs of current builds of this kind in the benchmark (its "
                   f"{len(old)} May-2024 runs are {100 * statistics.median(e for _, e, _, _ in old):.1f}% "
                   f"off in median under the May-2024 profile)")
        checks_only = bool(got) and all(b == CHECK_BASIS for _, _, _, b in got)
        if len(got) >= MIN_ROWS and len(gpus) >= MIN_GPUS and not checks_only:
            entry["status"] = "calibrated"
        elif checks_only:  # published runs scored, none fitted: the reason stays, with their error
            entry["status"] = "uncalibrated"
            entry["reason"] = (f"{why}; {len(got)} published runs on {', '.join(gpus)}, never "
                               f"fitted, are {entry['median_pct']}% off in median")
        else:
            entry["status"] = "uncalibrated"
            entry["reason"] = why if not got else (
                f"too few published runs ({len(got)} on {', '.join(gpus)}, "
                f"{entry['median_pct']}% median error {entry['basis']})")
        out[cat] = entry
    return {"command": BANDS_COMMAND, "min_rows": MIN_ROWS, "min_gpus": MIN_GPUS,
            "categories": out}


def write_bands(table: dict, path: Path, date: str) -> None:
    import yaml

    text = yaml.safe_dump({"date": date, **table}, sort_keys=False, width=4096,
                          allow_unicode=True)
    path.write_text(BANDS_HEADER + text, encoding="utf-8")


def main(argv: list[str]) -> int:
    kb = load_kb()
    errs, cats, bands = collect(kb, "--rows" in argv)
    print(f"{'gpu':15} {'test':12} {'rows':>4} {'median':>7} {'p90':>7}")
    for key in sorted(errs):
        v = errs[key]
        print(f"{key[1]:15} {key[2]:12} {len(v):4} {statistics.median(v):7.1%} {pct(v, .9):7.1%}")
    print()
    for label in sorted(cats):
        print(summary(label, cats[label]))
    table = band_table(kb, bands)
    print()
    print("advisory speed categories (advisor/data/speed_bands.yaml):")
    for cat, b in table["categories"].items():
        if b["status"] == "calibrated":
            print(f"  {cat:38} rows {b['rows']:3}  median {b['median_pct']:5.1f}%  "
                  f"p90 {b['p90_pct']:5.1f}%  ({b['basis']})")
        else:
            print(f"  {cat:38} rows {b['rows']:3}  uncalibrated: {b['reason']}")
    if "--write-bands" in argv:
        import datetime

        write_bands(table, BANDS, datetime.date.today().isoformat())
        print(f"wrote {BANDS.relative_to(BANDS.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
