"""Numbers that passed the checks but gave absurd answers (issue 14, the second hostile pass):
a prompt longer than the context, GPU figures far below any device, empty or endless names,
RAM bandwidth of 1e-320, bf16 under vLLM on a card without bf16 math."""
from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.paths import data_dir


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_a_prompt_longer_than_the_context_is_refused():
    r = _run("explain", "llama-3.1-8b", "rtx-4090", "--prompt-tokens", "200000")
    assert r.exit_code == 2 and "longer than the context of 8,192" in r.output


def test_the_default_prompt_is_cut_to_a_short_context():
    r = _run("explain", "llama-3.1-8b", "rtx-4090", "--context", "256")
    assert r.exit_code == 0, r.output
    assert "A prompt of 256 tokens" in r.output


@pytest.mark.parametrize("value", ["1e-320", "0.01", "0"])
def test_ram_bandwidth_below_any_memory_is_refused(value):
    r = _run("explain", "llama-3.1-8b", "rtx-4090", "--ram-bandwidth", value)
    assert r.exit_code == 2 and "--ram-bandwidth" in r.output


@pytest.mark.parametrize("line,new", [
    ("bandwidth_gb_s:", "bandwidth_gb_s: 1.0e-300"),
    ("fp16_tflops:", "fp16_tflops: 1.0e-300"),
    ("name:", "name: ''"),
    ("name:", "name: '" + "x" * 300 + "'"),
])
def test_implausible_gpu_figures_and_names_fail_validation(tmp_path, line, new):
    src = data_dir("kb") / "gpus" / "rtx-4090.yaml"
    text = src.read_text()
    kept = [ln for ln in text.splitlines() if not ln.startswith(line)]
    assert len(kept) < len(text.splitlines())
    (tmp_path / "gpus").mkdir()
    (tmp_path / "gpus" / "rtx-4090.yaml").write_text("\n".join(kept + [new]) + "\n")
    r = _run("kb", "validate", str(tmp_path))
    assert r.exit_code == 2, r.output
    assert "rtx-4090.yaml" in r.output and "Traceback" not in r.output


def test_bf16_under_vllm_on_a_card_without_bf16_says_vllm_casts_it():
    r = _run("explain", "qwen2.5-0.5b", "t4", "-p", "bf16", "--runtime", "vllm")
    assert r.exit_code == 0
    assert "loaded by vLLM as float16" in r.output
    commands = [ln for ln in r.output.splitlines() if "vllm serve" in ln]
    assert commands and not any("bfloat16" in c.split("vllm serve", 1)[1].split("`")[0] for c in commands)


@pytest.mark.parametrize("gpu,vendor", [("mi300x", "AMD"), ("rtx-4090", None)])
def test_uncalibrated_vendors_say_so(gpu, vendor):
    r = _run("explain", "llama-3.1-8b", gpu)
    assert r.exit_code == 0
    if vendor:
        assert f"No {vendor} GPU was among the fitted runs" in r.output and "uncalibrated" in r.output
    else:
        assert "uncalibrated" not in r.output
