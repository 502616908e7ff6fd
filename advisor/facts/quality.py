"""Facts about what a quantize option costs in quality: a measured figure with its source.

The figures live in advisor/data/quant_quality.yaml, one measurement per format, each naming the
model it was measured on and where it was published.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from advisor.facts.question import Question
from advisor.sizing.plan import Placement

_DATA = Path(__file__).resolve().parent.parent / "data" / "quant_quality.yaml"

FACTS: dict[str, tuple[str, str]] = {
    "quantize_quality_cost": ("str", "measured quality cost of quantize_precision against 16-bit"),
    "quantize_quality_measured_on": ("str", "the model that cost was measured on"),
    "quantize_quality_source": ("str", "where the measurement was published"),
}
# Every format the quantize ladder offers has a measurement (a test checks it), so these facts
# come with quantize_precision.
TOGETHER = [set(FACTS) | {"quantize_precision"}]


@lru_cache(maxsize=1)
def quality_table() -> dict[str, dict]:
    return yaml.safe_load(_DATA.read_text(encoding="utf-8"))


def contribute(q: Question, pl: Placement, f: dict) -> None:
    p = f.get("quantize_precision")
    if p is None:
        return
    row = quality_table()[p][0]
    f.update(quantize_quality_cost=row["measure"],
             quantize_quality_measured_on=row["model"],
             quantize_quality_source=row["source"])
