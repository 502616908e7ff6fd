"""The twelfth hostile tester's faults, one kind each (tests fail before the fix, pass after):

1. a config.json's YaRN block with factor 1.0 (no extension) or an integral float
   original_max_position_embeddings (8192.0, which transformers takes) was refused;
2. transformers v5's rope_parameters nested by layer type (Gemma 3's full_attention /
   sliding_attention) was read as no rope scaling;
3. a price of 1e-300 printed "0.00";
4. SGLang's model support was not checked: `--runtime sglang` printed launch_server for a class
   SGLang has no model for;
5. a reasoning model whose floor no plan reaches ended in a rent plan with no word why.
"""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error
from tests.file_helpers import LLAMA_CONFIG, config_folder
from tests.test_config_rope_scaling import QWEN_YARN


def explain(*args):
    return CliRunner().invoke(main, ["explain", *map(str, args)])


# --- 1. YaRN numbers as transformers takes them ------------------------------------------------

@pytest.mark.parametrize("scaling, limit", [
    ({"type": "yarn", "factor": 1.0, "original_max_position_embeddings": 32768}, 32768),
    ({"rope_type": "yarn", "factor": 1, "original_max_position_embeddings": 32768}, 32768),
    ({"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768.0}, 131072),
    ({"type": "yarn", "factor": 2.0, "original_max_position_embeddings": 8192.0}, 32768),
], ids=["factor-1.0", "factor-int-1", "original-float", "original-float-inside"])
def test_valid_yarn_numbers_are_read(tmp_path, scaling, limit):
    """factor 1.0 is YaRN that extends nothing (the config's positions stay the limit), and an
    original_max_position_embeddings of 32768.0 is the whole number transformers takes: both
    were refused with "needs a factor above 1 ..."."""
    folder = config_folder(tmp_path / "c", json.dumps({**QWEN_YARN, "rope_scaling": scaling}))
    r = explain(folder / "config.json", "rtx-4090", "-c", limit, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["workload"]["context_tokens"] == limit
    one_line_error(explain(folder / "config.json", "rtx-4090", "-c", limit * 2), f"{limit:,}")


@pytest.mark.parametrize("bad", [
    {"factor": 4.5, "original_max_position_embeddings": 8192.5},     # not a whole number
    {"factor": float("nan")},
    {"factor": float("inf")},
    {"factor": -4.0},
    {"factor": 0.5},                                                  # shrinks: not an extension
    {"factor": 1e9},                                                  # absurd
    {"factor": 4.0, "original_max_position_embeddings": -32768},
    {"factor": 4.0, "original_max_position_embeddings": float("inf")},
    {"factor": 4.0, "original_max_position_embeddings": True},
    {"factor": 4.0, "rope_theta": float("nan")},
    {"factor": 4.0, "rope_theta": -1.0},
], ids=["fraction", "nan", "inf", "negative", "below-1", "absurd", "neg-original",
        "inf-original", "bool-original", "nan-theta", "neg-theta"])
def test_bad_yarn_numbers_are_one_line(tmp_path, bad):
    cfg = {**QWEN_YARN, "rope_scaling": {"type": "yarn", **bad}}
    folder = config_folder(tmp_path / "c", json.dumps(cfg))
    one_line_error(explain(folder / "config.json", "rtx-4090"), "rope_scaling", "yarn")


# --- 2. rope_parameters nested by layer type (transformers v5) ---------------------------------

GEMMA3_V5 = {**LLAMA_CONFIG, "model_type": "gemma3_text", "max_position_embeddings": 32768,
             "sliding_window": 1024, "head_dim": 64,
             "layer_types": ["sliding_attention"] * 5 + ["full_attention"] + ["sliding_attention"] * 5
             + ["full_attention"] + ["sliding_attention"] * 5 + ["full_attention"]
             + ["sliding_attention"] * 5 + ["full_attention"]}


def _gemma3(rope_parameters, with_layer_types=True):
    cfg = {**GEMMA3_V5, "num_hidden_layers": 24, "rope_parameters": rope_parameters}
    cfg.pop("rope_theta", None)
    cfg.pop("rope_scaling", None)
    if not with_layer_types:
        cfg.pop("layer_types")
        cfg["sliding_window_pattern"] = 6
    return cfg


NESTED_YARN = {
    "full_attention": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768,
                       "rope_theta": 1000000.0},
    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}


@pytest.mark.parametrize("with_layer_types", [True, False], ids=["layer_types", "no-layer_types"])
def test_rope_parameters_nested_by_layer_type_are_read(tmp_path, with_layer_types):
    """Gemma 3 as transformers v5 writes it: the full_attention entry's YaRN extends the context
    to 32,768 x 4 (it was read as no scaling, and 131,072 refused)."""
    folder = config_folder(tmp_path / "g", json.dumps(_gemma3(NESTED_YARN, with_layer_types)))
    r = explain(folder / "config.json", "h100-80gb", "-c", 131072, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["workload"]["context_tokens"] == 131072
    md = explain(folder / "config.json", "h100-80gb", "-c", 131072).output
    assert "YaRN rope scaling, factor 4 over 32,768 positions" in md
    one_line_error(explain(folder / "config.json", "h100-80gb", "-c", 262144), "131,072")


def test_nested_rope_parameters_whose_full_attention_is_not_yarn_extend_nothing(tmp_path):
    """YaRN on the sliding layers only (each sees its window) does not lengthen the context."""
    rp = {"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
          "sliding_attention": {"rope_type": "yarn", "factor": 4.0,
                                "original_max_position_embeddings": 32768}}
    folder = config_folder(tmp_path / "g", json.dumps(_gemma3(rp)))
    one_line_error(explain(folder / "config.json", "h100-80gb", "-c", 65536),
                   "32,768", "max_position_embeddings in its config")


def test_nested_rope_parameters_with_bad_numbers_are_one_line(tmp_path):
    for name, rp in (("factor", {**NESTED_YARN, "full_attention": {**NESTED_YARN["full_attention"],
                                                                    "factor": "four"}}),
                     ("entry", {**NESTED_YARN, "sliding_attention": [1, 2]})):
        folder = config_folder(tmp_path / name, json.dumps(_gemma3(rp)))
        one_line_error(explain(folder / "config.json", "h100-80gb"), "rope_parameters")


def test_flat_rope_parameters_still_read(tmp_path):
    v5 = {k: v for k, v in QWEN_YARN.items() if k not in ("rope_scaling", "rope_theta")}
    v5["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1000000.0,
                             "original_max_position_embeddings": 32768.0}
    folder = config_folder(tmp_path / "v5", json.dumps(v5))
    r = explain(folder / "config.json", "rtx-4090", "-c", 131072, "--format", "json")
    assert r.exit_code == 0, r.output


# --- 3. a price below a cent a GPU-hour ------------------------------------------------------

PRICED = """\
id: penny-card
name: Penny Card
vendor: nvidia
architecture: hopper
memory_bytes: 85899345920
bandwidth_gb_s: 3350
bf16_tflops: 989
fp8_tflops: 1979
prices:
  - provider: Some Cloud
    usd_per_hour: {usd}
    kind: on-demand
    gpus: {gpus}
    per: {per}
    date: "2026-11-30"
    source: https://cloud.example.com/pricing
rental: {rental}
sources:
  - fields: [architecture, memory_bytes, bandwidth_gb_s, bf16_tflops, fp8_tflops, rental]
    source: a test fixture, not a real card
"""


def _kb(tmp_path, usd, gpus=1, per="gpu"):
    d = tmp_path / "kb"
    (d / "gpus").mkdir(parents=True, exist_ok=True)
    (d / "gpus" / "penny-card.yaml").write_text(PRICED.format(
        usd=usd, gpus=gpus, per=per, rental="alone" if gpus == 1 else "node"))
    return d


@pytest.mark.parametrize("usd, gpus, per", [
    ("1.0e-300", 1, "gpu"), (0.001, 1, "gpu"), (0.009, 8, "gpu"), (0.05, 8, "unit")],
    ids=["1e-300", "tenth-of-a-cent", "node-per-gpu", "node-unit-under-a-cent-each"])
def test_a_price_under_a_cent_a_gpu_hour_is_refused_in_one_line(tmp_path, usd, gpus, per):
    """1e-300 an hour was taken and printed as $0.00 an hour: a free card. It is refused, with
    the file and the least price taken."""
    kb = _kb(tmp_path, usd, gpus, per)
    r = CliRunner().invoke(main, ["kb", "validate", str(kb)])
    assert r.exit_code == 2 and "penny-card.yaml" in r.output and "$0.01" in r.output, r.output
    assert "Traceback" not in r.output
    r = explain("llama-3.1-8b", "penny-card", "--kb", kb)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert "usd_per_hour" in r.output and "$0.01" in r.output, r.output


def test_a_cent_a_gpu_hour_is_taken_and_no_cost_prints_as_zero(tmp_path):
    """The least price is taken; a cost derived from it that is under half a cent (a million
    tokens at a fast plan's speed) is printed with the digits that show it, not as $0.00."""
    from advisor.render import usd

    assert usd(0.0028) == "0.0028" and usd(3e-7) == "3e-07" and usd(0.01) == "0.01"
    assert usd(1234.5) == "1,234.50" and usd(0) == "0.00"
    kb = _kb(tmp_path, 0.01)
    r = CliRunner().invoke(main, ["kb", "validate", str(kb)])
    assert r.exit_code == 0, r.output
    # vLLM cannot run on the P40 (Pascal): the plan rents the penny card, where a 270M model
    # decodes so fast that a million tokens cost under half a cent
    md = explain("gemma-3-270m", "tesla-p40", "--runtime", "vllm", "--kb", kb).output
    assert re.search(r"\$0\.00[1-9][0-9]? a million output tokens", md), md
    assert "$0.00 " not in md, md


def test_a_training_cost_under_half_a_cent_is_not_zero():
    from advisor.sizing.train_time import TrainingTime

    t = TrainingTime(tokens=1000, gpus=1, tokens_per_s=1e6, hours=1000 / 1e6 / 3600)
    assert t.cost_usd(0.01) > 0


# --- 4. SGLang's model registry ----------------------------------------------------------------

# the KB's classes SGLang 0.5.23's registry has no model for (advisor/data/sglang_architectures.yaml)
SGLANG_LACKS = {"SmolLM3ForCausalLM", "SeedOssForCausalLM", "Phi3VForCausalLM", "Ernie4_5ForCausalLM",
                "Dots1ForCausalLM"}


def _offered(d: dict) -> list[dict]:
    return [p for p in [d.get("plan")] + (d.get("plans") or []) if p and p.get("command")]


def test_sglang_registry_data_names_its_release_source_and_date():
    from advisor.sizing.runtime_models import SGLANG, SGLANG_VERSION, VLLM, _key
    from advisor.sizing import vllm_models

    spec = SGLANG.data()["versions"][SGLANG_VERSION]
    assert spec["release"] == "0.5.23" and spec["oldest"] == "0.5.1" and spec["date"] == "2026-10-30"
    assert spec["source"].startswith("https://github.com/sgl-project/sglang/tree/v0.5.23/python/sglang/srt/models")
    assert "sha256" in spec["wheel"] and len(spec["architectures"]) > 200
    assert "LlamaForCausalLM" in spec["architectures"] and "Qwen3ForCausalLM" in spec["architectures"]
    for cls, first in SGLANG.data()["first_release"].items():
        assert _key(spec["oldest"]) < _key(first) <= _key(spec["release"]) and SGLANG.loads(None, cls), cls
    # one code for both runtimes: vLLM's functions are the shared class's
    assert vllm_models.release_of("0.5") == VLLM.release_of("0.5") == "0.5.5"


def test_every_kb_class_sglang_lacks_is_the_known_few(kb):
    from advisor.sizing.runtime_models import SGLANG

    lacking = {m.hf_architecture for m in kb.models.by_id.values() if not SGLANG.loads(None, m.hf_architecture)}
    assert lacking == SGLANG_LACKS
    # Olmo 3: SGLang's config renames its class to Olmo2ForCausalLM, which it has
    assert SGLANG.loads(None, "Olmo3ForCausalLM") and SGLANG.registered("Olmo3ForCausalLM") == "Olmo2ForCausalLM"


@pytest.mark.parametrize("model", ["smollm3-3b", "seed-oss-36b", "ernie-4.5-0.3b", "dots.llm1"])
def test_sglang_refuses_a_model_it_has_no_class_for_and_plans_none(model, kb):
    """`--runtime sglang` printed `python -m sglang.launch_server --model-path
    HuggingFaceTB/SmolLM3-3B`, which SGLang's registry cannot load. Now the verdict is cannot-run
    with the reason in the JSON, and no plan runs that model under SGLang."""
    r = explain(model, "h200", "--runtime", "sglang", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    cls = kb.model(model).hf_architecture
    assert d["verdict"] == "cannot-run"
    assert f"SGLang 0.5.23 has no model class for {cls}" in d["cannot_run"]
    assert "Transformers backend" in d["cannot_run"]
    for p in _offered(d):
        assert p["runtime"] == "sglang" and kb.model(p["model_id"]).hf_architecture not in SGLANG_LACKS, p
    md = explain(model, "h200", "--runtime", "sglang").output
    assert f"**Verdict: cannot run.** SGLang 0.5.23 has no model class for {cls}" in md


def test_sglang_checks_a_config_models_class_and_says_when_it_cannot(tmp_path):
    unknown = config_folder(tmp_path / "u", architectures=["MadeUpForCausalLM"])
    d = json.loads(explain(unknown / "config.json", "h100-80gb", "--runtime", "sglang",
                           "--format", "json").output)
    assert d["verdict"] == "cannot-run" and "MadeUpForCausalLM" in d["cannot_run"]
    known = config_folder(tmp_path / "k", architectures=["LlamaForCausalLM"])
    d = json.loads(explain(known / "config.json", "h100-80gb", "--runtime", "sglang",
                           "--format", "json").output)
    assert d["verdict"] == "fits"
    nameless = config_folder(tmp_path / "n")
    d = json.loads(explain(nameless / "config.json", "h100-80gb", "--runtime", "sglang",
                           "--format", "json").output)
    assert d["verdict"] == "fits"
    assert any("SGLang 0.5.23" in n and "not checked" in n
               for n in d["memory"]["breakdown"]["assumptions"])


def test_sglang_names_the_release_that_added_a_newer_class():
    d = json.loads(explain("qwen3-next-80b-a3b-instruct", "h200", "--runtime", "sglang",
                           "--format", "json").output)
    assert any("from release 0.5.2 on" in n and "SGLang" in n
               for n in d["memory"]["breakdown"]["assumptions"])


# --- 5. a floor no plan reaches ----------------------------------------------------------------

def _rules_with(tmp_path, old, new):
    import shutil
    from pathlib import Path

    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[1] / "rules", rules)
    f = rules / "objective.yaml"
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new))
    return rules


def test_a_reasoning_floor_no_plan_reaches_is_said_and_named(tmp_path):
    """A user's reasoning floor of 900 tokens/s: every plan falls below it, and What to do was a
    rented card (rule plan-last-resort) with no word why. Now one line says that no plan, on the
    RTX 4090 or elsewhere, reaches the floor, and names it; the JSON carries the same line."""
    rules = _rules_with(tmp_path, "reasoning_quality_class: small, reasoning_decode_tokens_per_s: 8.0}",
                        "reasoning_quality_class: small, reasoning_decode_tokens_per_s: 900.0}")
    md = explain("qwq-32b", "rtx-4090", "--rules", rules).output
    what = md[md.index("## What to do"):]
    line = what.splitlines()[1]
    assert line.startswith("No plan reaches QwQ 32B's reasoning floor"), what
    assert "900 tokens/s and quality small or better" in line and "NVIDIA GeForce RTX 4090" in line
    assert "usable.quality" in line and "--prefer quality" in line
    d = json.loads(explain("qwq-32b", "rtx-4090", "--rules", rules, "--format", "json").output)
    assert d["plan"]["usable"] is False and "900 tokens/s" in d["floor_unmet"]


def test_a_chat_models_floor_no_plan_reaches_is_said_too(tmp_path):
    rules = _rules_with(tmp_path, "quality: {quality_class: noticeable, decode_tokens_per_s: 1.5,",
                        "quality: {quality_class: noticeable, decode_tokens_per_s: 5000,")
    d = json.loads(explain("llama-3.1-8b", "rtx-4090", "--rules", rules, "--format", "json").output)
    assert d["plan"] and d["plan"]["usable"] is False
    assert d["floor_unmet"].startswith("No plan reaches Llama 3.1 8B")
    assert "usable floor" in d["floor_unmet"] and "5,000 tokens/s and quality noticeable" in d["floor_unmet"]


def test_no_floor_line_where_a_plan_reaches_it():
    d = json.loads(explain("qwq-32b", "rtx-4090", "--format", "json").output)
    assert d["plan"]["usable"] is True and "floor_unmet" not in d
    assert "No plan reaches" not in explain("qwq-32b", "rtx-4090").output
