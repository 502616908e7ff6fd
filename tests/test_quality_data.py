"""advisor/data/quant_quality.yaml: every measurement is well formed, and its loss_pct agrees with the
raw figures its `measure` states."""
import re
from pathlib import Path

import pytest
import yaml

from advisor.plans.candidates import GGUF_LADDER
from advisor.sizing.precision import parse_precision

DATA = Path(__file__).resolve().parent.parent / "advisor" / "data" / "quant_quality.yaml"
REQUIRED = {"model", "parameters_b", "metric", "loss_pct", "measure", "source"}
OPTIONAL = {"note", "active_parameters_b", "families"}
NUMBER = r"(\d+(?:\.\d+)?)"
# "... perplexity X against Y ..." / "... accuracy X against Y ..." (quantized first, 16-bit second)
PAIR = re.compile(rf"\b(perplexity|accuracy)\b[^;]*?\b{NUMBER} against {NUMBER}\b")
# "... quantization error PPL(Q)/PPL(fp16)-1 = X%": the published error itself
QERROR = re.compile(rf"PPL\(Q\)/PPL\(fp16\)-1 = {NUMBER}%")
# "... X% of the 16-bit model's score": accuracy retained
RETAINED = re.compile(rf"\b{NUMBER}% of the 16-bit model's score")


def _rows():
    table = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return [(fmt, i, row) for fmt, rows in table.items() for i, row in enumerate(rows)]


ROWS = _rows()


def _expected(row):
    """loss_pct recomputed from `measure`, or None where it states no pair of figures."""
    m = PAIR.search(row["measure"])
    if m:
        kind, q, base = m.group(1), float(m.group(2)), float(m.group(3))
        assert kind == row["metric"], f"measure states {kind} but metric is {row['metric']}"
        if kind == "perplexity":
            return 100 * (q / base - 1)
        return max(0.0, 100 - 100 * q / base)
    m = QERROR.search(row["measure"])
    if m:
        return float(m.group(1))
    m = RETAINED.search(row["measure"])
    if m:
        return max(0.0, 100 - float(m.group(1)))
    return None


def test_the_file_has_measurements():
    assert len(ROWS) > 0


@pytest.mark.parametrize("fmt,i,row", ROWS, ids=[f"{f}[{i}]" for f, i, _ in ROWS])
def test_row_is_well_formed(fmt, i, row):
    parse_precision(fmt)  # every key is a weight format the tool knows, spelled as it spells it
    assert parse_precision(fmt).name == fmt
    assert REQUIRED <= set(row), f"missing {REQUIRED - set(row)}"
    assert set(row) <= REQUIRED | OPTIONAL, f"unknown keys {set(row) - REQUIRED - OPTIONAL}"
    assert row["metric"] in {"perplexity", "accuracy"}
    assert isinstance(row["parameters_b"], (int, float)) and row["parameters_b"] > 0
    assert isinstance(row["loss_pct"], (int, float)) and row["loss_pct"] >= 0
    assert row["source"].startswith("https://")
    assert isinstance(row["model"], str) and row["model"].strip()
    assert isinstance(row["measure"], str) and "\n" not in row["measure"].strip()


@pytest.mark.parametrize("fmt,i,row", ROWS, ids=[f"{f}[{i}]" for f, i, _ in ROWS])
def test_loss_agrees_with_the_stated_figures(fmt, i, row):
    expected = _expected(row)
    if expected is None:
        pytest.skip("measure states no pair of figures")
    # loss_pct is rounded to two decimals from the figures as published
    assert row["loss_pct"] == pytest.approx(expected, abs=0.006), (row["measure"], expected)


def test_every_loss_can_be_checked():
    unchecked = [f"{f}[{i}]" for f, i, row in ROWS if _expected(row) is None]
    assert not unchecked, f"measure states no figures to check loss_pct against: {unchecked}"


def test_every_ladder_format_has_an_8b_class_first_row():
    table = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    for name in ("fp8", *GGUF_LADDER[:7]):
        assert table[name], name
        # the 8B-class measurement first: the one a reader compares the others with
        assert 7 <= table[name][0]["parameters_b"] <= 9, name


def test_one_measurement_per_model_and_format():
    seen = set()
    for fmt, _, row in ROWS:
        key = (fmt, row["model"])
        assert key not in seen, key
        seen.add(key)


def _near_lossless_bound():
    rules = yaml.safe_load((DATA.parent.parent.parent / "rules" / "objective.yaml").read_text(encoding="utf-8"))
    return rules["quality_classes"]["near-lossless"]


@pytest.mark.parametrize("billions", [70, 120, 235, 405, 671, 1000])
def test_fp8_is_near_lossless_on_large_models(billions):
    """The FP8 checkpoints served on large models (per-channel and block-wise, and per-tensor on
    Llama 3.1 405B Instruct) lose under the near-lossless bound on their publishers' cards; a
    base-model or outlier row would put every model that size in a worse class than Q8_0."""
    from advisor.plans.quality import weights_cost
    loss, text, source, estimated = weights_cost(parse_precision("fp8"), "bf16", billions * 10**9)
    assert not estimated and source
    assert loss <= _near_lossless_bound(), text


def test_int4_has_its_own_measurements():
    """int4 (compressed-tensors W4A16) is quoted from W4A16 cards, not borrowed from AWQ's rows,
    and costs less on the 405B than on the 8B of one family (the 405B is quoted on its card's
    OpenLLM v2, where v1 shows no loss at all, so the three are not one metric)."""
    from advisor.plans.quality import weights_cost
    costs = []
    for billions in (8, 70, 405):
        loss, text, source, estimated = weights_cost(parse_precision("int4"), "bf16", billions * 10**9)
        assert not estimated and "w4a16" in source, (billions, source)
        costs.append(loss)
    assert costs[0] > costs[-1] and all(c > 0 for c in costs)


def test_fp8_ffn_is_counted_at_fp8s_measurement_not_q8_0s():
    """Meta's FP8 (feed-forward layers only) quantizes a subset of what FP8 does: unmeasured,
    it is counted at FP8's figure on the nearest model (review 3, n38), never at Q8_0's on 8B."""
    from advisor.plans.quality import nearest_measurement, weights_cost
    from advisor.sizing.precision import parse_precision

    loss, text, source, estimated = weights_cost(parse_precision("fp8-ffn"), "bf16", 405 * 10**9)
    fp8 = nearest_measurement("fp8", 405 * 10**9)
    assert estimated and loss == fp8["loss_pct"] and source == fp8["source"]
    assert "subset" in text and "Q8_0" not in text


def test_a_zero_loss_is_not_written_as_minus_zero():
    from advisor.plans.quality import weights_cost
    from advisor.sizing.precision import parse_precision

    _, text, _, _ = weights_cost(parse_precision("fp8"), "bf16", 235 * 10**9)
    assert "-0%" not in text and "no accuracy lost" in text
