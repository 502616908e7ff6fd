import textwrap

import pytest

from advisor.advise import recommendation_kinds
from advisor.rules.spec import RuleErrors, load_rules

GOOD = """\
id: {id}
priority: 10
doc:
  advises: a thing
  why: a reason
  example: an example
when:
  - headroom_bytes < 0
  - precision_native_alternative exists
then:
  recommend: native-format
  with:
    alternative: precision_native_alternative
    native_formats: gpu_native_formats
    architecture: gpu_architecture
"""


def _rules(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return load_rules([tmp_path], recommendation_kinds())


def test_good_rule_loads(tmp_path):
    [r] = _rules(tmp_path, {"x.yaml": GOOD.format(id="x")})
    assert r.id == "x" and r.recommend == "native-format"


def test_unknown_fact_says_did_you_mean_with_path_line_and_id(tmp_path):
    bad = GOOD.format(id="x").replace("headroom_bytes < 0", "headrom_bytes < 0")
    with pytest.raises(RuleErrors) as e:
        _rules(tmp_path, {"x.yaml": bad})
    msg = str(e.value)
    assert f"{tmp_path / 'x.yaml'}:8: rule 'x': unknown fact 'headrom_bytes' (did you mean 'headroom_bytes'" in msg


def test_malformed_yaml_reports_line(tmp_path):
    with pytest.raises(RuleErrors) as e:
        _rules(tmp_path, {"y.yaml": "id: y\nwhen: [a\n"})
    assert str(e.value).startswith(f"{tmp_path / 'y.yaml'}:") and "rule 'y'" in str(e.value)


def test_all_errors_at_once(tmp_path):
    bad1 = GOOD.format(id="a").replace("recommend: native-format", "recommend: native-fromat")
    bad2 = GOOD.format(id="b").replace("< 0", "<> 0")
    bad3 = GOOD.format(id="wrong")
    with pytest.raises(RuleErrors) as e:
        _rules(tmp_path, {"a.yaml": bad1, "b.yaml": bad2, "c.yaml": bad3})
    errs = e.value.errors
    assert any("a.yaml:11: rule 'a': recommendation kind 'native-fromat' has no template" in x for x in errs)
    assert any("b.yaml:8: rule 'b': " in x for x in errs)
    assert any("c.yaml:1: rule 'wrong': id 'wrong' must match the file name 'c'" in x for x in errs)


def test_missing_doc_is_an_error(tmp_path):
    bad = GOOD.format(id="d").replace("  why: a reason\n", "")
    with pytest.raises(RuleErrors, match=r"rule 'd': doc.why is required"):
        _rules(tmp_path, {"d.yaml": bad})


def test_type_mismatch_is_an_error(tmp_path):
    bad = GOOD.format(id="t").replace("headroom_bytes < 0", "precision < 3")
    with pytest.raises(RuleErrors, match=r"fact 'precision' is str"):
        _rules(tmp_path, {"t.yaml": bad})


def test_user_rule_overrides_builtin_by_id(tmp_path, kb):
    from advisor.advise import Advisor, load_rulebook
    from advisor.paths import data_dir

    builtin = (data_dir("rules") / "plan-another-model.yaml").read_text()
    (tmp_path / "plan-another-model.yaml").write_text(
        builtin.replace("priority: 60", "priority: 5"))
    adv = Advisor(kb, load_rulebook([tmp_path])).explain("llama-3.1-70b", "a100-40gb")
    assert adv.offered[0][1] == "plan-another-model"
    assert adv.plan.model.id != "llama-3.1-70b"


def _one(tmp_path, when: list[str], then: str, rid="r"):
    body = "\n".join(f"  - {c}" for c in when)
    (tmp_path / f"{rid}.yaml").write_text(
        f"id: {rid}\ndoc: {{advises: a, why: b, example: c}}\nwhen:\n{body}\nthen:\n{then}\n")
    from advisor.rules.templates import recommendation_templates

    return load_rules([tmp_path], recommendation_templates())


_NATIVE = ("  recommend: native-format\n  with: {alternative: precision_native_alternative, "
           "native_formats: gpu_native_formats, architecture: gpu_architecture}")


def test_with_fact_that_can_be_missing_is_an_error_unless_marked(tmp_path):
    with pytest.raises(RuleErrors, match=r"with.alternative: fact 'precision_native_alternative' can be missing"):
        _one(tmp_path, ["precision_native == false"], _NATIVE)
    [r] = _one(tmp_path, ["precision_native == false"],
               _NATIVE.replace("precision_native_alternative,", "precision_native_alternative?,"))
    assert r.optional == {"alternative"}
    [r] = _one(tmp_path, ["precision_native == false", "precision_native_alternative exists"], _NATIVE)
    assert r.optional == frozenset()


def test_a_condition_on_one_fact_of_a_group_guarantees_the_group(tmp_path):
    then = ("  recommend: headroom\n  with: {max_context_tokens: fit_max_context_tokens, "
            "max_batch: fit_max_batch, model_max_context_tokens: model_max_context_tokens}")
    [r] = _one(tmp_path, ["fit_max_context_tokens exists"], then)   # fit_max_batch comes with it
    assert r.with_facts["max_batch"] == "fit_max_batch"


def test_template_field_not_given_is_an_error_naming_the_typo(tmp_path):
    then = _NATIVE.replace("alternative: precision", "alternatve: precision")
    with pytest.raises(RuleErrors) as e:
        _one(tmp_path, ["precision_native_alternative exists"], then)
    assert "reads rec.alternative; give it a fact (is 'alternatve' meant to be 'alternative'?)" in str(e.value)


def test_plan_rules_read_plan_facts_and_offer_plans(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "id: p\nscope: plan\ndoc: {advises: a, why: b, example: c}\n"
        "when:\n  - path == 'rent'\n  - usd_per_million_tokens < 5\nthen:\n  recommend: plan\n")
    from advisor.rules.templates import recommendation_templates

    [r] = load_rules([tmp_path], recommendation_templates())
    assert r.scope == "plan" and r.recommend == "plan"
    (tmp_path / "p.yaml").write_text(
        "id: p\nscope: plan\ndoc: {advises: a, why: b, example: c}\n"
        "when:\n  - headroom_bytes < 0\nthen:\n  verdict: fits\n")
    with pytest.raises(RuleErrors) as e:
        load_rules([tmp_path], recommendation_templates())
    msg = str(e.value)
    assert "unknown fact 'headroom_bytes'" in msg and "`recommend: plan`" in msg
    (tmp_path / "p.yaml").write_text(
        "id: p\ndoc: {advises: a, why: b, example: c}\nwhen:\n  - headroom_bytes < 0\n"
        "then:\n  recommend: plan\n")
    with pytest.raises(RuleErrors, match="only plan rules"):
        load_rules([tmp_path], recommendation_templates())


def test_derive_checks(tmp_path):
    cases = {
        "  derive: {headroom_bytes: 1}": "comes from the sizing core",
        "  derive: {needs_more_memory: 'yes'}": "is not a bool and not a known fact",
        "  derive: {needs_more_memory: gpu_count}": "'gpu_count' is int, but needs_more_memory is bool",
        "  derive: {needs_more_memory: true}\n  recommend: headroom": "not both",
        "  drive: {needs_more_memory: true}": "did you mean 'derive'",
    }
    for then, msg in cases.items():
        with pytest.raises(RuleErrors, match=msg):
            _one(tmp_path, ["headroom_bytes < 0"], then)
    with pytest.raises(RuleErrors, match="reads the fact it derives"):
        _one(tmp_path, ["needs_more_memory missing"], "  derive: {needs_more_memory: true}")


def test_numbers_the_engine_cannot_read_and_mixed_type_comparisons(tmp_path):
    for cond, msg in [("headroom_bytes < 99999999999999999999", "too large for the engine"),
                      ("decode_tokens_per_s > 0.00001", "between 1e-4 and 1e16"),
                      ("decode_tokens_per_s > nan", "between 1e-4 and 1e16"),
                      ("gpu_id == gpu_count", "the engine would compare them as text"),
                      ("precision_native < weights_exceed_memory", "compare them as text")]:
        with pytest.raises(RuleErrors, match=msg):
            _one(tmp_path, [cond], "  verdict: fits")
