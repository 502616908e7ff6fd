"""Hostile-input findings, fifth round (issue 14; the findings in full: /work/notes/hostile5.md):
the kinds the fourth round left open (a --force folder's foreign files, kb add's folder layout,
model files where only KB ids are taken, two Macs as one pool, llama.cpp's other KV cache types,
an Ollama tag under fine-tuning, a safetensors folder's stored dtype, a relative cache folder,
fit over many user models), then the fresh pass's."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from tests.bulk_helpers import run, tree
from tests.cli_helpers import one_line_error as _one_line_error
from tests.file_helpers import (
    LLAMA_CONFIG,
    config_folder,
    llama_gguf,
    safetensors_bytes,
)


def _tiny_safetensors(folder, dtype="BF16", norm_dtype=None, **config):
    """A complete tiny llama folder: config.json (LLAMA_CONFIG with `config`) and one
    model.safetensors whose weights are `dtype` (norms `norm_dtype`, default the same)."""
    config_folder(folder, **config)
    h, ff, v, kv = LLAMA_CONFIG["hidden_size"], LLAMA_CONFIG["intermediate_size"], LLAMA_CONFIG["vocab_size"], 32
    nd = norm_dtype or dtype
    tensors = {"model.embed_tokens.weight": (dtype, (v, h)), "lm_head.weight": (dtype, (v, h)),
               "model.norm.weight": (nd, (h,))}
    for i in range(LLAMA_CONFIG["num_hidden_layers"]):
        p = f"model.layers.{i}."
        tensors |= {p + "self_attn.q_proj.weight": (dtype, (h, h)), p + "self_attn.k_proj.weight": (dtype, (kv, h)),
                    p + "self_attn.v_proj.weight": (dtype, (kv, h)), p + "self_attn.o_proj.weight": (dtype, (h, h)),
                    p + "mlp.gate_proj.weight": (dtype, (ff, h)), p + "mlp.up_proj.weight": (dtype, (ff, h)),
                    p + "mlp.down_proj.weight": (dtype, (h, ff)), p + "input_layernorm.weight": (nd, (h,)),
                    p + "post_attention_layernorm.weight": (nd, (h,))}
    (folder / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    return folder


# -- a. a folder first written with --force: a later run replaced a foreign site file -----------

def test_a_force_folder_keeps_its_foreign_files_in_later_runs(tmp_path):
    """A --force markdown run into a folder holding the user's style.css marked the folder as
    generate's; a later HTML run (with or without --force) replaced that style.css. The marker
    now lists generate's own files there, and any other is refused."""
    out = tmp_path / "docs"
    out.mkdir()
    (out / "style.css").write_text("MINE")
    one = ("generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16")
    assert run(*one, "--force").exit_code == 0
    before = tree(out)
    for extra in ((), ("--force",)):
        _one_line_error(run(*one, "--format", "html", *extra), "already holds 'style.css'")
        assert tree(out) == before
    # its own files stay its own: a rerun, and a new page beside them, are written
    assert run(*one).exit_code == 0
    assert run("generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090",
               "-p", "fp16,q8_0").exit_code == 0
    (out / "llama-3.1-8b" / "rtx-4090__fp8.md").write_text("MINE")   # put there later
    _one_line_error(run("generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090",
                        "-p", "fp8"), "already holds 'llama-3.1-8b/rtx-4090__fp8.md'")
    assert (out / "style.css").read_text() == "MINE"


# -- b. kb add --out DIR wrote DIR/x.yaml, --kb DIR reads DIR/models --------------------------

