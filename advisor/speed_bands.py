"""The measured error band of a speed figure, read from advisor/data/speed_bands.yaml.

That file is written by `PYTHONPATH=. python benchmarks/speed_accuracy.py --write-bands`: for
each category of advisor.sizing.speed_category, the median and 90th percentile of
|predicted / measured - 1| over the benchmark rows predicted the way an advisory's figure of that
category is, or "uncalibrated" and why. This module reads it once (advisor.cache.data_file) and
turns a category into a Band, which advisories quote beside each speed (docs/speed.md, "Error
bands").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from advisor.cache import data_file
from advisor.errors import AdvisorError

PATH = Path(__file__).resolve().parent / "data" / "speed_bands.yaml"


@dataclass(frozen=True)
class Band:
    category: str              # advisor.sizing.speed_category id
    covers: str                # what the category is, in words ("llama.cpp on one NVIDIA GPU")
    calibrated: bool
    rows: int                  # published runs behind the figures (0 where none)
    gpus: int                  # distinct GPUs among them
    median_pct: float | None   # median |predicted / measured - 1|, percent; None: uncalibrated
    p90_pct: float | None      # its 90th percentile
    basis: str | None          # leave-one-GPU-/source-/setup-out or in-sample, or two of them
                               # joined by " and " (a category mixing them); None: uncalibrated
    reason: str | None         # why uncalibrated; None: calibrated

    def to_json(self) -> dict:
        return {"category": self.category, "covers": self.covers,
                "uncalibrated": not self.calibrated, "median_pct": self.median_pct,
                "p90_pct": self.p90_pct, "rows": self.rows, "gpus": self.gpus,
                "basis": self.basis, "reason": self.reason}

    def text(self) -> str:
        """The band in words, once a figure kind: "usually within 8%, p90 17%, for llama.cpp on
        one NVIDIA GPU: 10 published runs on 3 GPUs, each GPU held out of the fit", or
        "uncalibrated for AMD GPUs: <reason>"."""
        if not self.calibrated:
            return f"uncalibrated for {self.covers}: {self.reason}"
        held = {"leave-one-GPU-out": "each GPU held out of the fit",
                "leave-one-source-out": "each source held out of the fit",
                "leave-one-setup-out": "each host held out of the fit"}
        parts = (self.basis or "in-sample").split(" and ")  # band_table joins mixed bases so
        how = ", ".join([held[b] for b in parts if b in held]
                        + (["some in-sample"] if len(parts) > 1 and "in-sample" in parts else []))
        how = how or "in-sample"
        return (f"{self.short()}, for {self.covers}: {self.rows} published runs on {self.gpus} "
                f"GPUs, {how}")

    def short(self) -> str:
        """The band in a few words: "usually within 8%, p90 17%" or "uncalibrated"."""
        if not self.calibrated:
            return "uncalibrated"
        return f"usually within {self.median_pct:.0f}%, p90 {self.p90_pct:.0f}%"


def band_from_entry(category: str, entry: dict) -> Band:
    """A Band from one entry of the file's `categories` (pure)."""
    calibrated = entry.get("status") == "calibrated"
    return Band(category=category, covers=entry["covers"], calibrated=calibrated,
                rows=int(entry.get("rows", 0)), gpus=len(entry.get("gpus", [])),
                median_pct=entry.get("median_pct") if calibrated else None,
                p90_pct=entry.get("p90_pct") if calibrated else None,
                basis=entry.get("basis") if calibrated else None,
                reason=None if calibrated else entry.get("reason"))


@lru_cache(maxsize=1)
def band_table() -> dict:
    """The parsed advisor/data/speed_bands.yaml."""
    return data_file(PATH)


@cache
def band(category: str) -> Band:
    """The Band of a speed category; AdvisorError when the file has no entry for it (the file
    is stale: regenerate it with the command it names)."""
    table = band_table()
    entry = (table.get("categories") or {}).get(category)
    if entry is None:
        raise AdvisorError(f"{PATH.name} has no speed category '{category}': regenerate it with "
                           f"`{table.get('command', 'benchmarks/speed_accuracy.py --write-bands')}`")
    return band_from_entry(category, entry)
