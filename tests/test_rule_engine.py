"""The durable-rules adapter: forward chaining (then: derive) and the engine traps it avoids."""
import pytest

from advisor.advise import recommendation_kinds
from advisor.errors import AdvisorError
from advisor.rules.engine import RuleEngine
from advisor.rules.spec import load_rules


def _engine(tmp_path, rules: dict) -> RuleEngine:
    for rid, (when, then) in rules.items():
        body = "\n".join(f"  - {c}" for c in when)
        (tmp_path / f"{rid}.yaml").write_text(
            f"id: {rid}\ndoc: {{advises: a, why: b, example: c}}\nwhen:\n{body}\nthen:\n{then}\n")
    return RuleEngine(load_rules([tmp_path], recommendation_kinds()))


NEEDS = (["headroom_bytes < margin_bytes"], "  derive: {needs_more_memory: true}")
RUNTIME = (["needs_more_memory == true"], "  derive: {recommended_runtime: vllm}")
USES = (["recommended_runtime == 'vllm'"], "  verdict: does-not-fit")


def test_a_chain_of_derivations_reaches_the_last_rule(tmp_path):
    eng = _engine(tmp_path, {"a-needs": NEEDS, "b-runtime": RUNTIME, "c-uses": USES})
    inf = eng.infer({"kind": "situation", "headroom_bytes": -1, "margin_bytes": 10})
    assert [f.rule_id for f in inf.firings] == ["a-needs", "b-runtime", "c-uses"]
    assert inf.derived == {"needs_more_memory": "a-needs", "recommended_runtime": "b-runtime"}
    assert inf.facts["recommended_runtime"] == "vllm"
    assert inf.rounds == 3


def test_nothing_derived_when_the_premise_fails(tmp_path):
    eng = _engine(tmp_path, {"a-needs": NEEDS, "b-runtime": RUNTIME, "c-uses": USES})
    inf = eng.infer({"kind": "situation", "headroom_bytes": 50, "margin_bytes": 10})
    assert inf.firings == [] and inf.derived == {} and inf.rounds == 1


def test_missing_sees_facts_derived_later(tmp_path):
    # durable's own negation only sees facts asserted earlier; rounds make `missing` exact.
    eng = _engine(tmp_path, {"a-needs": NEEDS,
                             "z-roomy": (["needs_more_memory missing"], "  verdict: fits")})
    fired = [f.rule_id for f in eng.infer({"kind": "situation", "headroom_bytes": -1,
                                           "margin_bytes": 10}).firings]
    assert fired == ["a-needs"]
    fired = [f.rule_id for f in eng.infer({"kind": "situation", "headroom_bytes": 99,
                                           "margin_bytes": 10}).firings]
    assert fired == ["z-roomy"]


def test_rules_that_undo_each_other_are_named(tmp_path):
    eng = _engine(tmp_path, {
        "x": (["recommended_runtime missing"], "  derive: {needs_more_memory: true}"),
        "y": (["needs_more_memory == true"], "  derive: {recommended_runtime: vllm}")})
    with pytest.raises(AdvisorError, match=r"rules x, y keep changing the facts they derive"):
        eng.infer({"kind": "situation"})


def test_two_rules_deriving_different_values_is_an_error(tmp_path):
    eng = _engine(tmp_path, {
        "p": (["headroom_bytes < 0"], "  derive: {recommended_runtime: vllm}"),
        "q": (["headroom_bytes < 0"], "  derive: {recommended_runtime: llama.cpp}")})
    with pytest.raises(AdvisorError, match=r"'p' and 'q' derive different values"):
        eng.infer({"kind": "situation", "headroom_bytes": -1})


def test_derive_copies_a_fact_by_name(tmp_path):
    eng = _engine(tmp_path, {"copy": (["headroom_bytes < 0"],
                                      "  derive: {needs_more_memory: weights_exceed_memory}")})
    inf = eng.infer({"kind": "situation", "headroom_bytes": -1, "weights_exceed_memory": False})
    assert inf.facts["needs_more_memory"] is False


def test_same_engine_many_queries_is_deterministic(tmp_path):
    eng = _engine(tmp_path, {"a-needs": NEEDS, "b-runtime": RUNTIME, "c-uses": USES})
    runs = {tuple(f.rule_id for f in eng.infer(
        {"kind": "situation", "headroom_bytes": -1, "margin_bytes": 10}).firings) for _ in range(200)}
    assert len(runs) == 1


def test_fired_rules_in_the_kb_advisory_read_their_derived_facts(advisor):
    adv = advisor.explain("llama-3.1-70b", "a100-40gb")
    assert adv.derived["needs_more_memory"] == "needs-more-memory"
    assert adv.fired.index("verdict-does-not-fit") < adv.fired.index("needs-more-memory")


def test_plan_rules_offer_plans_in_priority_order(advisor):
    adv = advisor.explain("llama-3.1-70b", "rtx-4090")
    priorities = [advisor.rules[r].priority for _, r in adv.offered]
    assert priorities == sorted(priorities) and adv.offered[0][1] == "plan-your-hardware"
    assert all(advisor.rules[r].scope == "plan" for _, r in adv.offered)


def test_plan_choice_memo_bound_never_loses_an_answer(advisor):
    """engine.choose memoises answers on the plan fact's content and clears the memo past 65,536
    entries; clearing between looking up the facts seen before and answering them raised KeyError
    (found by the rulebook's KB sweep once plan facts gained beats_asked)."""
    from advisor.facts.plans import plan_facts

    adv = advisor.explain("qwen2.5:32b", "rtx-3090")
    facts = [plan_facts(p, "quality", True, 8.7, False) for p in adv.path_plans[:2]]
    engine = advisor.engine
    first = engine.choose(facts[:1])
    for i in range((1 << 16) + 1):
        engine._chosen[("dummy", i)] = ()
    both = engine.choose(facts)            # one fact seen before, one new: no KeyError
    assert both[0] == first[0] and len(engine._chosen) <= 1 << 16