def test_kb_add_out_is_a_kb_folder_that_kb_reads(tmp_path):
    cfg = {**LLAMA_CONFIG, "_name_or_path": "org/hostile-five"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = run("kb", "add", "--from", str(tmp_path / "config.json"), "--out", str(tmp_path / "kb"))
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(tmp_path / "kb" / "models" / "hostile-five.yaml")
    r = run("explain", "hostile-five", "rtx-4090", "--kb", str(tmp_path / "kb"))
    assert r.exit_code == 0 and "**Verdict: fits.**" in r.output, r.output


# -- c. gpus ./file.gguf said "unknown model" -------------------------------------------------

def test_gpus_reads_a_model_file_as_explain_does(tmp_path):
    path = llama_gguf(tmp_path / "tiny.gguf")
    r = run("gpus", str(path), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["precision"] == "fp32" and doc["gpus"]   # the file's own format, as explain's


@pytest.mark.parametrize("args, says", [
    (("fit", "{file}"), "is a file, not a gpu"),
    (("explain", "llama-3.1-8b", "{file}"), "is a file, not a gpu"),
    (("generate", "--out", "{tmp}/o", "-m", "{file}"), "is a model file: explain MODEL GPU and gpus MODEL read it"),
])
def test_a_model_file_where_only_kb_ids_are_taken_is_named_as_one(tmp_path, args, says):
    path = llama_gguf(tmp_path / "tiny.gguf")
    args = [a.format(file=path, tmp=tmp_path) for a in args]
    _one_line_error(run(*args), says)
    assert not (tmp_path / "o").exists()


# -- d. two Macs were one memory pool --------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("explain", "llama-3.1-8b", "m2-ultra-192gb", "--gpus", "2"),
    ("explain", "llama-3.1-8b", "m2-ultra-192gb", "--gpus", "2", "--task", "finetune"),
    ("fit", "m3-ultra-256gb", "--gpus", "3"),
    ("generate", "--out", "{tmp}/o", "-m", "llama-3.1-8b", "-g", "m2-ultra-192gb", "--gpu-count", "2"),
])
def test_two_unified_memory_machines_are_not_one_pool(tmp_path, args):
    r = run(*[a.format(tmp=tmp_path) for a in args])
    _one_line_error(r, "is a whole machine", "not one memory pool")
    assert not (tmp_path / "o").exists()
    assert run("explain", "llama-3.1-8b", "m2-ultra-192gb").exit_code == 0


# -- e. llama.cpp's q5_0/q5_1/q4_1/iq4_nl KV caches were refused --------------------------------

@pytest.mark.parametrize("kv, bits", [("q5_1", 6), ("q5_0", 5.5), ("q4_1", 5), ("iq4_nl", 4.5)])
def test_llamacpp_kv_cache_types_are_sized_by_their_blocks(advisor, kv, bits):
    adv = advisor
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", kv, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["plan"]["command"].endswith(f"-fa on -ctk {kv} -ctv {kv}")
    kv_bytes = {k: adv.explain("llama-3.1-8b", "rtx-4090", kv_cache=k).situation.facts["kv_cache_bytes"]
                for k in ("fp16", kv)}
    assert kv_bytes[kv] == pytest.approx(kv_bytes["fp16"] * bits / 16, rel=1e-6)
    assert "not measured; counted at q4_0's loss" in run("explain", "llama-3.1-8b", "rtx-4090",
                                                         "--kv-cache", kv).output
    _one_line_error(run("explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", kv, "--flash-attn", "off"),
                    "needs --flash-attn on")


# -- f. an Ollama tag's quantization vanished under --task finetune ---------------------------

def test_an_ollama_tags_quantization_is_said_to_be_set_aside_when_fine_tuning():
    r = run("explain", "llama3.1:70b-instruct-q4_K_M", "rtx-4090", "--task", "finetune")
    assert r.exit_code == 0, r.output
    assert "is stored at Q4_K_M, which is set aside" in r.output
    j = json.loads(run("explain", "llama3.1:70b-instruct-q4_K_M", "rtx-4090", "--task", "finetune",
                       "--format", "json").output)
    assert "Q4_K_M" in j["workload"]["precision_source"]
    assert "set aside" not in run("explain", "llama-3.1-70b", "rtx-4090", "--task", "finetune").output


# -- g. a safetensors folder's precision followed config's torch_dtype, not its tensors --------

