"""Which model architectures each vLLM version loads (issue 14, "wrong answers presented as
right": `--runtime vllm --vllm-version 0.5` printed `vllm serve` for Qwen3, Gemma 3, gpt-oss ...,
classes vLLM 0.5 had no model for, so the command failed at start).

The data: advisor/data/vllm_architectures.yaml (each profile's registry, read from the release's
wheel, with the file and commit); the models' classes: Model.hf_architecture in kb/models.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.kb.schema import HF_CLASS_PATTERN
from advisor.sizing.vllm_models import (_key, cannot_load, loads, release_note, release_of,
                                       unchecked_note, vllm_architectures)
from advisor.sizing.vllm_memory import VLLM_VERSIONS

KB_MODELS = Path(__file__).resolve().parent.parent / "kb" / "models"


def explain(*args) -> dict:
    r = CliRunner().invoke(main, ["explain", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def offered(d: dict) -> list[dict]:
    """Every plan the advisory offers with a command: What to do's and each path's best plan."""
    plans = [d["plan"]] if d.get("plan") else []
    plans += d.get("plans") or []
    return [p for p in plans if p and p.get("command")]


def commands(d: dict) -> list[str]:
    return [p["command"] for p in offered(d)]


def vllm_model_ids(d: dict) -> set[str]:
    """The models of the plans that print a `vllm serve` command."""
    return {p["model_id"] for p in offered(d) if p["command"].startswith("vllm")}


# --- the data -------------------------------------------------------------------------------

def test_every_profile_has_its_registry_with_release_file_and_source():
    data = vllm_architectures()
    assert set(data["versions"]) == set(VLLM_VERSIONS)
    for v, spec in data["versions"].items():
        assert spec["file"].startswith("vllm/model_executor/models/")
        assert spec["source"].startswith("https://github.com/vllm-project/vllm/blob/v" + spec["release"])
        assert len(spec["architectures"]) > 50 and "LlamaForCausalLM" in spec["architectures"]
        assert _key(spec["oldest"]) <= _key(spec["release"])
    assert release_of("0.5") == "0.5.5" and release_of("v1") == "0.12.0"


def test_first_releases_are_after_0_5_5_and_in_the_current_registry_unless_removed():
    data = vllm_architectures()
    for cls, first in data["first_release"].items():
        assert _key(first) > _key("0.5.5"), cls
        assert not loads("0.5", cls), cls
        assert loads("v1", cls) or cls in data["removed"], cls


# --- the KB field -----------------------------------------------------------------------------

def test_every_kb_model_names_its_class_with_a_source(kb):
    missing, unsourced = [], []
    for m in kb.models.by_id.values():
        if m.hf_architecture is None:
            missing.append(m.id)
            continue
        assert re.fullmatch(HF_CLASS_PATTERN, m.hf_architecture), m.id
        if not any("hf_architecture" in s.fields and s.source.startswith("https://") for s in m.sources):
            unsourced.append(m.id)
    assert not missing and not unsourced


def test_the_current_version_loads_every_kb_model_but_llama_3_2_vision(kb):
    """v0.12.0's registry has every KB model's class except Mllama (removed after 0.10.2),
    which runtimes.cannot_run already refuses under vLLM; the message says so."""
    not_loaded = sorted(m.id for m in kb.models.by_id.values() if not loads("v1", m.hf_architecture))
    assert not_loaded == ["llama-3.2-11b-vision", "llama-3.2-90b-vision"]
    why = cannot_load(kb.model("llama-3.2-11b-vision"), "v1")
    assert "vLLM 0.12.0 has no model class for MllamaForConditionalGeneration" in why
    assert "removed it after 0.10.2" in why


def test_kb_entry_without_the_field_validates_and_says_the_check_was_not_made(tmp_path):
    """Documented as allowed (schema Model.hf_architecture): an entry of your own may leave it
    out; a vLLM advisory then says the check could not be made, and is not refused."""
    (tmp_path / "models").mkdir()
    text = (KB_MODELS / "qwen3-8b.yaml").read_text()
    text = text.replace("hf_architecture: Qwen3ForCausalLM\n", "")
    text = re.sub(r"  - fields: \[hf_architecture\]\n(    .*\n)+?(?=  - fields)", "", text)
    (tmp_path / "models" / "qwen3-8b.yaml").write_text(text)  # replaces the built-in entry
    r = CliRunner().invoke(main, ["kb", "validate", str(tmp_path)])
    assert r.exit_code == 0, r.output
    d = explain("qwen3-8b", "h100-80gb", "--runtime", "vllm", "--vllm-version", "0.5",
                "--kb", str(tmp_path))
    assert d["verdict"] != "cannot-run"
    notes = d["memory"]["breakdown"]["assumptions"]
    assert any("not checked" in n and "vLLM 0.5.5" in n for n in notes), notes


def test_a_class_without_its_source_fails_validation(tmp_path):
    (tmp_path / "models").mkdir()
    text = (KB_MODELS / "qwen3-8b.yaml").read_text()
    text = re.sub(r"  - fields: \[hf_architecture\]\n(    .*\n)+?(?=  - fields)", "", text)
    (tmp_path / "models" / "qwen3-8b.yaml").write_text(text)
    r = CliRunner().invoke(main, ["kb", "validate", str(tmp_path)])
    assert r.exit_code == 2
    assert "hf_architecture" in r.output and "Traceback" not in r.output


# --- the check --------------------------------------------------------------------------------

def test_a_model_vllm_0_5_loads_still_gets_its_command():
    d = explain("qwen2.5-7b", "rtx-4090", "--runtime", "vllm", "--vllm-version", "0.5")
    assert d["verdict"] != "cannot-run" and d["cannot_run"] is None
    assert d["plan"]["command"].startswith("vllm serve Qwen/Qwen2.5-7B-Instruct")


@pytest.mark.parametrize("model,cls,added", [
    ("qwen3-8b", "Qwen3ForCausalLM", "0.8.4"),
    ("qwen3-30b-a3b", "Qwen3MoeForCausalLM", "0.8.4"),
    ("gemma-3-27b", "Gemma3ForConditionalGeneration", "0.8.0"),
    ("gpt-oss-20b", "GptOssForCausalLM", "0.10.1"),
])
def test_a_class_vllm_0_5_lacks_is_cannot_run_with_the_version_and_never_a_vllm_command(kb, model, cls, added):
    d = explain(model, "h100-80gb", "--runtime", "vllm", "--vllm-version", "0.5")
    assert d["verdict"] == "cannot-run"
    assert d["cannot_run"] == (f"vLLM 0.5.5 has no model class for {cls} (the architecture of "
                               f"{d['model']['name']}); it was added in vLLM {added}")
    # no vLLM plan for this model; another model's plan only where 0.5.5 loads that one
    ids = vllm_model_ids(d)
    assert d["model"]["id"] not in ids
    assert all(loads("0.5", kb.model(i).hf_architecture) for i in ids), ids


def test_deepseek_v3_under_0_5_names_the_release_that_added_it(kb):
    assert cannot_load(kb.model("deepseek-v3"), "0.5").endswith("it was added in vLLM 0.6.6")
    assert cannot_load(kb.model("deepseek-v3"), "v1") is None


def test_plans_under_0_5_leave_vllm_out_for_such_a_model_when_no_runtime_is_named():
    """--vllm-version without --runtime asks how vLLM runs it (hostile pass 13: the option was
    silently dropped); vLLM 0.5 has no Qwen3 class, so that cannot run: no plan serves it under
    vLLM 0.5, and the verdict names the release that added the class."""
    d = explain("qwen3-8b", "h100-80gb", "--vllm-version", "0.5")
    assert d["verdict"] == "cannot-run"
    assert "Qwen3ForCausalLM" in json.dumps(d) and "vLLM 0.8.4" in json.dumps(d)
    assert "qwen3-8b" not in vllm_model_ids(d)


def test_the_default_version_still_serves_qwen3_and_says_which_release_added_it():
    d = explain("qwen3-8b", "h100-80gb", "--runtime", "vllm")
    assert d["verdict"] != "cannot-run"
    assert d["plan"]["command"].startswith("vllm serve Qwen/Qwen3-8B")
    assert any("run vLLM 0.8.4 or newer" in n for n in d["memory"]["breakdown"]["assumptions"])


def test_a_class_no_release_has_is_refused_without_inventing_a_release(kb):
    from dataclasses import replace

    m = replace(kb.model("qwen3-8b"), hf_architecture="NoSuchForCausalLM")
    assert cannot_load(m, "v1") == ("vLLM 0.12.0 has no model class for NoSuchForCausalLM (the "
                                    "architecture of Qwen3 8B); no vLLM release read here has one")
    assert release_note(m, "v1") is None


def test_unknown_class_is_never_a_silent_pass(kb):
    from dataclasses import replace

    m = replace(kb.model("qwen3-8b"), hf_architecture=None)
    assert cannot_load(m, "0.5") is None          # not refused: not known to be missing
    assert "not checked" in unchecked_note(m, "0.5")
    assert unchecked_note(kb.model("qwen3-8b"), "0.5") is None


def test_a_config_json_gives_its_class_and_is_checked(tmp_path):
    cfg = json.loads(json.dumps({
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 1024,
        "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
        "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "max_position_embeddings": 40960, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "rms_norm_eps": 1e-6, "rope_theta": 1000000}))
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    d = explain(str(tmp_path / "config.json"), "h100-80gb", "--runtime", "vllm", "--vllm-version", "0.5")
    assert d["verdict"] == "cannot-run" and "Qwen3ForCausalLM" in d["cannot_run"]
    del cfg["architectures"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    d = explain(str(tmp_path / "config.json"), "h100-80gb", "--runtime", "vllm", "--vllm-version", "0.5")
    assert d["verdict"] != "cannot-run"
    assert any("not checked" in n for n in d["memory"]["breakdown"]["assumptions"])


def test_kb_add_writes_the_class(tmp_path):
    src = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
           "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
           "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
           "tie_word_embeddings": True, "torch_dtype": "bfloat16"}
    (tmp_path / "config.json").write_text(json.dumps(src))
    r = CliRunner().invoke(main, ["kb", "add", "--from", str(tmp_path / "config.json"), "--id",
                                  "my-llama", "--out", str(tmp_path / "kb")])
    assert r.exit_code == 0, r.output
    text = next((tmp_path / "kb").rglob("my-llama.yaml")).read_text()
    assert "hf_architecture: LlamaForCausalLM" in text
    assert re.search(r"fields: \[architecture, hf_architecture", text)
    shutil.rmtree(tmp_path / "kb")


def test_a_class_only_the_newest_0_5_release_has_says_so(kb):
    """v0.5.3.post1's registry lacks a few classes v0.5.5's has (not_in_oldest): a model of one
    of them is served under "0.5", with a note that 0.5.3.post1 fails to load it."""
    from dataclasses import replace

    m = replace(kb.model("llama-3.1-8b"), hf_architecture="NemotronForCausalLM")
    assert cannot_load(m, "0.5") is None
    assert "0.5.3.post1's has not" in release_note(m, "0.5")
    assert release_note(kb.model("llama-3.1-8b"), "0.5") is None
