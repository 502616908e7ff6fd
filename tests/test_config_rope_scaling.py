"""A config.json that declares YaRN rope scaling (issue 14; issue 12: a config that already
declares YaRN scaling extends the context to original x factor, and beyond the config's
positions is a warning naming the rope scaling, not an error). Each test writes its own small
config.json; the Hub's copy of such a config is tests/test_hub.py's."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error
from tests.file_helpers import LLAMA_CONFIG, config_folder

# a tiny Qwen2-shaped model whose config declares YaRN, as Qwen2.5's cards say to write it
QWEN_YARN = {**LLAMA_CONFIG, "model_type": "qwen2", "max_position_embeddings": 32768,
             "rope_theta": 1000000.0,
             "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}


def explain(*args):
    return CliRunner().invoke(main, ["explain", *map(str, args)])


@pytest.mark.parametrize("scaling", [
    {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
    {"rope_type": "yarn", "factor": 4},  # no original: max_position_embeddings is it
], ids=["type", "rope_type", "no-original"])
def test_a_config_with_yarn_reaches_original_times_factor(tmp_path, scaling):
    """-c 131,072 was refused ("beyond ... max_position_embeddings in its config"): the config
    itself turns YaRN on, so the model's context is 32,768 x 4. The advisory sizes it, warns
    that the positions past 32,768 are YaRN-scaled, and the command carries the scaling."""
    folder = config_folder(tmp_path / "qy", json.dumps({**QWEN_YARN, "rope_scaling": scaling}))
    r = explain(folder / "config.json", "rtx-4090", "-c", 131072, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["workload"]["context_tokens"] == 131072
    md = explain(folder / "config.json", "rtx-4090", "-c", 131072).output
    assert "YaRN rope scaling, factor 4 over 32,768 positions" in md
    assert "--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768" in md
    # beyond original x factor it is refused, naming where the limit comes from
    one_line_error(explain(folder / "config.json", "rtx-4090", "-c", 262144),
                   "131,072", "YaRN rope scaling")


def test_the_v5_spelling_and_the_text_config_of_a_multimodal_config(tmp_path):
    """transformers v5 writes rope_parameters (rope_type, factor, rope_theta); a multimodal
    config keeps the text model's in text_config. Both are read."""
    v5 = {k: v for k, v in QWEN_YARN.items() if k not in ("rope_scaling", "rope_theta")}
    v5["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1000000.0,
                             "original_max_position_embeddings": 32768}
    for name, cfg in (("v5", v5), ("mm", {"model_type": "qwen2_5_vl", "text_config": QWEN_YARN})):
        folder = config_folder(tmp_path / name, json.dumps(cfg))
        r = explain(folder / "config.json", "rtx-4090", "-c", 131072, "--format", "json")
        assert r.exit_code == 0, (name, r.output)


def test_no_yarn_no_longer_context(tmp_path):
    """Without YaRN (none, llama3's scaling, which keeps max_position_embeddings as the
    length, or a factor that reaches no further) the config's positions stay the limit; a YaRN
    block whose numbers cannot be read is one line, not a traceback."""
    for name, scaling in (("none", None),
                          ("llama3", {"rope_type": "llama3", "factor": 8.0,
                                      "original_max_position_embeddings": 8192}),
                          ("inside", {"type": "yarn", "factor": 4.0,
                                      "original_max_position_embeddings": 4096})):
        cfg = {**QWEN_YARN, "rope_scaling": scaling}
        folder = config_folder(tmp_path / name, json.dumps(cfg))
        one_line_error(explain(folder / "config.json", "rtx-4090", "-c", 65536),
                       "32,768", "max_position_embeddings in its config")
    for name, bad in (("factor", {"type": "yarn", "factor": "four"}),
                      ("original", {"type": "yarn", "factor": 4.0,
                                    "original_max_position_embeddings": 65536})):
        folder = config_folder(tmp_path / name, json.dumps({**QWEN_YARN, "rope_scaling": bad}))
        one_line_error(explain(folder / "config.json", "rtx-4090"), "rope_scaling", "yarn")