def test_a_safetensors_folder_is_named_by_its_stored_dtype(tmp_path):
    folder = _tiny_safetensors(tmp_path / "m", "BF16", "F32", torch_dtype="float32")
    r = run("explain", str(folder), "rtx-4090", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["workload"]["precision"] == "bf16"
    agree = _tiny_safetensors(tmp_path / "f16", "F16", torch_dtype="float16")
    assert json.loads(run("explain", str(agree), "rtx-4090", "--format", "json").output)["workload"]["precision"] == "fp16"
    packed = _tiny_safetensors(tmp_path / "u8", "U8", "BF16", torch_dtype="float32")
    _one_line_error(run("explain", str(packed), "rtx-4090"), "U8 tensors", "no quantization_config")


# -- h. a relative ADVISOR_CACHE_DIR put the cache in the working folder ----------------------

def test_a_relative_cache_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090"],
                           env={"ADVISOR_CACHE_DIR": "cache"})
    _one_line_error(r, "ADVISOR_CACHE_DIR 'cache' is a relative path")
    assert list(tmp_path.iterdir()) == []
    from advisor.cache import cache_dir

    monkeypatch.setenv("ADVISOR_CACHE_DIR", "cache")
    assert cache_dir().is_absolute()   # the library ignores it, as XDG's relative value


# -- i. fit over 1,000 user models took 12 s: every model's offloaded plans and every format's
#       memory were sized, though fit shows neither ------------------------------------------

def test_fit_sizes_only_what_it_shows(monkeypatch, kb):
    """fit and gpus ask for the GPUs-alone path: no offloaded plan is sized for them, and a
    format whose weights alone exceed the GPUs is not sized at any context. The answers are
    the ones the full planner gives."""
    import advisor.plans.evaluate as ev
    from advisor.advise import load_objective_file
    from advisor.bulk.inverse import models_that_fit
    from advisor.plans.planner import Planner
    from advisor.sizing.precision import parse_precision
    from advisor.sizing.workload import Workload

    objective = load_objective_file()
    full = Planner(kb, objective)
    g, work = kb.gpu("rtx-4090"), Workload(context_tokens=8192)
    expected = {}
    for m in kb.all_models()[:40]:
        plan = full.plans(ev.Ask.of(m, g, 1, work), paths=("your-hardware", "your-gpus")).best.get("your-gpus")
        expected[m.id] = None if plan is None else (plan.precision.name, plan.kv_cache_dtype, plan.context_tokens)

    def no_offload(*args, **kwargs):
        raise AssertionError("an offloaded plan was sized for the GPUs-alone path")

    sized = []
    real = ev.memory_total_bytes

    def counted(m, p, *args, **kwargs):
        sized.append((m.id, p.name))
        return real(m, p, *args, **kwargs)

    monkeypatch.setattr(ev, "plan_offload", no_offload)
    monkeypatch.setattr(ev, "plan_expert_offload", no_offload)
    monkeypatch.setattr(ev, "memory_total_bytes", counted)
    lean = Planner(kb, objective)
    for m in kb.all_models()[:40]:
        plan = lean.plans(ev.Ask.of(m, g, 1, work), paths=("your-gpus",)).best.get("your-gpus")
        assert (None if plan is None else (plan.precision.name, plan.kv_cache_dtype, plan.context_tokens)) == expected[m.id]
    usable = g.usable_memory_bytes - ev.fit_margin_bytes(1)
    for mid, p in sized:
        assert ev.model_weights_bytes(kb.model(mid), parse_precision(p), "llama.cpp") <= usable
    assert models_that_fit(Planner(kb, objective), kb, g, work)   # fit itself, patched, answers


# == the fresh pass ==============================================================================

# -- 1. generate --out with a name too long, in a folder that exists: a traceback ---------------

def test_generate_out_name_too_long_in_an_existing_folder(tmp_path):
    _one_line_error(run("generate", "--out", str(tmp_path / ("d" * 300)), "-m", "llama-3.1-8b",
                        "-g", "rtx-4090"), "File name too long")


# -- 2. an unusable local Hugging Face cache was blamed on the Hub's answer ----------------------

