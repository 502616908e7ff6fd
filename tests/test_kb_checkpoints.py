"""Published checkpoints the KB lists (issue 12, item 3): plans can load every one of them, their
formats are sized as the published files are, and a model whose 4-bit checkpoint fits the card
asked is run there rather than on a rented one."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.plans.candidates import weight_formats
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import weights_bytes

# bitsandbytes formats are offered under transformers only (advisor.plans.candidates)
_TRANSFORMERS_ONLY = ("nf4", "int8")


def test_every_listed_checkpoint_is_a_format_vllm_plans_load(kb):
    # on a card that runs every checkpoint format (FP8, 4-bit kernels), vLLM's formats for the
    # model include each listed checkpoint, loaded from its own repo; the first of a precision
    # wins, and the release itself (its native precision) loads from instruct_repo
    h100 = kb.gpu("h100-80gb")
    missing = []
    for m in kb.all_models():
        offered = {(p.name, repo) for p, repo in weight_formats(m, "vllm", h100)}
        seen = set()
        for ck in m.checkpoints:
            if ck.precision in _TRANSFORMERS_ONLY or ck.precision in seen:
                continue
            seen.add(ck.precision)
            if ck.precision == m.native_precision:
                continue
            if (ck.precision, ck.repo) not in offered:
                missing.append((m.id, ck.precision, ck.repo))
    assert not missing, missing


def test_checkpoint_precisions_are_checkpoint_formats(kb):
    for m in kb.all_models():
        for ck in m.checkpoints:
            assert parse_precision(ck.precision).family == "checkpoint", (m.id, ck.repo)


@pytest.mark.parametrize("model, precision, published", [
    # RedHatAI/phi-4-quantized.w4a16 (compressed-tensors W4A16): two safetensors files, 4.93 and
    # 4.16 GB (https://huggingface.co/RedHatAI/phi-4-quantized.w4a16/tree/main)
    ("phi-4", "int4", 4.93e9 + 4.16e9),
    # RedHatAI/Mistral-7B-Instruct-v0.3-quantized.w4a16 (GPTQ format): one model.safetensors of
    # 4.17 GB (https://huggingface.co/RedHatAI/Mistral-7B-Instruct-v0.3-quantized.w4a16/tree/main)
    ("mistral-7b-v0.3", "gptq", 4.17e9),
])
def test_checkpoint_sizes_match_published_files(kb, model, precision, published):
    m = kb.model(model)
    assert any(ck.precision == precision for ck in m.checkpoints)
    size = weights_bytes(m.architecture, parse_precision(precision))
    assert abs(size / published - 1) < 0.015, size


def _what_to_do(*args):
    r = CliRunner().invoke(main, ["explain", *args])
    assert r.exit_code == 0, r.output
    return r.output.split("## What to do", 1)[1].split("## Assumptions", 1)[0]


def test_gemma_3_27b_on_a_4090_under_vllm_loads_a_published_4bit_checkpoint():
    # the review's case: it was answered by renting a bigger card at FP8, though Red Hat's W4A16
    # and ISTA-DASLab's GPTQ checkpoints of gemma-3-27b-it fit 24 GB
    plan = _what_to_do("gemma-3-27b", "rtx-4090", "--runtime", "vllm")
    assert "Rent" not in plan.split("\n", 2)[1]
    assert "vllm serve RedHatAI/gemma-3-27b-it-quantized.w4a16" in plan


def test_deepseek_r1_on_8_h100_under_vllm_runs_a_published_4bit_checkpoint():
    # R1's FP8 release does not fit 8 x 80 GB; Red Hat's W4A16 checkpoint of it does
    plan = _what_to_do("deepseek-r1", "h100-80gb", "-n", "8", "--runtime", "vllm")
    assert "Rent" not in plan.split("\n", 2)[1]
    assert "vllm serve RedHatAI/DeepSeek-R1-quantized.w4a16 --tensor-parallel-size 8" in plan
