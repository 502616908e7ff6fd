"""A checkpoint whose published format no Apple runtime loads (gpt-oss's MXFP4, DeepSeek's FP8)
is asked about on a Mac as llama.cpp runs it (the published GGUF of that format), not as
transformers would, whose MXFP4/FP8 kernels need NVIDIA: the headline verdict said "cannot run"
while What to do ran the model with llama.cpp (review4, fault 1). --runtime llama.cpp sizes the
same GGUF rather than refusing a checkpoint loader; --runtime transformers keeps its refusal."""
from __future__ import annotations

import pytest

from advisor.plans.publishers import gguf_of_checkpoint
from advisor.sizing.precision import parse_precision


@pytest.mark.parametrize("model, gpu, gguf", [
    ("gpt-oss-120b", "m4-max-128gb", "MXFP4_MOE"),
    ("gpt-oss-20b", "m4-16gb", "MXFP4_MOE"),
    ("deepseek-r1", "m2-ultra-192gb", "Q8_0"),
])
def test_a_mac_question_is_sized_as_llama_cpp_runs_the_published_format(advisor, model, gpu, gguf):
    adv = advisor.explain(model, gpu)
    assert adv.verdict != "cannot-run"
    assert adv.situation.work.runtime == "llama.cpp"
    assert adv.situation.precision.name == gguf
    assert "llama.cpp runs it" in adv.precision_source and "transformers cannot run" in adv.precision_source


def test_gpt_oss_120b_on_a_128_gb_mac_fits_as_the_plan_runs_it(advisor):
    adv = advisor.explain("gpt-oss-120b", "m4-max-128gb")
    assert adv.verdict == "fits"
    assert "ggml-org/gpt-oss-120b-GGUF" in adv.precision_source


def test_transformers_asked_on_a_mac_still_cannot_run(advisor):
    adv = advisor.explain("gpt-oss-20b", "m4-max-64gb", runtime="transformers")
    assert adv.verdict == "cannot-run"
    assert adv.situation.precision.name == "mxfp4"


@pytest.mark.parametrize("model, gpu, gguf", [("gpt-oss-20b", "m4-16gb", "MXFP4_MOE"),
                                               ("gpt-oss-20b", "rtx-3090", "MXFP4_MOE"),
                                               ("deepseek-r1", "h200", "Q8_0")])
def test_llama_cpp_asked_sizes_the_gguf_of_the_published_format(advisor, model, gpu, gguf):
    adv = advisor.explain(model, gpu, runtime="llama.cpp", gpus=8 if gpu == "h200" else None)
    assert adv.verdict != "cannot-run"
    assert adv.situation.precision.name == gguf
    assert "cannot run" not in adv.precision_source  # asked: no word on another runtime


def test_nvidia_default_is_unchanged(advisor):
    """vLLM runs gpt-oss's MXFP4 on an H100: the question stays the checkpoint under vLLM."""
    adv = advisor.explain("gpt-oss-120b", "h100-80gb")
    assert adv.situation.work.runtime == "vllm" and adv.situation.precision.name == "mxfp4"


def test_gguf_of_checkpoint_formats(kb):
    assert gguf_of_checkpoint(kb.model("gpt-oss-20b"), parse_precision("mxfp4")).name == "MXFP4_MOE"
    assert gguf_of_checkpoint(kb.model("deepseek-r1"), parse_precision("fp8")).name == "Q8_0"
    assert gguf_of_checkpoint(kb.model("llama-3.1-8b"), parse_precision("mxfp4")) is None  # dense
    assert gguf_of_checkpoint(kb.model("llama-3.1-8b"), parse_precision("awq")) is None
    assert gguf_of_checkpoint(kb.model("llama-3.1-8b"), parse_precision("Q4_K_M")) is None


@pytest.mark.parametrize("gpu", ["t4", "v100-32gb", "mi210"])
def test_the_same_on_cards_whose_vllm_has_no_mxfp4_kernels(advisor, gpu):
    """The same fault off the Mac: vLLM, the MXFP4 checkpoint's runtime on NVIDIA and AMD, has no
    MXFP4 kernels before Ampere and CDNA3, so a T4 was told "cannot run" for gpt-oss-20b, which
    llama.cpp runs on it from the published GGUF."""
    adv = advisor.explain("gpt-oss-20b", gpu)
    assert adv.verdict == "fits"
    assert adv.situation.work.runtime == "llama.cpp" and adv.situation.precision.name == "MXFP4_MOE"
    assert "vLLM cannot run the checkpoint here" in adv.precision_source
