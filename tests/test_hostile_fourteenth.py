"""Faults of the fourteenth hostile pass and the found-not-fixed items of stop 28, one kind each
(each test fails before its fix and passes after):

1. vLLM planned and sized on AMD GPUs its ROCm builds do not support (MI100's gfx908, the RX
   7600's gfx1102): the KB gives each AMD card its LLVM target (GPU.gfx_target).
2. "CUDA context and graphs" in an AMD card's vLLM share at the edge (pass 14B F6).
3. -ngl 'Auto' or a Unicode digit ('²', '①') crashed with a traceback (pass 14A K1).
4. A llama.cpp or Ollama plan converted a model whose class convert_hf_to_gguf.py has no
   converter for (Phi-3.5-vision's Phi3VForCausalLM fitted, and the conversion fails: pass 14B):
   the converter's registry is data, read from llama.cpp's source.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.kb import load_kb
from advisor.sizing.runtime_models import LLAMACPP_CONVERTER
from tests.file_helpers import config_folder

ROOT = Path(__file__).resolve().parents[1]


def explain(*args):
    return CliRunner().invoke(main, ["explain", *map(str, args)])


def explain_json(*args) -> dict:
    r = explain(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


# --- 1. vLLM's ROCm targets -------------------------------------------------------------------

def test_every_amd_card_has_its_llvm_target():
    kb = load_kb()
    amd = [g for g in kb.all_gpus() if g.vendor == "amd"]
    assert amd and all(g.gfx_target for g in amd), [g.id for g in amd if not g.gfx_target]
    assert all(g.gfx_target is None for g in kb.all_gpus() if g.vendor != "amd")


@pytest.mark.parametrize("gpu, target", [("mi100", "gfx908"), ("rx-7600", "gfx1102"),
                                         ("rx-7600-xt", "gfx1102")])
def test_vllm_cannot_run_on_amd_targets_outside_its_rocm_list(gpu, target):
    d = explain_json("qwen3-8b", gpu, "--runtime", "vllm")
    assert d["verdict"] == "cannot-run", d["verdict"]
    assert target in d["cannot_run"] and "llama.cpp" in d["cannot_run"], d["cannot_run"]
    # no plan serves it with vLLM on the user's card
    own = [p for p in d.get("plans", []) if p["path"] != "rent" and p["runtime"] == "vllm"]
    assert not own, own


@pytest.mark.parametrize("gpu", ["rx-7800-xt", "rx-7900-xtx", "mi250", "mi300x", "rx-9070-xt",
                                 "ryzen-ai-max-395-128gb"])
def test_vllm_runs_on_the_targets_it_lists(gpu):
    d = explain_json("qwen3-0.6b", gpu, "--runtime", "vllm")
    assert d["verdict"] != "cannot-run", d.get("cannot_run")


def test_gfx_target_on_a_non_amd_entry_is_refused(tmp_path):
    src = (ROOT / "kb" / "gpus" / "rtx-4090.yaml").read_text()
    kb = tmp_path / "kb" / "gpus"
    kb.mkdir(parents=True)
    (kb / "rtx-4090-x.yaml").write_text(
        src.replace("id: rtx-4090", "id: rtx-4090-x").replace("\narchitecture:", "\ngfx_target: gfx1100\narchitecture:", 1))
    r = CliRunner().invoke(main, ["kb", "validate", str(tmp_path / "kb")])
    assert r.exit_code == 2 and "gfx_target" in r.output, r.output


# --- 2. no CUDA wording on AMD ----------------------------------------------------------------

def test_share_at_the_edge_names_rocm_on_amd():
    md = explain("llama-3.1-70b", "mi250", "--runtime", "vllm").output
    edge = [line for line in md.splitlines() if "at the edge" in line]
    assert edge, md
    assert all("CUDA" not in line and "ROCm (HIP) context" in line for line in edge), edge


# --- 3. -ngl spellings ------------------------------------------------------------------------

@pytest.mark.parametrize("ngl", ["Auto", "AUTO", " auto", "auto "])
def test_ngl_auto_in_any_case_is_the_default(ngl):
    r = explain("llama-3.1-8b", "rtx-4090", "-ngl", ngl)
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    assert r.output == explain("llama-3.1-8b", "rtx-4090", "-ngl", "auto").output


@pytest.mark.parametrize("ngl", ["\u00b2", "\u2460", "\u00b9\u2070"])
def test_ngl_unicode_digits_are_one_line(ngl):
    r = explain("llama-3.1-8b", "rtx-4090", "-ngl", ngl)
    assert r.exit_code == 2 and "--n-gpu-layers must be a whole number" in r.output, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output


# --- 4. llama.cpp's converter registry ---------------------------------------------------------

@pytest.mark.parametrize("runtime", ["llama.cpp", "ollama"])
def test_no_ggml_plan_converts_a_class_llama_cpp_has_no_converter_for(runtime):
    d = explain_json("phi-3.5-vision", "rtx-3060-12gb", "--runtime", runtime)
    assert d["verdict"] == "cannot-run", d["verdict"]
    assert "Phi3VForCausalLM" in d["cannot_run"], d["cannot_run"]
    ggml = [p for p in d.get("plans", []) if p["runtime"] in ("llama.cpp", "ollama")]
    assert not ggml, ggml
    assert "convert_hf_to_gguf.py phi" not in explain("phi-3.5-vision", "rtx-3060-12gb").output


def test_a_published_gguf_needs_no_converter():
    # Pixtral's own-format class has no converter; its GGUFs are made from the transformers copy
    assert not LLAMACPP_CONVERTER.converts("PixtralForConditionalGeneration")
    d = explain_json("pixtral-12b", "rtx-4090", "--runtime", "llama.cpp", "--precision", "q4_k_m")
    assert d["verdict"] != "cannot-run", d.get("cannot_run")


def test_every_kb_model_llama_cpp_is_offered_for_can_be_had_as_a_gguf():
    kb = load_kb()
    for m in kb.all_models():
        if m.hf_architecture and not m.gguf_repos:
            ok = LLAMACPP_CONVERTER.converts(m.hf_architecture)
            assert ok or m.hf_architecture in ("MllamaForConditionalGeneration", "Phi3VForCausalLM"), m.id


def test_a_config_of_an_unconvertible_class_is_refused_under_llama_cpp(tmp_path):
    folder = config_folder(tmp_path / "m", architectures=["NoSuchModelForCausalLM"])
    d = explain_json(folder, "rtx-4090", "--runtime", "llama.cpp")
    assert d["verdict"] == "cannot-run" and "NoSuchModelForCausalLM" in d["cannot_run"], d
    known = config_folder(tmp_path / "k", architectures=["LlamaForCausalLM"])
    assert explain_json(known, "rtx-4090", "--runtime", "llama.cpp")["verdict"] == "fits"


def test_the_converter_list_is_what_the_tool_reads_from_llama_cpp(tmp_path):
    from tools.read_llamacpp_converters import read

    conv = tmp_path / "conversion"
    conv.mkdir()
    (conv / "base.py").write_text(
        "class ModelBase: pass\nclass TextModel(ModelBase): pass\nclass MmprojModel(ModelBase): pass\n")
    (conv / "llama.py").write_text(
        "@ModelBase.register('LlamaForCausalLM', 'MistralForCausalLM')\nclass LlamaModel(TextModel): pass\n"
        "@ModelBase.register('LlavaForConditionalGeneration')\nclass LlavaVision(MmprojModel): pass\n")
    assert read(tmp_path) == (["LlamaForCausalLM", "MistralForCausalLM"], ["LlavaForConditionalGeneration"])
    data = LLAMACPP_CONVERTER.data()["architectures"]
    assert data == sorted(set(data)) and {"LlamaForCausalLM", "Qwen3ForCausalLM"} <= set(data)


# --- 5. fine-tuning commands that run -----------------------------------------------------------

_TRL_CONFIGS = {"multi_gpu", "single_gpu", "zero1", "zero2", "zero3", "fsdp1", "fsdp2"}


@pytest.mark.parametrize("sharding", ["none", "zero2", "zero3", "fsdp"])
@pytest.mark.parametrize("pure", [False, True])
def test_multi_gpu_fine_tuning_is_trl_launching_itself(sharding, pure):
    from advisor.plans.finetune import command
    from advisor.sizing.finetune import FinetuneSpec

    model = load_kb().model("llama-3.1-8b")
    cmd = command(model, FinetuneSpec(method="full", sharding=sharding, pure_bf16=pure), 4)
    assert cmd.startswith("trl sft --accelerate_config ") and "-m trl.cli" not in cmd, cmd
    assert cmd.split()[3] in _TRL_CONFIGS and "--num_processes 4" in cmd, cmd
    assert ("--dtype bfloat16" in cmd) == pure, cmd
    # accelerate's FSDP makes fp32 masters of bf16 weights under mixed precision: off for pure bf16
    assert ("--mixed_precision no" in cmd and "--bf16 False" in cmd) == (pure and sharding == "fsdp"), cmd
    one = command(model, FinetuneSpec(method="full", pure_bf16=pure), 1)
    assert one.startswith("trl sft --model_name_or_path") and ("--dtype bfloat16" in one) == pure


# --- 6. a folder named by `.` or its config.json ---------------------------------------------------

@pytest.mark.parametrize("arg", [".", "./", "./config.json", "config.json", "m/config.json", "m"])
def test_a_model_folder_given_as_dot_or_its_config_is_named_by_the_folder(tmp_path, monkeypatch, arg):
    folder = config_folder(tmp_path / "m", architectures=["LlamaForCausalLM"])
    monkeypatch.chdir(folder if not arg.startswith("m") else tmp_path)
    d = explain_json(arg, "rtx-4090")
    assert d["model"]["name"] == "m", d["model"]


# --- 7. rule conditions that can never match ------------------------------------------------------

@pytest.mark.parametrize("cond, said", [
    ("path == 'rnet'", "did you mean 'rent'"),
    ("runtime == 'VLLM'", "did you mean 'vllm'"),
    ("path == 'rent' == 'rent'", "never matches"),
    ("precision == 'q4_k_m'", "Q4_K_M"),
    ("gpu_vendor != 'nvdia'", "did you mean 'nvidia'"),
])
def test_rules_check_refuses_a_text_value_the_fact_never_holds(tmp_path, cond, said):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    rent = rules / "plan-rent.yaml"
    if cond.startswith(("precision", "gpu_vendor")):
        rent = rules / "verdict-fits.yaml"
        text = rent.read_text()
        rent.write_text(text.replace("when:\n", f"when:\n  - {cond}\n", 1))
    else:
        rent.write_text(rent.read_text().replace("path == 'rent'", cond))
    r = CliRunner().invoke(main, ["rules", "check", "--rules", str(rules)])
    assert r.exit_code == 2 and said in r.output and f"{rent.name}:" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output


@pytest.mark.parametrize("model, gpu, precision, runtime, kv, n", [
    ("llama-3.1-8b", "rtx-4090", "Q4_K_M", "llama.cpp", "q8_0", 1),
    ("qwen3-8b", "h100-80gb", "fp8", "vllm", "fp8", 2),
    ("llama-3.1-70b", "rtx-3090", "bf16", "transformers", "fp16", 1),
    ("qwen3-8b", "m2-max-96gb", "mlx-4bit", "mlx", "mlx-8bit", 1),
])
def test_every_closed_value_set_holds_what_the_facts_hold(model, gpu, precision, runtime, kv, n):
    from advisor.facts import build_situation
    from advisor.facts.values import fact_values
    from advisor.sizing.precision import parse_precision
    from advisor.sizing.workload import Workload

    kb = load_kb()
    sit = build_situation(kb, kb.model(model), kb.gpu(gpu), parse_precision(precision),
                          Workload(runtime=runtime, kv_cache_dtype=kv), n)
    checked = 0
    for name, value in sit.facts.items():
        values = fact_values(name)
        if values is not None and isinstance(value, str):
            assert value in values, (name, value, values)
            checked += 1
    assert checked >= 6, sit.facts
    d = explain_json(model, gpu)
    for p in d["plans"]:
        assert p["path"] in fact_values("path", "plan") and p["runtime"] in fact_values("runtime", "plan")


# --- 8. gpus: the smallest usable set of each card, and a bigger one where it is better -----------

def test_gpus_lists_the_smallest_usable_set_before_a_better_bigger_one():
    r = CliRunner().invoke(main, ["gpus", "llama-3.3-70b", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    rows = rows["gpus"] if isinstance(rows, dict) else rows
    sets = {}
    for row in rows:
        sets.setdefault(row["gpu"], []).append((row["count"], row["precision"]))
    # 2 x RTX A5000 run it at AWQ (the more-cards path alone ranked 4 x at FP8 first)
    assert min(sets["rtx-a5000"]) == (2, "awq"), sets["rtx-a5000"]
    assert (4, "fp8") in sets["rtx-a5000"]
    # 3 x T4 at Q4_K_S below reading speed, and 4 x at AWQ above it
    assert min(sets["t4"])[0] == 3 and any(n == 4 for n, _ in sets["t4"]), sets["t4"]
    # one card that runs it well: no bigger set merely faster
    assert sets["b200"] == [(1, "fp8")], sets["b200"]


# --- 9. machines of 2 and 4 GPUs: priced as the provider rents them --------------------------------

def test_cards_that_work_together_are_priced_as_the_machine_that_holds_them():
    kb = load_kb()
    t4, a100, h200 = kb.gpu("t4"), kb.gpu("a100-80gb"), kb.gpu("h200")
    # 4 T4: Hugging Face's x4 instance ($3 an hour), not four x1 instances ($2)
    assert t4.rented_gpus(4) == 4 and t4.on_demand_price(4).gpus == 4
    assert t4.rented_gpus(3) == 4 and t4.on_demand_price(3) is None
    # 2 A100 80GB: the x2 machine ($5), not the 8-GPU node ($20)
    assert a100.rented_gpus(2) == 2 and a100.on_demand_price(2).usd_per_hour == 5
    # 4 H200: never two x2 machines, always one that holds the four
    assert h200.on_demand_price(4).gpus == 4 and h200.rented_gpus(4) == 4
    # past the largest unit: whole nodes
    assert h200.rented_gpus(12) == 16 and h200.on_demand_price(16).gpus == 8


def test_the_rent_path_rents_machines_of_two_and_four():
    from advisor.plans.candidates import rental_counts

    kb = load_kb()
    assert rental_counts(kb.gpu("a100-80gb"))[:4] == (1, 2, 4, 8)
    assert rental_counts(kb.gpu("t4")) == (1, 4)
    r = CliRunner().invoke(main, ["gpus", "llama-3.3-70b", "--format", "json"])
    rows = json.loads(r.output)
    rows = rows["gpus"] if isinstance(rows, dict) else rows
    t4 = {row["count"]: row for row in rows if row["gpu"] == "t4"}
    assert t4[4]["price_usd_per_hour"] == 3 and t4[3]["rented_count"] == 4, t4


# --- 10. vLLM on Intel: runs there, not sized here ------------------------------------------------

@pytest.mark.parametrize("gpu, what", [("arc-b580", "Intel GPUs (XPU)"), ("gaudi3", "vllm-gaudi")])
def test_vllm_on_intel_is_said_to_run_there_but_not_sized(gpu, what):
    d = explain_json("llama-3.1-8b", gpu, "--runtime", "vllm")
    assert what in d["cannot_run"] and "not on Intel" not in d["cannot_run"], d["cannot_run"]
    assert "does not size" in d["cannot_run"]


# --- 11. names and files the tool read otherwise than the user meant --------------------------------

def test_rules_new_objective_is_refused(tmp_path):
    r = CliRunner().invoke(main, ["rules", "new", "objective", "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "objective file" in r.output and not list(tmp_path.iterdir()), r.output


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_an_objective_yaml_that_is_no_file_is_refused(tmp_path, kind):
    import os

    rules = tmp_path / "r"
    rules.mkdir()
    if kind == "folder":
        (rules / "objective.yaml").mkdir()
    else:
        os.mkfifo(rules / "objective.yaml")
    r = explain("llama-3.1-8b", "rtx-4090", "--rules", rules)
    assert r.exit_code == 2 and "objective.yaml: not a regular file" in r.output, r.output


@pytest.mark.parametrize("kind, alias, said", [
    ("gpus", "rtx-3090,rtx-4090", "a set of cards"),
    ("models", "./config.json", "a model file's path"),
    ("models", "mine.gguf", "a model file's path"),
])
def test_a_kb_alias_that_reads_as_a_set_or_a_file_is_refused(tmp_path, kind, alias, said):
    import yaml

    base = "rtx-4090" if kind == "gpus" else "llama-3.1-8b"
    entry = yaml.safe_load((ROOT / "kb" / kind / f"{base}.yaml").read_text())
    entry.update(id="mine", name="Mine", aliases=[alias])
    entry.pop("siblings", None)
    entry.pop("distilled_from", None)
    (tmp_path / kind).mkdir()
    (tmp_path / kind / "mine.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    r = CliRunner().invoke(main, ["kb", "validate", str(tmp_path)])
    assert r.exit_code == 2 and said in r.output and "mine.yaml" in r.output, r.output


def test_a_hidden_yaml_in_a_kb_folder_is_said(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / ".mine.yaml").write_text("id: mine\n")
    (tmp_path / "models" / ".DS_Store").write_bytes(b"\0\1")
    r = CliRunner().invoke(main, ["kb", "validate", str(tmp_path)])
    assert r.exit_code == 2 and ".mine.yaml:1: not a KB entry" in r.output and "DS_Store" not in r.output, r.output


# --- 12. messages that said another thing than what happened ---------------------------------------

def test_a_missing_model_file_in_capitals_is_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = explain("X.GGUF", "rtx-4090")
    assert r.exit_code == 2 and "X.GGUF: no such file or folder" in r.output, r.output


def test_a_set_of_too_many_cards_is_not_called_a_flag():
    r = explain("llama-3.1-8b", "512x rtx-4090")
    assert r.exit_code == 2 and "512 cards are 64 nodes" in r.output and "--gpus" not in r.output, r.output


def test_a_share_just_under_one_is_echoed_as_given():
    r = explain("llama-3.1-8b", "rtx-4090", "--runtime", "vllm", "--gpu-memory-utilization",
                "0.9999999999999999")
    assert r.exit_code == 2 and "--gpu-memory-utilization 0.9999999999999999 asks" in r.output, r.output


def test_kb_add_leaves_nothing_written_where_it_cannot_say_where_it_wrote(tmp_path):
    import subprocess
    import sys

    from tests.file_helpers import LLAMA_CONFIG

    (tmp_path / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "advisor", "kb", "add", "--from",
                            str(tmp_path / "config.json"), "--id", "tiny", "--out", str(tmp_path / "kb")],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 2 and not (tmp_path / "kb" / "models" / "tiny.yaml").exists(), r.stderr


def test_thousands_of_rule_errors_are_capped(tmp_path):
    from advisor.limits import MAX_ERRORS_SHOWN

    for i in range(MAX_ERRORS_SHOWN + 50):
        (tmp_path / f"r{i}.yaml").write_text(f"id: r{i}\nwhen: [nosuch == 1]\n")
    r = CliRunner().invoke(main, ["rules", "check", str(tmp_path)])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == MAX_ERRORS_SHOWN + 1 and "more errors" in lines[-1], lines[-3:]


@pytest.mark.parametrize("value, said", [("1:30", "base-60"), ("017", "octal")])
def test_yaml_1_1_numbers_nobody_means_are_refused(tmp_path, value, said):
    import shutil

    rules = tmp_path / "r"
    rules.mkdir()
    text = (ROOT / "rules" / "objective.yaml").read_text()
    text = text.replace("good_quality: small", f"good_quality: small\nspeed_band_tolerance_x: {value}", 1)
    (rules / "objective.yaml").write_text(text)
    shutil.copy(ROOT / "rules" / "verdict-fits.yaml", rules)
    r = explain("llama-3.1-8b", "rtx-4090", "--rules", rules)
    assert r.exit_code == 2 and said in r.output and "objective.yaml:" in r.output, r.output


# --- 13. a GGUF file asked about under a runtime that cannot read it ----------------------------------

@pytest.mark.parametrize("gpu, runtime", [("m2-max-96gb", "mlx"), ("rtx-4090", "vllm")])
def test_a_gguf_under_a_runtime_without_a_gguf_loader_runs_on_your_card(tmp_path, gpu, runtime):
    from tests.file_helpers import llama_gguf

    path = tmp_path / "m.gguf"
    llama_gguf(path)
    d = explain_json(path, gpu, "--runtime", runtime)
    assert d["verdict"] == "cannot-run", d["verdict"]
    plan = d["plan"]
    assert plan["path"] in ("your-hardware", "your-gpus") and plan["runtime"] in ("llama.cpp", "ollama"), plan


# --- 14. a plan under another runtime than the question's default says so ------------------------

def test_a_plan_that_switches_from_the_default_runtime_says_so():
    d = explain_json("llama-3.1-70b", "mi300x")
    plan = d["plan"]
    assert plan["runtime"] == "vllm", plan
    assert any("runtime vLLM instead of llama.cpp (the default for the bf16 asked)" in c
               for c in plan["changes"]), plan["changes"]


def test_generated_pages_say_the_runtime_is_the_formats_default(tmp_path):
    r = CliRunner().invoke(main, ["generate", "--out", str(tmp_path / "out"), "--models", "llama-3.1-8b",
                                  "--gpus", "rtx-4090", "--precisions", "Q4_K_M"])
    assert r.exit_code == 0, r.output
    page = next((tmp_path / "out").rglob("*__Q4_K_M.md"), None) or next((tmp_path / "out").rglob("*.md"))
    pages = [p for p in (tmp_path / "out").rglob("*.md") if p.name != "index.md"]
    assert pages and all("with llama.cpp (the runtime for that format)" in p.read_text() for p in pages), page


# --- 15. DGX Spark: the OS holds part of the memory CUDA reports ------------------------------------

def test_dgx_spark_sizes_what_is_free_for_its_gpu_and_vllm_starts():
    from advisor.sizing.vllm_memory import vllm_max_utilization, vllm_utilization_problem

    spark = load_kb().gpu("dgx-spark")
    assert spark.driver_total_bytes > spark.usable_memory_bytes
    assert spark.usable_memory_bytes < 102 * 2**30          # ~101-102 GiB free at start
    # vLLM's default share does not start there (its recipes give 0.85); the most that does is below
    assert vllm_utilization_problem(spark, 0.9, asked=False) is not None
    best = vllm_max_utilization(spark)
    assert best < 0.85 and vllm_utilization_problem(spark, best) is None
    d = explain_json("llama-3.1-8b", "dgx-spark", "--runtime", "vllm")
    plan = d["plan"]
    assert plan["path"] == "your-hardware" and f"--gpu-memory-utilization {best:g}" in plan["command"], plan
    assert not any("macOS" in c for c in plan["changes"]), plan["changes"]


@pytest.mark.parametrize("gpu", ["dgx-spark", "ryzen-ai-max-395-128gb"])
def test_no_macos_words_on_a_machine_that_does_not_run_it(gpu):
    r = explain("llama-3.1-405b", gpu)
    assert r.exit_code == 0, r.output
    assert "macOS" not in r.output and "Mac's" not in r.output and "wired_limit" not in r.output, r.output


def test_phi_4_reasoning_plus_has_its_thinking_budget():
    kb = load_kb()
    plus, base = kb.model("phi-4-reasoning-plus"), kb.model("phi-4-reasoning")
    assert plus.recommended_output_tokens >= base.recommended_output_tokens
    d = explain_json("phi-4-reasoning-plus", "rtx-4090")
    assert d["workload"]["context_tokens"] == 32768, d["workload"]


def test_kb_add_out_dash_prints_the_entry(tmp_path, monkeypatch):
    import yaml

    from tests.file_helpers import LLAMA_CONFIG

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    r = CliRunner().invoke(main, ["kb", "add", "--from", "config.json", "--id", "tiny", "--out", "-"])
    assert r.exit_code == 0 and yaml.safe_load(r.output)["id"] == "tiny", r.output
    assert not (tmp_path / "-").exists()
