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
