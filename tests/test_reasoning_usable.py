"""A reasoning model (kb `recommended_output_tokens`) is usable only at a speed its thinking can be
waited for and at a quality class its long chain of thought survives (rules/objective.yaml
`usable.<prefer>.reasoning_decode_tokens_per_s`, `reasoning_quality_class`); a model without a
published score finds its smaller reasoning relatives through its siblings' families; a plan's
pace says how long its thinking takes."""
from __future__ import annotations

from pathlib import Path

import pytest

from advisor.errors import AdvisorError
from advisor.plans.candidates import other_models
from advisor.plans.evaluate import Ask
from advisor.plans.objective import load_objective
from advisor.render import THINKING_TOKENS_TOLD, pace, render_markdown
from advisor.sizing.workload import Workload, is_reasoning

OBJECTIVE = Path(__file__).resolve().parents[1] / "rules" / "objective.yaml"


@pytest.fixture(scope="module")
def objective():
    return load_objective(OBJECTIVE)


def test_the_reasoning_floors_apply_to_reasoning_models_only(objective):
    small = objective.class_names.index("small")
    noticeable = objective.class_names.index("noticeable")
    u = objective.usable["quality"]
    assert u.reasoning_decode_tokens_per_s > u.decode_tokens_per_s
    slow = (u.decode_tokens_per_s + u.reasoning_decode_tokens_per_s) / 2
    # a chat model at a speed between the two floors, or at 3-bit quality, is usable ...
    assert objective.is_usable("quality", small, slow)
    assert objective.is_usable("quality", noticeable, 50.0)
    # ... a reasoning model is not: its thinking comes first, and errors compound over it
    assert not objective.is_usable("quality", small, slow, reasoning=True)
    assert not objective.is_usable("quality", noticeable, 50.0, reasoning=True)
    assert objective.is_usable("quality", small, u.reasoning_decode_tokens_per_s, reasoning=True)
    # never more lenient than the chat floors (speed asks 10 tokens/s of every model)
    for prefer, v in objective.usable.items():
        assert objective.is_usable(prefer, 0, 1e4, reasoning=True)
        assert not objective.is_usable(prefer, 0, v.decode_tokens_per_s * 0.99, reasoning=True)


def _objective_with(tmp_path, line_old, line_new):
    text = OBJECTIVE.read_text()
    assert line_old in text
    f = tmp_path / "objective.yaml"
    f.write_text(text.replace(line_old, line_new))
    return f


def test_an_objective_without_the_reasoning_keys_still_loads(tmp_path):
    f = _objective_with(tmp_path, "reasoning_quality_class: small, reasoning_decode_tokens_per_s: 8.0}",
                        "}")
    obj = load_objective(f)
    assert obj.usable["quality"].reasoning_quality_class is None
    assert obj.is_usable("quality", obj.class_names.index("noticeable"), 2.0, reasoning=True)


@pytest.mark.parametrize("new, said", [
    ("reasoning_quality_class: tiny, reasoning_decode_tokens_per_s: 8.0}",
     "usable.quality.reasoning_quality_class 'tiny' is not one of"),
    ("reasoning_quality_class: small, reasoning_decode_tokens_per_s: -1}",
     "usable.quality.reasoning_decode_tokens_per_s must be a number of tokens/s"),
    ("reasoning_quality_class: small, reasoning_speed: 5.0}", "may give reasoning_quality_class"),
])
def test_bad_reasoning_keys_are_named(tmp_path, new, said):
    f = _objective_with(tmp_path, "reasoning_quality_class: small, reasoning_decode_tokens_per_s: 8.0}",
                        new)
    with pytest.raises(AdvisorError) as e:
        load_objective(f)
    assert said in str(e.value) and "objective.yaml" in str(e.value)


def test_a_model_without_a_score_finds_its_families_smaller_reasoning_models(kb):
    """QwQ-32B has no published MMLU-Pro score in the KB and its siblings are its size: the
    another-model path looks in their families, at reasoning models only."""
    qwq = kb.model("qwq-32b")
    assert qwq.quality_score("mmlu-pro") is None and is_reasoning(qwq)
    ask = Ask.of(qwq, kb.gpu("rtx-3060-12gb"), 1, Workload(context_tokens=32768))
    found = {m.id for m in other_models(ask, kb)}
    assert {"qwen3-30b-a3b", "qwen3-14b", "qwen3-8b"} <= found
    assert all(is_reasoning(kb.model(i)) or i in qwq.siblings for i in found)
    assert "qwen2.5-14b" not in found   # a chat model is no stand-in for a reasoning one
    size = kb.parameter_count(qwq)
    assert all(kb.parameter_count(kb.model(i)) < size for i in found)


