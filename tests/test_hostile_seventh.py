"""Hostile-input findings, seventh round (issue 14; the findings in full: /work/notes/hostile7.md):
what landed with mixed GPU sets, the Ollama runtime, speed bands, --train-tokens and vLLM serving.
Each test is one kind of fault the pass found, checked through the command line."""
from __future__ import annotations

from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


# -- a GPU set's count of thousands of digits --------------------------------------------------

def test_a_gpu_sets_count_of_thousands_of_digits_is_one_line():
    """'1111...x rtx-3090' (5,000 digits) ended in a ValueError traceback: int() refuses strings
    of more than 4,300 digits. The count is refused as out of range, and the line stays short."""
    r = run("explain", "llama-3.1-8b", "1" * 5000 + "x rtx-3090")
    one_line_error(r, "a count must be from 1 to")
    assert len(r.output) < 300
    one_line_error(run("explain", "llama-3.1-8b", "99999x rtx-3090"), "not 99999")


def test_a_long_train_tokens_value_is_quoted_short():
    """A 5,000-character --train-tokens value was echoed whole in its error line."""
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", "--train-tokens", "1" * 5000)
    one_line_error(r, "whole number of tokens")
    assert len(r.output) < 400


# -- a runtime that cannot run on the card is given no speed there -----------------------------

def test_a_cannot_run_advisory_gives_no_speed_as_if_it_ran():
    """`explain llama-3.1-8b m4-max-64gb --runtime vllm` says 'cannot run: vLLM runs on NVIDIA
    and AMD GPUs', then its Speed section said 'Generating should run at about 23.3 tokens/s
    (usually within 11%...)', a band measured on NVIDIA cards, for a runtime that does not start.
    The section is left out; the plans keep their speeds."""
    for args in (("llama-3.1-8b", "m4-max-64gb", "--runtime", "vllm"),
                 ("llama-3.1-8b", "t4", "-p", "fp8", "--runtime", "vllm")):
        r = run("explain", *args)
        assert r.exit_code == 0, r.output
        assert "**Verdict: cannot run.**" in r.output
        assert "## Speed" not in r.output and "Generating should run" not in r.output
        assert "## What to do" in r.output and "tokens/s" in r.output.split("## What to do")[1]
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--runtime", "vllm")
    assert "## Speed" in r.output  # a question that runs keeps it
    import json

    # the JSON gave the same speeds (llama3.1:8b's Q4_K_M under vLLM: 135.8 tokens/s, 931 served)
    d = json.loads(run("explain", "llama3.1:8b", "rtx-4090", "--runtime", "vllm", "-b", "2",
                       "--format", "json").output)
    assert d["verdict"] == "cannot-run" and d["cannot_run"]
    assert {k for k, v in d["throughput"].items() if v is not None} == {"prompt_tokens"}
    assert d["plan"]["decode_tokens_per_s"] > 0 and d["plan"]["decode_band"]


# -- --why's plan numbers carry the speed's band -----------------------------------------------

def test_why_plan_speeds_carry_their_band():
    """--why's JSON gave why_plan.chosen and .runner_up a decode_tokens_per_s with no band, while
    every other speed in the JSON has one."""
    import json

    # (a question with a runner-up: the plan that beats it and the question as asked)
    r = run("explain", "qwen2.5:32b", "rtx-3090", "--why", "--format", "json")
    assert r.exit_code == 0, r.output
    why = json.loads(r.output)["why_plan"]
    for key in ("chosen", "runner_up"):
        b = why[key]["decode_band"]
        assert b["category"] and "uncalibrated" in b, b


# -- explain's GPU sets given to fit and generate ----------------------------------------------

def test_a_gpu_set_given_to_fit_or_generate_is_named_as_a_set(tmp_path):
    """explain takes 'rtx-3090,2x rtx-3060-12gb' and '2xrtx-3090'; fit said "unknown gpu
    'rtx-3090,2x rtx-3060-12gb'" and generate "unknown gpu '2x rtx-3060-12gb'", as if the id
    were misspelt. Each now says what it takes instead."""
    # (fit now answers for such sets: tests/test_fit_sets.py)
    one_line_error(run("generate", "--out", str(tmp_path / "o"), "--models", "llama-3.1-8b",
                       "--gpus", "rtx-3090,2x rtx-3060-12gb"), "--gpu-count", "advisor fit")
    one_line_error(run("generate", "--out", str(tmp_path / "o"), "--models", "llama-3.1-8b",
                       "--gpus", "nosuch"), "unknown gpu 'nosuch'")
    assert not (tmp_path / "o").exists()


