"""Hostile-input findings, fourth round (issue 14; the findings in full: /work/notes/hostile4.md):
odd terminal widths, click's own parse errors, options fine-tuning does not use, --why on a
fine-tuning advisory, --force over another program's files, a model file's name in the
advisory's notes, and a plan's note glued to its paragraph."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from advisor.cli import main
from tests.bulk_helpers import run, tree
from tests.cli_helpers import one_line_error as _one_line_error
from tests.file_helpers import config_folder, llama_gguf


def _drawn(*args, columns: str | None) -> str:
    env = {"COLUMNS": columns, "NO_COLOR": "1", "TERM": "xterm-256color"}
    r = CliRunner().invoke(main, [*args, "--format", "terminal"], env=env)
    assert r.exit_code == 0, r.output
    return r.output


# -- 1. COLUMNS=0 drew nothing at all, with exit 0 ----------------------------------------------

@pytest.mark.parametrize("args", [("explain", "llama-3.1-8b", "rtx-4090"), ("gpus", "llama-3.1-8b"),
                                  ("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune")])
def test_columns_zero_draws_at_the_default_width(args):
    """rich reads COLUMNS=0 as a width of 0 and drew an empty answer; 0 is now no width given
    (the terminal's, else 80), and the answer is the one drawn at 80 columns."""
    zero = _drawn(*args, columns="0")
    assert zero.strip() and zero == _drawn(*args, columns="80")


def test_a_tiny_width_is_drawn_at_the_narrowest_readable_one():
    """COLUMNS=1 put one character a line in headings; widths under MIN_WIDTH draw at it."""
    from advisor.cli.draw import MIN_WIDTH

    one = _drawn("explain", "llama-3.1-8b", "rtx-4090", columns="1")
    assert one == _drawn("explain", "llama-3.1-8b", "rtx-4090", columns=str(MIN_WIDTH))
    assert "Llama 3.1 8B on" in one   # the heading is words, not a column of letters


# -- 2. click's parse errors were four lines (Usage, Try, blank, Error) --------------------------

@pytest.mark.parametrize("args, words", [
    (("explain", "llama-3.1-8b", "rtx-4090", "--context", "0x100"), ("'0x100' is not a valid integer",)),
    (("explain", "llama-3.1-8b", "rtx-4090", "--gpu-memory-utilization", "x"), ("not a valid float",)),
    (("explain", "llama-3.1-8b", "rtx-4090", "--format", "x"), ("'x' is not one of",)),
    (("explain", "llama-3.1-8b", "rtx-4090", "--contxt", "5"), ("No such option '--contxt'", "--context")),
    (("explain",), ("Missing argument 'MODEL'", "explain --help")),
    (("--bogus",), ("No such option '--bogus'",)),
    (("rules", "bogus"), ("No such command 'bogus'",)),
    (("kb", "show"), ("Missing argument",)),
    (("generate",), ("Missing option '--out'",)),
    (("fit", "rtx-4090", "--gpus", "x"), ("'x' is not a valid integer",)),
])
def test_a_command_line_click_cannot_parse_is_one_line(args, words):
    _one_line_error(run(*args), *words)


def test_a_value_with_escapes_in_a_parse_error_is_shown_escaped():
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--format", "x\x1b[2J\ny")
    _one_line_error(r, "\\x1b[2J\\ny")


def test_help_and_version_are_unchanged():
    assert run("--help").exit_code == 0 and "Commands:" in run("--help").output
    assert run("explain", "--help").exit_code == 0
    assert run("--version").exit_code == 0
    bare = run()   # nothing after advisor: the help, as before
    assert "Commands:" in bare.output and "advisor: error" not in bare.output


# -- 3. fine-tuning answered as if it had used options it ignores --------------------------------

@pytest.mark.parametrize("option", [
    ("--runtime", "vllm"), ("--kv-cache", "q4_0"), ("--kv-cache", "fp16"), ("--flash-attn", "off"),
    ("--gpu-memory-utilization", "0.5"), ("--prompt-tokens", "5"), ("--ram-gb", "0"),
    ("--ram-bandwidth", "5"), ("--prefer", "cost"),
])
def test_finetune_refuses_inference_options(option):
    """Each was accepted and the advisory was byte for byte the one without it."""
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", *option)
    _one_line_error(r, f"{option[0]} applies to inference, not to --task finetune")


@pytest.mark.parametrize("option", [("--ram-gb", "3"), ("--prefer", "speed")])
def test_fit_finetune_refuses_inference_options(option):
    _one_line_error(run("fit", "rtx-4090", "--task", "finetune", *option),
                    f"{option[0]} applies to inference")


def test_inference_options_still_answer():
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", "q8_0", "--prompt-tokens", "100",
            "--prefer", "cost", "--ram-gb", "32")
    assert r.exit_code == 0, r.output
    assert run("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", "--gpus", "2",
               "--sharding", "zero2").exit_code == 0


# -- 4. --why on a fine-tuning advisory was a traceback ------------------------------------------

@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.1-70b"])
def test_why_on_a_finetune_advisory(model):
    r = run("explain", model, "rtx-4090", "--task", "finetune", "--why")
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    chosen = re.search(r"^- Chosen: (.*)$", r.output, re.M)
    assert chosen and "-token sequences" in chosen.group(1) and "GB a GPU" in chosen.group(1)
    j = run("explain", model, "rtx-4090", "--task", "finetune", "--why", "--format", "json")
    assert j.exit_code == 0, j.output
    why = json.loads(j.output)["why_plan"]
    assert why["chosen"]["task"] == "finetune" and why["chosen"]["method"] in ("full", "lora", "qlora")
    assert why["reason"]


# -- 5. --force wrote over the folder's own files -----------------------------------------------

@pytest.mark.parametrize("fmt, theirs", [("markdown", "index.md"), ("html", "style.css"),
                                         ("markdown", "llama-3.1-8b/rtx-4090__fp16.md")])
def test_force_never_writes_over_another_programs_file(tmp_path, fmt, theirs):
    out = tmp_path / "docs"
    (out / "llama-3.1-8b").mkdir(parents=True)
    (out / theirs).write_text("MINE")
    (out / "notes.txt").write_text("MINE too")
    before = tree(out)
    r = run("generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16",
            "--format", fmt, "--force")
    _one_line_error(r, f"already holds '{theirs}'", "never over them")
    assert tree(out) == before


def test_force_still_writes_beside_other_files(tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "notes.txt").write_text("MINE")
    args = ("generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16")
    assert run(*args, "--force").exit_code == 0
    assert (out / "notes.txt").read_text() == "MINE" and (out / "index.md").is_file()
    assert run(*args).exit_code == 0   # the folder is generate's now: its own files are rewritten


# -- 6. a model file's name went raw into the advisory's notes -----------------------------------

def test_a_model_files_name_is_text_in_the_advisory(tmp_path):
    name = "ev\x1b[2Jil\n# Heading <img src=x> \u202e.gguf"
    path = llama_gguf(tmp_path / name)
    for fmt in ("markdown", "terminal"):
        r = CliRunner().invoke(main, ["explain", str(path), "rtx-4090", "--format", fmt],
                               env={"NO_COLOR": "1"})
        assert r.exit_code == 0, r.output
        text = re.sub(r"\x1b\[[0-9;]*m", "", r.output)   # the drawing's own styles
        assert "\x1b" not in text and "\u202e" not in text, text
        assert not any(line.startswith(("# Heading", "<img")) for line in text.splitlines())
    md = run("explain", str(path), "rtx-4090").output
    assert "tensors of ev \\[2Jil \\# Heading \\<img src=x\\> .gguf as stored" in md


# -- 7. a plan's "First:" note was glued to the plan's paragraph ---------------------------------

def test_a_plan_note_without_a_command_is_its_own_list_item(tmp_path):
    """A config.json folder has no Hugging Face repository: What to do has no command, only
    its note, which ran on from the paragraph ("...as published).- First: ...")."""
    folder = config_folder(tmp_path / "big", num_hidden_layers=80, hidden_size=8192,
                           intermediate_size=28672, num_attention_heads=64, num_key_value_heads=8,
                           vocab_size=128256)
    r = run("explain", str(folder), "h200", "--runtime", "vllm", "--gpus", "2")
    assert r.exit_code == 0, r.output
    what = r.output.split("## What to do\n", 1)[1].split("\n## ", 1)[0].splitlines()
    assert what[0].startswith("**Run it as asked.**") and "First:" not in what[0], what
    assert what[1:3] == ["", "- First: no Hugging Face repository is known for this model."], what


# -- 8. the advisory named rules/objective.yaml whatever objective ranked the plans -------------

def test_the_advisory_names_the_objective_that_ranked_its_plans(tmp_path):
    from tests.bulk_helpers import ROOT

    folder = tmp_path / "mine\n# Heading"
    folder.mkdir()
    (folder / "objective.yaml").write_text((ROOT / "rules" / "objective.yaml").read_text())
    built_in = run("explain", "llama-3.1-8b", "rtx-4090").output
    assert "ranked by the objective in rules/objective.yaml (" in built_in
    mine = run("explain", "llama-3.1-8b", "rtx-4090", "--rules", str(folder)).output
    assert f"ranked by the objective in {tmp_path}/mine \\# Heading/objective.yaml (" in mine
    assert not any(line.startswith("# Heading") for line in mine.splitlines())


# -- 9. llama.cpp was sized, and offered, on Intel Gaudi, which no ggml backend runs ------------

@pytest.mark.parametrize("gpu", ["gaudi2", "gaudi3"])
def test_llama_cpp_cannot_run_on_gaudi(gpu):
    """`explain llama-3.1-8b gaudi3` said "fits" with llama.cpp and `fit gaudi3` listed GLM-4.5
    at 62.5 tokens/s: llama.cpp's SYCL backend runs Intel's GPUs, not Gaudi accelerators."""
    from advisor.kb import load_kb
    from advisor.plans.runtimes import cannot_run, runs_on
    from advisor.sizing.precision import parse_precision

    g = load_kb().gpu(gpu)
    assert not runs_on("llama.cpp", g)
    assert "no backend" in cannot_run("llama.cpp", parse_precision("Q4_K_M"), g)
    r = run("explain", "llama-3.1-8b", gpu, "--format", "json")
    d = json.loads(r.output)
    assert d["verdict"] == "cannot-run" and d["plan"]["gpu_id"] != gpu, d["plan"]
    assert all(p["gpu_id"] != gpu for p in d["plans"]), d["plans"]
    md = run("explain", "llama-3.1-8b", gpu).output
    assert "No runtime this tool sizes runs on the Intel Gaudi" in md
    assert "run on the Intel Gaudi" not in md
    assert "No model in the knowledge base runs usably" in run("fit", gpu).output


def test_llama_cpp_still_runs_on_intel_gpus():
    from advisor.kb import load_kb
    from advisor.plans.runtimes import runs_on

    kb = load_kb()
    intel = [g for g in kb.all_gpus() if g.vendor == "intel" and not g.architecture.startswith("gaudi")]
    assert intel and all(runs_on("llama.cpp", g) for g in intel)


# -- 10. a user KB of thousands of entries took 15 s (3,000) and more, unbounded -----------------

def test_too_many_user_kb_entries_are_refused_before_any_is_read(tmp_path):
    import time

    from advisor.limits import MAX_USER_KB_ENTRIES

    for kind, n in (("models", MAX_USER_KB_ENTRIES // 2), ("gpus", MAX_USER_KB_ENTRIES // 2 + 1)):
        (tmp_path / kind).mkdir()
        for i in range(n):   # not even valid YAML: the count is checked before any is parsed
            (tmp_path / kind / f"e{i}.yaml").write_text("{")
    start = time.perf_counter()
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--kb", str(tmp_path))
    assert time.perf_counter() - start < 10
    _one_line_error(r, f"hold {MAX_USER_KB_ENTRIES + 1:,} entries", f"at most {MAX_USER_KB_ENTRIES:,}")
    v = run("kb", "validate", str(tmp_path))
    assert v.exit_code == 2 and f"at most {MAX_USER_KB_ENTRIES:,}" in v.output


# -- 11. copies of a rule comparing two facts broke the engine (error 303) -----------------------

@pytest.mark.parametrize("n", [64, 300])
def test_many_rules_comparing_two_facts_all_fire(tmp_path, n):
    """network.py counted `headroom_bytes < margin_bytes` in 64 rules as one shared node; the
    core gives each rule its own, and a question all of them matched failed with 'Could not
    assert fact, error code: 303'."""
    from tests.bulk_helpers import ROOT

    text = (ROOT / "rules" / "needs-more-memory.yaml").read_text()
    for i in range(n):
        (tmp_path / f"copy-{i}.yaml").write_text(text.replace("id: needs-more-memory", f"id: copy-{i}", 1))
    r = run("explain", "llama-3.1-70b", "rtx-4090", "--rules", str(tmp_path), "--format", "json")
    assert r.exit_code == 0, r.output
    fired = json.loads(r.output)["rules_fired"]
    assert sum(1 for rule in fired if rule.startswith("copy-")) == n


def test_an_empty_kv_cache_says_so():
    """It said "llama.cpp has no  KV cache", a word missing."""
    _one_line_error(run("explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", ""),
                    "--kv-cache is empty", "q8_0")


# -- 12. gpus answered a precision explain refuses for the model --------------------------------

def test_gpus_refuses_mxfp4_for_a_dense_model_as_explain_does():
    """`gpus llama-3.1-8b --precision mxfp4` listed the RTX 4090 and others, "mxfp4 with vllm";
    explain refuses mxfp4 for a model without experts (its weights would be plain BF16)."""
    words = ("mxfp4 checkpoints quantize mixture-of-experts weights", "Llama 3.1 8B")
    _one_line_error(run("explain", "llama-3.1-8b", "rtx-4090", "--precision", "mxfp4"), *words)
    _one_line_error(run("gpus", "llama-3.1-8b", "--precision", "mxfp4"), *words)
    assert run("gpus", "gpt-oss-20b", "--precision", "mxfp4").exit_code == 0


# -- 13. a 70B config.json over safetensors of a few hundred parameters "fit" on any card -------

def test_safetensors_far_smaller_than_their_config_are_refused(tmp_path):
    """GGUF files had this check (the parameter count of the metadata against the tensors);
    a config.json folder summed whatever tensors it held: 80 layer norms of 8 values passed the
    every-layer check and 'Llama 70B' needed 1.43 GB."""
    from tests.file_helpers import safetensors_bytes

    folder = config_folder(tmp_path / "m", num_hidden_layers=80, hidden_size=8192,
                           intermediate_size=28672, num_attention_heads=64, num_key_value_heads=8,
                           vocab_size=128256)
    tensors = {f"model.layers.{i}.input_layernorm.weight": ("BF16", (8,)) for i in range(80)}
    tensors["model.embed_tokens.weight"] = ("BF16", (16, 8))
    (folder / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    _one_line_error(run("explain", str(folder), "rtx-4090"), "the tensors hold 768 parameters",
                    "69,503,033,344")


def test_a_complete_tiny_safetensors_model_still_answers(tmp_path):
    from tests.file_helpers import LLAMA_CONFIG, safetensors_bytes

    h, ff, v, kv = LLAMA_CONFIG["hidden_size"], LLAMA_CONFIG["intermediate_size"], LLAMA_CONFIG["vocab_size"], 32
    folder = config_folder(tmp_path / "tiny")
    tensors = {"model.embed_tokens.weight": ("BF16", (v, h)), "lm_head.weight": ("BF16", (v, h)),
               "model.norm.weight": ("BF16", (h,))}
    for i in range(LLAMA_CONFIG["num_hidden_layers"]):
        p = f"model.layers.{i}."
        tensors |= {p + "self_attn.q_proj.weight": ("BF16", (h, h)), p + "self_attn.k_proj.weight": ("BF16", (kv, h)),
                    p + "self_attn.v_proj.weight": ("BF16", (kv, h)), p + "self_attn.o_proj.weight": ("BF16", (h, h)),
                    p + "mlp.gate_proj.weight": ("BF16", (ff, h)), p + "mlp.up_proj.weight": ("BF16", (ff, h)),
                    p + "mlp.down_proj.weight": ("BF16", (h, ff)), p + "input_layernorm.weight": ("BF16", (h,)),
                    p + "post_attention_layernorm.weight": ("BF16", (h,))}
    (folder / "model.safetensors").write_bytes(safetensors_bytes(tensors))
    r = run("explain", str(folder), "rtx-4090")
    assert r.exit_code == 0 and "**Verdict: fits.**" in r.output, r.output


# -- 14. a DeepSeek GGUF whose metadata and tensors are of two conversions -----------------------

@pytest.mark.parametrize("split, extra, has", [
    (False, {"attention.key_length_mla": 24, "attention.value_length_mla": 16}, "attn_kv_b"),
    (True, {"attention.key_length_mla": 0}, "attn_k_b"),
])
def test_deepseek_gguf_layout_must_match_its_tensors(tmp_path, split, extra, has):
    """Old tensors (attn_kv_b) under the new metadata (key_length_mla) were sized with the
    latent cache; llama.cpp loads attn_k_b/attn_v_b when the _mla lengths are there and cannot
    load such a file."""
    from tests.test_gguf_mla import _deepseek_gguf

    path = _deepseek_gguf(tmp_path / "mixed.gguf", split=split, extra=extra)
    _one_line_error(run("explain", str(path), "rtx-4090"), f"its tensors are {has}",
                    "two conversions")


# -- 15. a rule file's condition: raw in --why, and its newline split the one-line error ---------

def _evil_rule(folder, condition: str):
    from tests.bulk_helpers import ROOT

    text = (ROOT / "rules" / "format-not-native.yaml").read_text()
    text = text.replace("id: format-not-native", "id: evil-when", 1).replace(
        "  - precision_native == false\n", "  - precision_native == false\n  - " + condition + "\n", 1)
    folder.mkdir(exist_ok=True)
    (folder / "evil-when.yaml").write_text(text)
    return folder


def test_why_shows_a_rule_condition_with_its_escapes_visible(tmp_path):
    rules = _evil_rule(tmp_path / "r", '"model_id != \\"x\\e]52;c;aGk=\\a\\e[2J\\u202e\\""')
    for fmt in ("markdown", "terminal"):
        r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "v100-32gb", "--precision", "fp8",
                                      "--runtime", "llama.cpp", "--rules", str(rules), "--why",
                                      "--format", fmt], env={"NO_COLOR": "1"})
        assert r.exit_code == 0, r.output
        text = re.sub(r"\x1b\[[0-9;]*m", "", r.output)
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert 'model_id != "x\\x1b]52;c;aGk=\\x07\\x1b[2J\\u202e"' in text


@pytest.mark.parametrize("args", [("explain", "llama-3.1-8b", "rtx-4090"), ("rules", "check")])
def test_a_newline_quoted_from_a_rule_file_keeps_the_error_one_line(tmp_path, args):
    rules = _evil_rule(tmp_path / "r", '"runtime != \\"x\\n# Heading\\""')
    extra = ("--rules", str(rules)) if args[0] == "explain" else (str(rules),)
    r = run(*args, *extra)
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = [line for line in r.output.splitlines() if "evil-when" in line]
    assert len(lines) == 1 and 'cannot read condition \'runtime != "x\\n# Heading"\'' in lines[0], r.output
    assert not any(line.startswith("# Heading") for line in r.output.splitlines())


# -- 16. a newline in a name the user gave split the one-line error ------------------------------

@pytest.mark.parametrize("args", [
    ("explain", "no\nmodel", "rtx-4090"), ("explain", "llama-3.1-8b", "no\ngpu"),
    ("explain", "llama-3.1-8b", "rtx-4090", "--precision", "q9\n# x"),
    ("explain", "llama-3.1-8b", "rtx-4090", "--runtime", "v\nx"),
    ("explain", "./no\nfile.gguf", "rtx-4090"), ("gpus", "no\nmodel"), ("fit", "no\ngpu"),
    ("kb", "show", "no\nentry"), ("rules", "show", "no\nrule"), ("rules", "new", "a\nb"),
    ("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", "--lora-targets", "q\nk"),
])
def test_a_newline_in_what_the_user_typed_keeps_the_error_one_line(args):
    r = run(*args)
    _one_line_error(r)
    assert "\\n" in r.output


def test_several_errors_are_still_one_a_line(tmp_path):
    from tests.bulk_helpers import ROOT

    (tmp_path / "objective.yaml").write_text((ROOT / "rules" / "objective.yaml").read_text()
                                             .replace("prefer: quality", "prefer: bogus", 1)
                                             .replace("near-lossless: 0.3", "near-lossless: x", 1))
    for args in (("explain", "llama-3.1-8b", "rtx-4090", "--rules", str(tmp_path)),
                 ("rules", "check", str(tmp_path))):
        r = run(*args)
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 2 and "not 'bogus'" in lines[0] and "not 'x'" in lines[1], lines


def test_several_errors_pickle_as_a_list():
    import pickle

    from advisor.kb.store import KBErrors

    e = pickle.loads(pickle.dumps(KBErrors(["a.yaml:1: one", "b.yaml:2: two\nlines"])))
    assert isinstance(e, KBErrors) and e.errors == ["a.yaml:1: one", "b.yaml:2: two\\nlines"]


# -- 17. a rule test case's fact of the wrong type was a traceback (NaN, a list) or passed ("1") -

@pytest.mark.parametrize("value, shown", [
    (".nan", "not nan"), (".inf", "not inf"), ("[1]", "not a list of 1 item(s)"),
    ("{a: 1}", "not a dict of 1 item(s)"), ('"1"', "not '1'"), ("1.5", "not 1.5"), ("null", "not None"),
])
def test_a_case_fact_of_the_wrong_type_is_an_error_at_its_line(tmp_path, value, shown):
    assert run("rules", "new", "my-rule", "--dir", str(tmp_path)).exit_code == 0
    cases = tmp_path / "my-rule.test.yaml"
    text = cases.read_text()
    assert "gpu_count: 1}" in text
    cases.write_text(text.replace("gpu_count: 1}", f"gpu_count: {value}}}", 1))
    for args in (("rules", "test", str(tmp_path)), ("rules", "check", str(tmp_path))):
        r = run(*args)
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert f"case 1: facts: fact 'gpu_count' is a whole number, {shown}" in r.output, r.output


@pytest.mark.parametrize("scenario, said", [
    ("{model: llama-3.1-8b, gpu: rtx-4090, ram_gb: .nan}", "scenario: ram_gb is a finite number, not nan"),
    ("{model: [1], gpu: rtx-4090}", "scenario: model is a text, not a list of 1 item(s)"),
    ("{model: llama-3.1-8b, gpu: rtx-4090, precision: [1]}", "scenario: precision is a text"),
    ("{model: llama-3.1-8b, gpu: rtx-4090, task: finetune, pure_bf16: 'yes'}",
     "scenario: pure_bf16 is true or false, not 'yes'"),
])
def test_a_case_scenario_value_of_the_wrong_type_is_an_error_at_its_line(tmp_path, scenario, said):
    assert run("rules", "new", "my-rule", "--dir", str(tmp_path)).exit_code == 0
    cases = tmp_path / "my-rule.test.yaml"
    cases.write_text(re.sub(r"scenario: \{.*\}", lambda m: "scenario: " + scenario, cases.read_text()))
    r = run("rules", "test", str(tmp_path))
    assert r.exit_code == 2 and "Traceback" not in r.output and said in r.output, r.output


def test_a_failing_scenario_case_is_one_line(tmp_path):
    assert run("rules", "new", "my-rule", "--dir", str(tmp_path)).exit_code == 0
    cases = tmp_path / "my-rule.test.yaml"
    cases.write_text(re.sub(r"scenario: \{.*\}", lambda m: 'scenario: {model: "x\\ny", gpu: rtx-4090}',
                            cases.read_text()))
    r = run("rules", "test", str(tmp_path))
    assert r.exit_code == 1, r.output
    fail = [line for line in r.output.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and "unknown model 'x\\ny'" in fail[0], r.output
