"""transformers on Apple's MPS: the reason a quantized checkpoint cannot run names that format's
kernels, not a list of other formats' (gpt-oss's MXFP4 was said to need "bitsandbytes, AWQ,
GPTQ, FP8" kernels)."""
import pytest
from click.testing import CliRunner

from advisor.cli import main

from advisor.plans.runtimes import cannot_run
from advisor.sizing.precision import parse_precision


@pytest.mark.parametrize("fmt, kernels, wrong", [
    ("mxfp4", "MXFP4", ["bitsandbytes", "AWQ", "GPTQ", "FP8"]),
    ("awq", "AWQ", ["bitsandbytes", "GPTQ", "FP8", "MXFP4"]),
    ("gptq", "GPTQ", ["bitsandbytes", "AWQ", "FP8", "MXFP4"]),
    ("nf4", "bitsandbytes NF4", ["AWQ", "GPTQ", "FP8", "MXFP4"]),
    ("fp8", "FP8", ["bitsandbytes", "AWQ", "GPTQ", "MXFP4"]),
])
def test_mps_reason_names_the_formats_own_kernels(kb, fmt, kernels, wrong):
    why = cannot_run("transformers", parse_precision(fmt), kb.gpu("m4-max-64gb"))
    assert why and f"The {kernels} kernels" in why and "Apple's MPS" in why
    assert not any(w in why for w in wrong), why


def test_float_weights_still_run_on_mps(kb):
    assert cannot_run("transformers", parse_precision("bf16"), kb.gpu("m4-max-64gb")) is None


def test_gpt_oss_on_a_mac_verdict_names_mxfp4():
    # asked under transformers: a question without --runtime is sized as llama.cpp runs it
    # (tests/test_mac_default_runtime.py)
    out = CliRunner().invoke(main, ["explain", "gpt-oss-20b", "m4-max-64gb", "--runtime",
                                    "transformers", "--format", "markdown"])
    assert out.exit_code == 0, out.output
    verdict = next(line for line in out.output.splitlines() if line.startswith("**Verdict"))
    assert "The MXFP4 kernels transformers uses (Triton) need an NVIDIA GPU" in verdict
    assert "bitsandbytes" not in verdict