# -- objective.yaml order terms ------------------------------------------------------------------

def _objective_with(tmp_path, old, new):
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "rules" / "objective.yaml").read_text()
    assert old in text
    (tmp_path / "objective.yaml").write_text(text.replace(old, new, 1))
    return str(tmp_path)


def test_an_order_term_with_two_minus_signs_or_twice_is_an_error(tmp_path):
    """'--fast_band' was read as '-fast_band' (every leading '-' stripped), and an order listing
    fast_band twice, once each way, passed `rules check`: the second mention sorts nothing."""
    (tmp_path / "a").mkdir()
    d = _objective_with(tmp_path / "a", "-fast_band, levers", "--fast_band, levers")
    r = run("rules", "check", d)
    assert r.exit_code == 2 and "unknown attribute '--fast_band'" in r.output, r.output
    assert "objective.yaml:" in r.output and "Traceback" not in r.output
    (tmp_path / "b").mkdir()
    d = _objective_with(tmp_path / "b", "quality: [-usable,", "quality: [fast_band, -usable,")
    r = run("rules", "check", d)
    assert r.exit_code == 2 and "order.quality lists fast_band twice" in r.output, r.output
    assert run("rules", "check").exit_code == 0


# -- the training rate's band in JSON --------------------------------------------------------------

def test_training_tokens_per_s_carries_its_band_in_json():
    """--train-tokens gave training.tokens_per_s in the JSON with only `calibrated`, while the
    markdown quotes the fit's error and every other speed in the JSON has a band."""
    import json

    for gpu, calibrated in (("rtx-4090", True), ("mi300x", False)):
        r = run("explain", "llama-3.1-8b", gpu, "--task", "finetune", "--train-tokens", "1e9",
                "--format", "json")
        assert r.exit_code == 0, r.output
        d = json.loads(r.output)
        for t in (d["training"], d["plan"]["training"]):
            b = t["band"]
            assert b["uncalibrated"] is (not calibrated)
            assert (b["median_pct"] is not None) is calibrated and b["rows"] > 0


# -- fact descriptions name every value ------------------------------------------------------------

def test_fact_descriptions_name_every_path_and_runtime():
    """The path fact's description left out gpu-layers and the runtime facts' left out ollama,
    values plan rules now meet (a user rule `runtime == 'ollama'` looked unsupported)."""
    from advisor.facts.core import FACTS as CORE
    from advisor.facts.plans import PLAN_FACTS
    from advisor.plans.plan import PATHS
    from advisor.sizing.constants import GGML_RUNTIMES

    for p in PATHS:
        assert p in PLAN_FACTS["path"][1], p
    for rt in (*GGML_RUNTIMES, "vllm", "transformers"):
        assert rt in PLAN_FACTS["runtime"][1] and rt in CORE["runtime"][1], rt


# -- an Ollama tag's mxfp4 ---------------------------------------------------------------------------

def test_an_ollama_tags_mxfp4_is_the_gguf_type_under_ollama():
    """`gpt-oss:20b-mxfp4` was sized as the MXFP4 safetensors checkpoint with vLLM ("the runtime
    for that format"), though an Ollama name runs under Ollama, whose blobs are GGUF; the tag
    without the quantization gave MXFP4_MOE with Ollama. Both now agree."""
    import json

    def asked(name):
        r = run("explain", name, "rtx-4090", "--format", "json")
        assert r.exit_code == 0, r.output
        w = json.loads(r.output)["workload"]
        return w["precision"], w["runtime"], json.loads(r.output)["memory"]["total_bytes"]

    assert asked("gpt-oss:20b-mxfp4") == asked("gpt-oss:20b") == asked("gpt-oss:20b")
    assert asked("gpt-oss:20b-mxfp4")[:2] == ("MXFP4_MOE", "ollama")
    one_line_error(run("explain", "llama3.1:8b-mxfp4", "rtx-4090"), "has no experts")


def test_an_unknown_id_is_quoted_short():
    """An unknown model or GPU id of 5,000 characters was echoed whole in its one-line error;
    it is quoted to 82 characters, the closest known ids still named."""
    from click.testing import CliRunner

    from advisor.cli import main

    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "x" * 5000])
    assert r.exit_code == 2 and len(r.output) < 400 and "..." in r.output, r.output
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-409"])
    assert r.exit_code == 2 and "unknown gpu 'rtx-409'; closest known:" in r.output, r.output
