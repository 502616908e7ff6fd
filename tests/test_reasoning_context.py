"""A reasoning model asked without --context is sized at a context that holds the output its publisher
recommends (kb `recommended_output_tokens`, advisor.sizing.workload.default_context_tokens), in
explain, fit, gpus and generate alike; a context given wins; chat models keep 8,192 tokens; an
Ollama name keeps Ollama's default and the advisory says whether it holds the budget."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from click.testing import CliRunner

from advisor.bulk.inverse import context_for, models_that_fit
from advisor.cli import main
from advisor.render import render_markdown
from advisor.sizing.ollama import default_context
from advisor.sizing.workload import (
    DEFAULT_CONTEXT_TOKENS,
    Workload,
    default_context_reason,
    default_context_tokens,
    reasoning_context_tokens,
    round_context_up,
)
from tests.bulk_helpers import kb_of


def test_round_context_up_keeps_three_significant_binary_digits_and_never_rounds_down():
    assert [round_context_up(n) for n in (512, 8192, 8193, 33280, 39424, 41472, 66048)] == \
        [512, 8192, 10240, 40960, 40960, 49152, 81920]
    for n in range(1, 300_000, 997):
        up = round_context_up(n)
        assert up >= n and up.bit_length() - (up & -up).bit_length() < 3


@pytest.mark.parametrize("model, want", [
    ("deepseek-r1-distill-qwen-7b", 32768),   # its 32,768 output tokens
    ("qwen3-8b", 32768),                      # the same budget, within its 40,960 positions
    ("deepseek-r1-0528-qwen3-8b", 65536),     # 64K
    ("magistral-small", 40960),               # 40,960
    ("phi-4-reasoning", 32768),               # capped at its 32,768 positions
    ("llama-3.1-8b", DEFAULT_CONTEXT_TOKENS),  # a chat model: unchanged
])
def test_the_default_context_of_a_model(kb, model, want):
    assert default_context_tokens(kb.model(model)) == want


def test_the_default_never_needs_rope_scaling_nor_falls_below_the_chat_default(kb):
    for m in kb.all_models():
        ctx = default_context_tokens(m)
        assert min(DEFAULT_CONTEXT_TOKENS, m.context_limit) <= ctx <= m.context_limit
        if m.recommended_output_tokens:
            assert ctx <= m.architecture.max_context
            assert ctx == reasoning_context_tokens(m)
        else:
            assert ctx == min(DEFAULT_CONTEXT_TOKENS, m.context_limit)


def test_a_reasoning_model_without_context_is_sized_at_its_budget(advisor):
    adv = advisor.explain("deepseek-r1-distill-qwen-32b", "h100-80gb")
    assert adv.situation.work.context_tokens == 32768
    assert adv.context_reason.startswith("reasoning model: its publisher recommends up to 32,768 "
                                         "output tokens")
    md = render_markdown(adv, {"context", "precision", "runtime"})
    assert "a context of 32,768 tokens (the default)" in md
    assert f"Context: {adv.context_reason}." in md
    w = adv.to_json()["workload"]
    assert w["context_tokens"] == 32768 and w["recommended_output_tokens"] == 32768
    assert w["context_reason"] == adv.context_reason
    # every plan is sized at that context or shortened from it, never at the chat default
    asked = [p for p in adv.path_plans if p.path == "as-asked"]
    assert asked and asked[0].context_tokens == 32768


def test_a_context_given_wins(advisor):
    adv = advisor.explain("deepseek-r1-distill-qwen-32b", "h100-80gb", context_tokens=8192)
    assert adv.situation.work.context_tokens == 8192 and adv.context_reason is None
    assert "Context:" not in render_markdown(adv, {"precision", "runtime"})
    assert "context_reason" not in adv.to_json()["workload"]


def test_a_chat_model_is_unchanged(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090")
    assert adv.situation.work.context_tokens == DEFAULT_CONTEXT_TOKENS
    assert adv.context_reason is None and "context_reason" not in adv.to_json()["workload"]
    assert "Context:" not in render_markdown(adv, {"context", "precision", "runtime"})


def test_a_reasoning_model_whose_positions_are_shorter_than_its_budget_says_so(advisor, kb):
    """Phi-4-reasoning's 32,768 positions hold its 32,768 output tokens exactly; a model whose
    positions stop short of its budget is sized at its positions and says the longest thinking
    does not fit."""
    adv = advisor.explain("phi-4-reasoning", "h100-80gb")
    assert adv.situation.work.context_tokens == 32768
    assert "which holds them" in adv.context_reason
    m = kb.model("qwen3-8b")   # 40,960 positions (131,072 with YaRN)
    short = replace(m, recommended_output_tokens=65536)
    assert default_context_tokens(short) == 40960
    assert "the longest thinking does not fit" in default_context_reason(short, 40960)


@pytest.mark.parametrize("gpu, holds", [("rtx-3060-12gb", False), ("rtx-4090", True),
                                        ("h200", True)])
def test_an_ollama_name_keeps_ollamas_default_and_says_whether_it_holds_the_budget(
        advisor, kb, gpu, holds):
    adv = advisor.explain("deepseek-r1:32b", gpu)
    m = kb.model("deepseek-r1-distill-qwen-32b")
    ollama = min(default_context(kb.gpu(gpu), 1, m.architecture.max_context), m.context_limit)
    assert adv.situation.work.runtime == "ollama"
    assert adv.situation.work.context_tokens == ollama   # Ollama's own default, as it runs it
    assert "32,768 output tokens" in adv.context_reason
    if holds:   # 32,768 on 24 GiB, 131,072 on an H200
        assert f"which Ollama's default context of {ollama:,} tokens holds" in adv.context_reason
    else:   # 4,096 under 24 GiB: the thinking is cut short
        assert "cuts long thinking short: set OLLAMA_CONTEXT_LENGTH=32768" in adv.context_reason
    assert adv.to_json()["workload"]["context_reason"] == adv.context_reason


def test_fit_gpus_and_generate_share_explains_default(kb):
    for m in kb.all_models():
        assert context_for(m, Workload(DEFAULT_CONTEXT_TOKENS), True).context_tokens == \
            default_context_tokens(m)
        # a chosen context is kept (or the model cannot: None)
        w = Workload(16384)
        assert context_for(m, w, False) == (w if m.context_limit >= 16384 else None)


def test_fit_sizes_a_reasoning_model_at_its_budget_and_a_chat_model_at_8192(kb):
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    small = kb_of([kb.model("deepseek-r1-distill-qwen-7b"), kb.model("llama-3.1-8b")], [kb.gpu("h200")])
    rows = models_that_fit(Planner(small, load_objective_file()), small, small.gpu("h200"),
                           Workload(DEFAULT_CONTEXT_TOKENS), 1, cap_context=True)
    got = {r.model.id: r.plan.context_tokens for r in rows}
    assert got == {"deepseek-r1-distill-qwen-7b": 32768, "llama-3.1-8b": 8192}
    chosen = models_that_fit(Planner(small, load_objective_file()), small, small.gpu("h200"),
                             Workload(4096), 1, cap_context=False)
    assert {r.plan.context_tokens for r in chosen} == {4096}


def test_gpus_cli_json_carries_the_budget_and_the_reason():
    r = CliRunner().invoke(main, ["gpus", "deepseek-r1-distill-qwen-7b", "--max-gpus", "1",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["context_tokens"] == 32768 and "32,768 output tokens" in doc["context_reason"]
    r = CliRunner().invoke(main, ["gpus", "deepseek-r1-distill-qwen-7b", "--max-gpus", "1",
                                  "--context", "8192", "--format", "json"])
    doc = json.loads(r.output)
    assert doc["context_tokens"] == 8192 and "context_reason" not in doc


def test_generate_pages_use_the_same_default(kb, tmp_path):
    from advisor.advise import load_rulebook
    from advisor.bulk.generate import generate
    from advisor.bulk.select import Filters

    small = kb_of([kb.model("deepseek-r1-distill-qwen-1.5b")], [kb.gpu("h200")])
    s = generate(small, load_rulebook(), tmp_path, Filters(precisions=("bf16",)),
                 defaults=frozenset({"context"}))
    assert not s.failed
    page = (tmp_path / "deepseek-r1-distill-qwen-1.5b" / "h200__bf16.md").read_text()
    assert "a context of 32,768 tokens (the default)" in page
    assert "Context: reasoning model: its publisher recommends up to 32,768 output tokens" in page


def test_the_reason_is_none_for_a_chat_model_and_names_the_budget_otherwise(kb):
    assert default_context_reason(kb.model("llama-3.1-8b"), 8192) is None
    m = kb.model("qwen3-8b")
    assert default_context_reason(m, 32768) == (
        "reasoning model: its publisher recommends up to 32,768 output tokens, so the default "
        "context is 32,768 tokens, which holds them (a long prompt on top needs a longer --context)")
    assert default_context_reason(m, 4096, ollama=True).endswith(
        "set OLLAMA_CONTEXT_LENGTH=32768 (ask with --context 32768 to size that)")


# --- the KB field: every value has its source -------------------------------------------------

SOURCE = re.compile(r"^https://(huggingface\.co/[^/\s]+/[^/\s]+|github\.com/[^/\s]+/[^/\s]+/blob/[0-9a-f]{40}/)")


def test_every_recommended_output_length_has_its_card_quoted(kb):
    found = [m for m in kb.all_models() if m.recommended_output_tokens is not None]
    assert len(found) >= 20   # DeepSeek R1 and its distills, Qwen3, QwQ, Phi-4-reasoning, Magistral
    for m in found:
        n = m.recommended_output_tokens
        cited = [s for s in m.sources if "recommended_output_tokens" in s.fields]
        assert cited, m.id
        for s in cited:
            assert SOURCE.match(s.source), (m.id, s.source)
            assert s.note and "'" in s.note, (m.id, "the note quotes the card")
            figures = {f"{n:,}", str(n)} | ({f"{n // 1024}K"} if n % 1024 == 0 else set())
            assert any(f in s.note for f in figures), (m.id, n)


def test_the_schema_refuses_an_output_length_beyond_the_context(kb):
    from pydantic import ValidationError

    m = kb.model("phi-4-reasoning")
    with pytest.raises((ValueError, ValidationError), match="beyond the model's context"):
        replace(m, recommended_output_tokens=m.context_limit + 1)