@pytest.mark.parametrize("model, gpu", [("qwq-32b", "rtx-3060-12gb"),
                                        ("deepseek-r1-distill-qwen-32b", "rtx-3060-12gb"),
                                        ("deepseek-r1-distill-llama-70b", "rtx-4090"),
                                        ("qwen3-32b", "rtx-4060-ti-16gb")])
def test_what_to_do_for_a_reasoning_model_thinks_fast_enough_at_4_bits_or_better(
        advisor, objective, model, gpu):
    adv = advisor.explain(model, gpu)
    u = objective.usable["quality"]
    plan = adv.plan
    assert plan is not None
    assert plan.decode_tokens_per_s >= u.reasoning_decode_tokens_per_s
    assert plan.quality_class <= u.reasoning_quality_class
    # the plans offered on your hardware below the floor are offered only as a last resort
    for p, rule in adv.offered:
        if p.owned and not p.usable:
            assert rule == "plan-last-resort"


def test_the_pace_of_a_reasoning_plan_says_how_long_its_thinking_takes(advisor):
    assert pace(3.3) == "slow: fine for batch jobs, slow to chat with"
    minutes = THINKING_TOKENS_TOLD / 3.3 / 60
    assert pace(3.3, reasoning=True).endswith(
        f"{THINKING_TOKENS_TOLD:,} thinking tokens take about {minutes:.0f} minutes")
    assert pace(40.0, reasoning=True) == "faster than you read"
    md = render_markdown(advisor.explain("qwq-32b", "rtx-3060-12gb"), set())
    assert "thinking tokens take about" in md
    md = render_markdown(advisor.explain("llama-3.1-70b", "rtx-3060-12gb"), set())
    assert "thinking tokens" not in md


def test_plans_for_an_ollama_reasoning_name_set_the_context_its_thinking_needs(advisor):
    """deepseek-r1:32b on a 12 GB card: Ollama's default there (4,096 tokens) cuts the thinking
    short and the advisory says to set OLLAMA_CONTEXT_LENGTH=32768; the question as asked keeps
    Ollama's default, every other plan holds the 32,768 tokens and sets it."""
    adv = advisor.explain("deepseek-r1:32b", "rtx-3060-12gb")
    assert "OLLAMA_CONTEXT_LENGTH=32768" in adv.context_reason
    asked = [p for p in adv.path_plans if p.path == "as-asked"]
    assert asked and asked[0].context_tokens == adv.situation.work.context_tokens < 32768
    others = [p for p in adv.path_plans if p.path != "as-asked"]
    assert others
    for p in others:
        assert p.context_tokens == 32768, p.path
        assert "context 32,768 tokens, which holds its thinking" in p.changes
        said = " ".join(p.notes) + p.command
        assert "OLLAMA_CONTEXT_LENGTH=4096" not in said
        if p.runtime == "ollama" and p.owned and p.gpu_count == 1:   # Ollama's default: 4,096
            assert "OLLAMA_CONTEXT_LENGTH=32768" in said
        # another model's layers are never counted against the question's
        assert not any("than the question's" in c for c in p.changes if p.path == "another-model")
    # a context given is kept by every plan
    adv = advisor.explain("deepseek-r1:32b", "rtx-3060-12gb", context_tokens=4096)
    assert all(p.context_tokens <= 4096 for p in adv.path_plans)


def test_a_plan_that_holds_the_thinking_beats_an_ollama_default_that_cuts_it(advisor):
    """deepseek-r1:8b on a 12 GB card: as asked it runs at Ollama's 4,096 tokens, which cut its
    65,536-token thinking budget short; the plan at 65,536 with a q8_0 cache on the same card,
    as fast, is What to do (plan-better-than-asked) and sets OLLAMA_CONTEXT_LENGTH."""
    adv = advisor.explain("deepseek-r1:8b", "rtx-3060-12gb")
    assert adv.situation.work.context_tokens < 65536
    plan = adv.plan
    assert adv.rule_of(plan) == "plan-better-than-asked" and plan.owned
    assert plan.context_tokens == 65536 and plan.model.id == adv.situation.model.id
    assert "OLLAMA_CONTEXT_LENGTH=65536" in " ".join(plan.notes)
    # a context the user gave is kept
    adv = advisor.explain("deepseek-r1:8b", "rtx-3060-12gb", context_tokens=4096)
    assert adv.plan.context_tokens == 4096
