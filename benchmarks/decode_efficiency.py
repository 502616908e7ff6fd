"""Measured decode speed over the bandwidth roofline, for the single-GPU llama.cpp tg rows of
../shared/reference/speed_benchmarks.csv. Prints each row and the median: the source of
advisor.sizing.constants.DECODE_BANDWIDTH_EFFICIENCY.

    python benchmarks/decode_efficiency.py
"""
import csv
import statistics
import sys
from pathlib import Path

from advisor.kb import load_kb
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import weights_breakdown_bytes

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "speed_benchmarks.csv"
# bandwidths of the benchmark's cards (GB/s, vendor specs); the KB will carry these as it grows
BANDWIDTH = {"3070 8GB": 448, "3080 Ti 12GB": 912, "3090 24GB": 936, "4090 24GB": 1008,
             "RTX 4000 Ada 20GB": 360, "RTX A6000 48GB": 768, "A100 PCIe 80GB": 1935,
             "H100 PCIe 80GB": 2000, "M1 Max 32‑Core GPU 64GB": 400,
             "M2 Ultra 76-Core GPU 192GB": 800}
MODEL = {"Meta-Llama-3-8B (LLaMA 3)": "llama-3.1-8b", "Meta-Llama-3-70B (LLaMA 3)": "llama-3.1-70b"}


def main() -> int:
    kb = load_kb()
    ratios = []
    for row in csv.DictReader(REF.open()):
        if row["num_gpus"] != "1" or not row["test"].startswith("tg") or row["gpu"] not in BANDWIDTH:
            continue
        if row["model"] not in MODEL:
            continue
        a = kb.model(MODEL[row["model"]]).architecture  # Llama 3 and 3.1 share the architecture
        prec = parse_precision("fp16" if row["quant"] == "F16" else row["quant"])
        w = weights_breakdown_bytes(a, prec)
        n = int(row["n_gen"])
        per_token = w["layers"] + w["output"] + kv_cache_bytes(a, n // 2)
        roof = BANDWIDTH[row["gpu"]] * 1e9 / per_token
        r = float(row["tokens_per_sec"]) / roof
        ratios.append(r)
        print(f"{row['gpu']:28} {row['model'][:26]:26} {row['quant']:7} {row['test']:7} "
              f"measured {float(row['tokens_per_sec']):7.2f} roofline {roof:7.2f} ratio {r:.3f}")
    print(f"rows {len(ratios)}  median efficiency {statistics.median(ratios):.3f}  "
          f"min {min(ratios):.3f}  max {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
