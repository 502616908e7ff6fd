"""Paths no plan rule could offer are not sized (Advisor.explain(every_path=False), what the
markdown advisory and bulk pages use): the advisory is the same, only cheaper.

- the markdown of every_path=False equals that of every_path=True over a rotating sample of the
  KB (with its What to do and options);
- a usable question leaves out the rent, more-cards and another-model paths with the built-in
  rules, and keeps them when a rule folder adds a rule that offers them then;
- PATH_FACTS (what the planner assumes every plan of a path has) holds for every plan sized;
- may_match decides only from known facts and literal conditions.
"""
from __future__ import annotations

import datetime

import pytest

from advisor.advise import Advisor, load_rulebook
from advisor.plans.plan import PATH_FACTS
from advisor.render import render_markdown
from advisor.rules.spec import Condition, FactRef, RuleSpec, may_match


def _pairs(kb, count: int):
    """`count` (model, gpu) pairs, a different slice of the KB each day."""
    models, gpus = kb.all_models(), kb.all_gpus()
    start = datetime.date.today().toordinal()
    return [(models[(start + i * 37) % len(models)].id, gpus[(start * 7 + i * 11) % len(gpus)].id)
            for i in range(count)]


def test_lazy_markdown_is_identical(kb):
    rules = load_rulebook()
    full, lazy = Advisor(kb, rules), Advisor(kb, rules)
    skipped = 0
    for model, gpu in _pairs(kb, 40) + [("llama-3.1-8b", "h100-80gb"), ("llama-3.1-405b", "a100-40gb")]:
        for precision in (None, "Q4_K_M"):
            try:
                a = full.explain(model, gpu, precision)
            except Exception as exc:  # noqa: BLE001 - a question the KB refuses: both refuse it
                with pytest.raises(type(exc)):
                    lazy.explain(model, gpu, precision, every_path=False)
                continue
            b = lazy.explain(model, gpu, precision, every_path=False)
            assert render_markdown(a, {"context"}) == render_markdown(b, {"context"}), (model, gpu, precision)
            assert [(p.identity, r) for p, r in a.offered] == [(p.identity, r) for p, r in b.offered]
            skipped += len(b.path_plans) < len(a.path_plans)
    assert skipped  # the sample has usable questions (8b on an H100 is one)


def test_a_usable_question_skips_paths_no_rule_offers(kb):
    adv = Advisor(kb, load_rulebook()).explain("llama-3.1-8b", "h100-80gb", every_path=False)
    paths = {p.path for p in adv.path_plans}
    assert "as-asked" in paths and not paths & {"more-cards", "rent", "another-model"}
    full = Advisor(kb, load_rulebook()).explain("llama-3.1-8b", "h100-80gb")
    assert {"rent", "another-model"} <= {p.path for p in full.path_plans}  # JSON keeps every path


def test_a_rule_that_offers_a_path_keeps_it(kb, tmp_path):
    (tmp_path / "plan-rent-anyway.yaml").write_text(
        "id: plan-rent-anyway\npriority: 45\nscope: plan\n"
        "doc: {advises: rent even when it runs, why: a test, example: 8b on an h100}\n"
        "when:\n  - path == 'rent'\n  - usable == true\nthen:\n  recommend: plan\n")
    a = Advisor(kb, load_rulebook([tmp_path]))
    adv = a.explain("llama-3.1-8b", "h100-80gb", every_path=False)
    assert "rent" in {p.path for p in adv.path_plans}
    assert "plan-rent-anyway" in {r for _, r in adv.offered}
    full = a.explain("llama-3.1-8b", "h100-80gb")
    assert render_markdown(adv, set()) == render_markdown(full, set())


@pytest.mark.parametrize("model,gpu", [("llama-3.1-405b", "a100-40gb"), ("llama-3.1-70b", "rtx-4090"),
                                       ("qwen3-30b-a3b", "rtx-4060-ti-16gb")])
def test_path_facts_hold_for_every_plan(kb, model, gpu):
    from advisor.advise import load_objective_file
    from advisor.plans.evaluate import Ask
    from advisor.plans.planner import Planner
    from advisor.sizing.workload import Workload

    ps = Planner(kb, load_objective_file()).plans(Ask.of(kb.model(model), kb.gpu(gpu), 1, Workload()),
                                                  keep_all=True)
    seen = 0
    for path, plans in ps.every.items():
        for p in plans:
            assert p.owned == PATH_FACTS[path]["owned"], (path, p)
            assert (p.path == "another-model") == PATH_FACTS[path]["model_changed"]
            seen += 1
    assert seen


def _rule(*conds: Condition) -> RuleSpec:
    return RuleSpec("r", None, 1, {}, list(conds), None, "plan", scope="plan")


def test_may_match():
    known = {"path": "rent", "asked_usable": True, "owned": False}
    assert not may_match(_rule(Condition("asked_usable", "==", False)), known)
    assert not may_match(_rule(Condition("path", "==", "another-model")), known)
    assert not may_match(_rule(Condition("path", "!=", "rent")), known)
    assert not may_match(_rule(Condition("owned", "missing")), known)
    assert may_match(_rule(Condition("path", "==", "rent"), Condition("usable", "==", True)), known)
    assert may_match(_rule(Condition("owned", "exists")), known)
    assert may_match(_rule(Condition("asked_usable", "==", FactRef("usable"))), known)  # unknown: may
    assert may_match(_rule(Condition("decode_tokens_per_s", ">", 5.0)), known)
    assert not may_match(_rule(Condition("gpu_count", ">", 8)), {"gpu_count": 1})
    assert may_match(_rule(Condition("asked_usable", "==", "true")), known)  # mixed types: not guessed