def test_an_unusable_hf_cache_is_named_as_the_cache(tmp_path):
    """In a process of its own: huggingface_hub reads HF_HOME once, when first imported."""
    import os
    import subprocess
    import sys

    (tmp_path / "file").write_text("x")
    env = {**os.environ, "HF_HOME": str(tmp_path / "file"), "HF_HUB_OFFLINE": "0",
           "HF_ENDPOINT": "http://127.0.0.1:9"}
    r = subprocess.run([sys.executable, "-m", "advisor", "explain", "org/repo", "rtx-4090"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "the local Hugging Face cache cannot be used" in r.stderr
    assert "HF_HOME" in r.stderr


# -- 3. a detected card's name went raw into the markdown advisory ------------------------------

def test_a_detected_cards_name_is_text_in_the_advisory(tmp_path):
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nprintf 'NVIDIA GeForce RTX 4090 <img src=x onerror=alert(1)> | y, 24564, 8.9\\n'\n")
    tool.chmod(0o755)
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b"],
                           env={"PATH": f"{tool.parent}:/usr/bin:/bin", "ADVISOR_NO_NVML": "1"})
    assert r.exit_code == 0, r.output
    said = next(line for line in r.output.splitlines() if line.startswith("Detected on this machine"))
    import re

    assert not re.search(r"(?<!\\)<img", said) and "\\<img" in said and "\\|" in said


# -- 4. a config.json true/false field given as a string was read by its truth ---------------

@pytest.mark.parametrize("key", ["tie_word_embeddings", "attention_bias", "use_sliding_window"])
def test_a_config_flag_must_be_true_or_false(tmp_path, key):
    folder = config_folder(tmp_path / "m", sliding_window=1024, **{key: "false"})
    _one_line_error(run("explain", str(folder), "rtx-4090"), f"{key} is 'false', not true or false")
    if key != "use_sliding_window":   # kb add's llama mapping reads the other two
        _one_line_error(run("kb", "add", "--from", str(folder / "config.json"), "--id", "m",
                            "--out", str(tmp_path / "kb")), "not true or false")


# -- 5. an encoder-only config (BERT) was sized as a decoder, with a KV cache ------------------

@pytest.mark.parametrize("over", [{"model_type": "bert"}, {"model_type": "t5", "is_encoder_decoder": True}])
def test_encoder_configs_are_refused(tmp_path, over):
    folder = config_folder(tmp_path / "m", **over)
    _one_line_error(run("explain", str(folder), "rtx-4090"), "not a decoder-only language model")


# -- 6. a config.json folder's precision was 'assumed' though config.json named it ---------------

def test_a_config_only_folder_says_where_its_precision_came_from(tmp_path):
    folder = config_folder(tmp_path / "m", torch_dtype="float16")
    r = run("explain", str(folder), "rtx-4090")
    assert r.exit_code == 0, r.output
    assert "At fp16 (as the model's config.json names it" in r.output
    assert "assumed: the knowledge base does not record" not in r.output


# -- 7. a rule saved as .yml was left out without a word ---------------------------------------

@pytest.mark.parametrize("suffix", [".yml", ".YAML"])
def test_a_rule_file_with_another_extension_is_an_error(tmp_path, suffix):
    from tests.file_helpers import REPO

    (tmp_path / f"needs-more-memory{suffix}").write_text((REPO / "rules" / "needs-more-memory.yaml").read_text())
    for args in (("explain", "llama-3.1-8b", "rtx-4090", "--rules", str(tmp_path)),
                 ("rules", "check", str(tmp_path))):
        _one_line_error(run(*args), "rule files are named <id>.yaml")


# -- 9. a GPU entry with a misspelt architecture was an FP16-only card -------------------------

def test_a_gpu_architecture_must_be_known(tmp_path):
    import yaml

    from tests.file_helpers import REPO

    entry = yaml.safe_load((REPO / "kb" / "gpus" / "rtx-4090.yaml").read_text())
    entry.update(id="my-card", name="My Card", aliases=[], architecture="ada-lovelase")
    (tmp_path / "gpus").mkdir()
    (tmp_path / "gpus" / "my-card.yaml").write_text(yaml.safe_dump(entry))
    r = run("explain", "llama-3.1-8b", "my-card", "--kb", str(tmp_path))
    assert r.exit_code == 2 and "architecture 'ada-lovelase' is not one the plans know" in r.output


# -- 10. a '|' in a name split kb list's markdown table ------------------------------------------

def test_kb_list_escapes_a_pipe_in_a_name(tmp_path):
    from tests.file_helpers import kb_model_dir

    kb = kb_model_dir(tmp_path / "kb")
    path = kb / "models" / "hostile-model.yaml"
    path.write_text(path.read_text().replace("name: Hostile Model", "name: Hostile | Model"))
    r = run("kb", "--kb", str(kb), "list", "models")
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("| hostile-model "))
    header = next(line for line in r.output.splitlines() if line.startswith("| id "))
    assert row.count(" | ") == header.count(" | ") and "Hostile \\| Model" in row
