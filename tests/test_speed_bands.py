"""Error bands on every speed figure (issue 15 item 6): the category function, the data file the
benchmark writes, and the bands advisories quote in markdown and JSON."""
import importlib.util
import json
from pathlib import Path

import pytest

from advisor import speed_bands
from advisor.render import render_json, render_markdown
from advisor.sizing.speed_category import all_categories, profile_era, speed_category
from advisor.yamlfile import read_yaml

ROOT = Path(__file__).resolve().parents[1]
BANDS = ROOT / "advisor" / "data" / "speed_bands.yaml"


def _bench():
    spec = importlib.util.spec_from_file_location("speed_accuracy", ROOT / "benchmarks" / "speed_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _committed() -> dict:
    return read_yaml(BANDS)[1]


def test_committed_bands_are_the_benchmarks(kb):
    """The committed file is what `benchmarks/speed_accuracy.py --write-bands` writes today
    (but its date). Without the May-2024 reference rows (outside the repository) only the
    categories whose rows all come from benchmarks/data are recomputed."""
    bench = _bench()
    committed = _committed()
    assert committed["command"] == bench.BANDS_COMMAND
    assert str(committed["date"])[:2] == "20"
    reference = bench.REF.exists()
    fresh = bench.band_table(kb, bench.collect(kb, reference=reference)[2])
    assert {k: v for k, v in committed.items() if k != "date"}.keys() == fresh.keys()
    assert set(committed["categories"]) == set(fresh["categories"])
    checked = 0
    for cat, entry in committed["categories"].items():
        from_repo = all(s.startswith("benchmarks/") for s in entry.get("sources", []))
        if reference or (from_repo and entry["rows"]):
            assert fresh["categories"][cat] == entry, (
                f"{cat} is stale: run `{bench.BANDS_COMMAND}`")
            checked += 1
    assert checked >= (len(committed["categories"]) if reference else 2)


def test_file_covers_every_category():
    cats = _committed()["categories"]
    assert set(cats) == set(all_categories())
    for cat, e in cats.items():
        assert e["status"] in ("calibrated", "uncalibrated"), cat
        if e["status"] == "calibrated":
            assert e["rows"] >= 5 and len(e["gpus"]) >= 2 and 0 <= e["median_pct"] <= e["p90_pct"]
            assert set(e["basis"].split(" and ")) <= {
                "leave-one-GPU-out", "leave-one-source-out", "leave-one-setup-out",
                "in-sample"} and e["sources"]
        else:
            assert e["reason"], cat


def test_current_decode_band_is_the_leave_one_gpu_out_figure(kb):
    """The calibrated llama.cpp-on-NVIDIA decode band is the held-out error, not the in-sample
    one (the fit's rows are within 7.8% in-sample; held out, the median is about 8%)."""
    e = _committed()["categories"]["decode-llamacpp-nvidia"]
    assert e["status"] == "calibrated" and e["basis"] == "leave-one-GPU-out"
    assert e["rows"] == 10 and set(e["gpus"]) == {"h200", "rtx-3090", "rtx-4090"}
    assert e["p90_pct"] > 7.8  # in-sample no row is that far off


@pytest.mark.parametrize("kind", ["decode", "prefill", "serving"])
@pytest.mark.parametrize("vendor", ["amd", "intel"])
def test_amd_and_intel_are_uncalibrated_whatever_else(kind, vendor):
    for runtime in ("llama.cpp", "vllm", "transformers"):
        for moe in (False, True):
            for gpus in (1, 4):
                cat = speed_category(kind, runtime, vendor, profile_era(kind, runtime, vendor),
                                     moe, False, gpus)
                assert cat == vendor
                b = speed_bands.band(cat)
                assert not b.calibrated and "for this vendor" in b.reason


def test_category_order():
    """Vendor, then runtime, then serving, offload, MoE, then the llama.cpp dense categories."""
    assert speed_category("decode", "vllm", "nvidia", "2024-05", False, False, 1) == "vllm"
    assert speed_category("serving", "llama.cpp", "nvidia", "current", False, False, 1) == "serving"
    assert speed_category("decode", "llama.cpp", "nvidia", "current", True, True, 1) == "offload"
    assert speed_category("decode", "llama.cpp", "nvidia", "current", True, False, 1) == "moe"
    assert speed_category("decode", "llama.cpp", "nvidia", "current", False, False, 1) == "decode-llamacpp-nvidia"
    assert speed_category("prefill", "llama.cpp", "nvidia", "current", False, False, 2) == \
        "prefill-llamacpp-nvidia-multi-gpu"
    assert speed_category("decode", "llama.cpp", "apple", "2024-05", False, False, 1) == \
        "decode-llamacpp-apple-2024-05"
    with pytest.raises(ValueError):
        speed_category("train", "llama.cpp", "nvidia", "current", False, False, 1)
    with pytest.raises(ValueError):
        speed_category("decode", "llama.cpp", "nvidia", "2023", False, False, 1)


def test_profile_era_follows_the_profiles_the_speeds_use():
    assert profile_era("decode", "llama.cpp", "nvidia") == "current"
    assert profile_era("prefill", "llama.cpp", "nvidia") == "current"
    assert profile_era("decode", "llama.cpp", "apple") == "current"   # fitted on 2026 Metal runs
    assert profile_era("prefill", "llama.cpp", "apple") == "current"
    assert profile_era("decode", "llama.cpp", "amd") == "2024-05"     # no current AMD profile
    assert profile_era("decode", "vllm", "nvidia") == "2024-05"
    assert profile_era("prefill", "transformers", "nvidia") == "2024-05"


QUESTIONS = [
    ("llama-3.1-8b", "rtx-4090", {"precision": "Q4_K_M"}),
    ("llama-3.1-70b", "rtx-4090", {}),                 # offload, rent, vLLM plans
    ("llama-3.1-70b", "mi300x", {}),
    ("llama-3.1-8b", "arc-a770-16gb", {"precision": "Q4_K_M"}),
    ("deepseek-r1", "h200", {}),
    ("llama-3.1-70b", "m3-max-64gb", {"precision": "Q4_K_M"}),
    ("llama-3.1-8b", "t4", {"runtime": "vllm"}),
]


def _speed_pairs(d: dict):
    """(figure, its band) for every speed of an advisory's JSON."""
    t = d["throughput"]
    for key, band_key in [("decode_tokens_per_s", "decode_band"),
                          ("decode_tokens_per_s_full_context", "decode_band"),
                          ("prefill_tokens_per_s", "prefill_band"),
                          ("time_to_first_token_s", "prefill_band"),
                          ("serving_total_tokens_per_s", "serving_band")]:
        yield key, t[key], t[band_key]
    for p in [d["plan"], *d["plans"]]:
        if p is None:
            continue
        for key, band_key in [("decode_tokens_per_s", "decode_band"),
                              ("decode_tokens_per_s_full_context", "decode_band"),
                              ("prefill_tokens_per_s", "prefill_band")]:
            yield f"plan {p['path']} {key}", p[key], p[band_key]


@pytest.mark.parametrize("model,gpu,kw", QUESTIONS)
def test_every_speed_in_the_json_has_its_band(advisor, model, gpu, kw):
    adv = advisor.explain(model, gpu, **kw)
    d = json.loads(render_json(adv))
    seen = 0
    committed = _committed()["categories"]
    for key, value, band in _speed_pairs(d):
        if value is None:  # no figure (does not fit, or no prefill with offload)
            continue
        seen += 1
        assert band is not None, key
        entry = committed[band["category"]]
        assert band["uncalibrated"] == (entry["status"] == "uncalibrated"), key
        if band["uncalibrated"]:
            assert band["reason"] == entry["reason"] and band["median_pct"] is None
        else:
            assert (band["median_pct"], band["p90_pct"], band["rows"]) == \
                (entry["median_pct"], entry["p90_pct"], entry["rows"])
        if d["gpu"]["id"] == gpu and gpu in ("mi300x", "arc-a770-16gb") and not key.startswith("plan"):
            assert band["uncalibrated"] and band["category"] in ("amd", "intel"), key
    assert seen >= 2


def test_band_follows_the_category_of_each_plan(advisor):
    """Offload plans, vLLM plans and llama.cpp on one NVIDIA GPU each carry their own band."""
    d = json.loads(render_json(advisor.explain("llama-3.1-70b", "rtx-4090")))
    by_path = {p["path"]: p for p in d["plans"]}
    for p in d["plans"]:
        cat = p["decode_band"]["category"]
        vendor = advisor.kb.gpu(p["gpu_id"]).vendor
        if vendor in ("amd", "intel"):
            assert cat == vendor, p["path"]
        elif p["cpu_offload_layers"] or p["moe_cpu_layers"] or "n_gpu_layers" in p:
            assert cat == "offload", p["path"]
        elif p["runtime"] == "vllm":
            assert cat == "vllm", p["path"]
        elif p["runtime"] == "llama.cpp" and p["gpu_count"] == 1:
            assert cat in ("decode-llamacpp-nvidia", "moe"), p["path"]
    assert by_path


def test_bands_come_from_the_data_file(advisor, monkeypatch):
    """Change the file's figures: the advisory quotes the changed ones."""
    table = json.loads(json.dumps(_committed()))
    table["categories"]["decode-llamacpp-nvidia"].update(median_pct=41.0, p90_pct=93.0)
    monkeypatch.setattr(speed_bands, "band_table", lambda: table)
    speed_bands.band.cache_clear()
    try:
        adv = advisor.explain("llama-3.1-8b", "rtx-4090", "Q4_K_M")
        d = json.loads(render_json(adv))
        assert d["throughput"]["decode_band"]["median_pct"] == 41.0
        assert "usually within 41%, p90 93%" in render_markdown(adv)
    finally:
        speed_bands.band.cache_clear()


def test_missing_category_is_one_clear_error(monkeypatch):
    from advisor.errors import AdvisorError

    monkeypatch.setattr(speed_bands, "band_table", lambda: {"command": "X", "categories": {}})
    speed_bands.band.cache_clear()
    try:
        with pytest.raises(AdvisorError, match="no speed category 'moe'.*X"):
            speed_bands.band("moe")
    finally:
        speed_bands.band.cache_clear()


def test_markdown_gives_each_band_in_full_once(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", "Q4_K_M")
    md = render_markdown(adv)
    full = speed_bands.band("decode-llamacpp-nvidia").text()
    assert md.count(full) == 1
    speed = next(line for line in md.splitlines() if line.startswith("Generating should run"))
    assert full in speed
    short = speed_bands.band("decode-llamacpp-nvidia").short()
    assert f"; {short})" in md.split("## What to do")[1]   # What to do quotes it short
    amd = render_markdown(advisor.explain("llama-3.1-70b", "mi300x"))
    assert amd.count("uncalibrated for AMD GPUs: no profile fitted for this vendor") == 1
    assert "usually within" not in amd


def test_bands_are_deterministic(advisor):
    a = advisor.explain("llama-3.1-70b", "rtx-4090")
    b = advisor.explain("llama-3.1-70b", "rtx-4090")
    assert render_json(a) == render_json(b)
    assert render_markdown(a) == render_markdown(b)


def test_a_band_mixing_held_out_and_in_sample_rows_says_both():
    """NVIDIA prefill (issue 15): quantized rows held out GPU by GPU, the F16 row in-sample (the
    float path is the H200's); the words say so rather than only one of them."""
    from advisor.speed_bands import band_from_entry

    e = _committed()["categories"]["prefill-llamacpp-nvidia"]
    assert e["status"] == "calibrated" and e["basis"] == "in-sample and leave-one-GPU-out"
    assert len(e["gpus"]) >= 4 and e["median_pct"] <= 20 and e["p90_pct"] <= 40
    text = band_from_entry("prefill-llamacpp-nvidia", e).text()
    assert text.endswith("each GPU held out of the fit, some in-sample"), text
    one = band_from_entry("x", dict(e, basis="in-sample")).text()
    assert one.endswith("GPUs, in-sample"), one
