"""Write a synthetic knowledge base of any size, for benchmarks and tests of bulk runs.

    python tools/synthetic_kb.py OUT_DIR [--models 60] [--gpus 50]

Entries are variants of the real KB entries (kb/): model k of a base model gets 2k more layers,
GPU k of a base card 25% more memory and bandwidth per step and a price; ids end in -synK.
Sources are the base entry's sources. Not for advice: only its size and shape are realistic.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advisor.kb import load_kb  # noqa: E402
from advisor.kb.validate import dump  # noqa: E402


def write_synthetic_kb(out: Path, models: int = 60, gpus: int = 50) -> Path:
    kb = load_kb()
    base_models, base_gpus = kb.all_models(), kb.all_gpus()
    (out / "models").mkdir(parents=True, exist_ok=True)
    (out / "gpus").mkdir(parents=True, exist_ok=True)
    made = {f"{base_models[i % len(base_models)].id}-syn{i // len(base_models)}" for i in range(models)}
    for i in range(models):
        b, k = base_models[i % len(base_models)], i // len(base_models)
        d = dump(b, exclude_defaults=True)
        d["id"] = f"{b.id}-syn{k}"
        d["name"] = f"{b.name} (synthetic {k})"
        d["aliases"] = []
        d["siblings"] = [f"{s}-syn{k}" for s in b.siblings if f"{s}-syn{k}" in made]
        if b.distilled_from:  # the teacher's variant when written, else no link
            teacher = f"{b.distilled_from}-syn{k}"
            d.pop("distilled_from")
            if teacher in made:
                d["distilled_from"] = teacher
            for src in d["sources"]:
                if "distilled_from" in src["fields"] and teacher not in made:
                    src["fields"] = [f for f in src["fields"] if f != "distilled_from"]
        d["architecture"] = dict(dump(b.architecture, exclude_defaults=True),
                                 layers=b.architecture.layers + 2 * k)
        d.pop("published_parameters", None)
        d["sources"] = [s for s in d["sources"] if s["fields"] != ["published_parameters"]]
        for s in d["sources"]:
            s["fields"] = [f for f in s["fields"] if f != "published_parameters"]
        (out / "models" / f"{d['id']}.yaml").write_text(yaml.safe_dump(d, sort_keys=True))
    for i in range(gpus):
        b, k = base_gpus[i % len(base_gpus)], i // len(base_gpus)
        d = dump(b, exclude_defaults=True)
        d["id"] = f"{b.id}-syn{k}"
        d["name"] = f"{b.name} (synthetic {k})"
        d["aliases"] = []
        d["memory_bytes"] = b.memory_bytes * (4 + k) // 4
        d["bandwidth_gb_s"] = round(b.bandwidth_gb_s * (4 + k) / 4, 1)
        if i % 3:
            d["prices"] = [{"provider": "synthetic", "usd_per_hour": round(0.4 + 0.1 * i, 2),
                            "kind": "on-demand", "gpus": 1, "per": "gpu", "date": "2025-01",
                            "source": "https://example.invalid/synthetic-not-a-real-price"}]
            d["rental"] = "alone"  # a one-card price: rented alone (kb validate checks the two agree)
        (out / "gpus" / f"{d['id']}.yaml").write_text(yaml.safe_dump(d, sort_keys=True))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--models", type=int, default=60)
    ap.add_argument("--gpus", type=int, default=50)
    a = ap.parse_args()
    write_synthetic_kb(a.out, a.models, a.gpus)
    load_kb(a.out)  # it must load
    print(f"wrote {a.models} models and {a.gpus} GPUs under {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
