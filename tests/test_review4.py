"""Faults of expert review 4 (/work/notes/review4.md in the session notes), each a kind:
commands that fail as printed (a GGUF recipe at a type llama-quantize refuses without an
importance matrix; a repo whose code vLLM must be trusted to run)."""
from __future__ import annotations

import re

import pytest

from advisor.sizing.gguf_mix import REQUIRES_IMATRIX


def _notes(plan) -> str:
    return " ".join(plan.notes)


@pytest.mark.parametrize("model, gpu", [("llama-3.1-70b", "rtx-4090"),
                                        ("deepseek-r1", "m2-ultra-192gb"),
                                        ("qwen2.5-72b", "rtx-3090")])
def test_a_recipe_at_a_type_that_needs_an_importance_matrix_makes_one(advisor, model, gpu):
    """llama-quantize exits 1 for IQ1_S, IQ1_M, IQ2_S, IQ2_XXS, IQ2_XS and Q2_K_S without
    --imatrix (tools/quantize/quantize.cpp), and llama-quant.cpp for any tensor of such a type."""
    adv = advisor.explain(model, gpu)
    made = [p for p in adv.path_plans
            if "llama-quantize" in _notes(p) or "convert_hf_to_gguf" in _notes(p)]
    assert made, "no plan makes its GGUF here: pick another case"
    for p in made:
        text = _notes(p)
        if p.precision.name in REQUIRES_IMATRIX:
            assert "llama-imatrix" in text and "--imatrix" in text, text
            for q in re.findall(r"`llama-quantize [^`]*`", text):
                assert "--imatrix imatrix.dat" in q, q
        else:
            assert "imatrix" not in text, text


def test_a_published_type_below_iq2_m_is_downloaded_not_made(advisor):
    adv = advisor.explain("llama-3.3-70b", "rtx-4090")
    low = [p for p in adv.path_plans if p.precision.name in {"IQ2_XS", "IQ2_XXS", "IQ2_S", "IQ1_M"}]
    assert low
    for p in low:
        assert p.command.startswith("llama-server -hf bartowski/Llama-3.3-70B-Instruct-GGUF:")
        assert "convert_hf_to_gguf" not in _notes(p)


@pytest.mark.parametrize("runtime, flag", [("vllm", "vllm serve"),
                                           ("sglang", "python -m sglang.launch_server")])
def test_a_repo_that_ships_its_own_code_is_launched_trusting_it(advisor, kb, runtime, flag):
    """Kimi K2's tokenizer is code in its repo: Moonshot's deployment guide launches vLLM and
    SGLang with --trust-remote-code."""
    assert kb.model("kimi-k2").trust_remote_code
    adv = advisor.explain("kimi-k2", "h200", gpus=8, runtime=runtime)
    cmds = [p.command for p in adv.path_plans
            if p.command and p.command.startswith(flag) and p.model.trust_remote_code]
    assert cmds
    assert all(c.endswith("--trust-remote-code") or " --trust-remote-code" in c for c in cmds)
    adv = advisor.explain("llama-3.1-8b", "h100-80gb", runtime=runtime)
    assert all("--trust-remote-code" not in (p.command or "") for p in adv.path_plans)
    others = [p.command for p in advisor.explain("kimi-k2", "h200", gpus=8, runtime=runtime).path_plans
              if p.command and not p.model.trust_remote_code]
    assert all("--trust-remote-code" not in c for c in others)
