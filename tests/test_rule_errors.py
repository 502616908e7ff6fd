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
  - quantize_precision exists
then:
  recommend: quantize
  with:
    precision: quantize_precision
"""


def _rules(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return load_rules([tmp_path], recommendation_kinds())


def test_good_rule_loads(tmp_path):
    [r] = _rules(tmp_path, {"x.yaml": GOOD.format(id="x")})
    assert r.id == "x" and r.recommend == "quantize"


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
    bad1 = GOOD.format(id="a").replace("recommend: quantize", "recommend: quantise")
    bad2 = GOOD.format(id="b").replace("< 0", "<> 0")
    bad3 = GOOD.format(id="wrong")
    with pytest.raises(RuleErrors) as e:
        _rules(tmp_path, {"a.yaml": bad1, "b.yaml": bad2, "c.yaml": bad3})
    errs = e.value.errors
    assert any("a.yaml:11: rule 'a': recommendation kind 'quantise' has no template" in x for x in errs)
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

    builtin = (data_dir("rules") / "smaller-model.yaml").read_text()
    (tmp_path / "smaller-model.yaml").write_text(
        builtin.replace("priority: 60", "priority: 5"))
    adv = Advisor(kb, load_rulebook([tmp_path])).explain("llama-3.1-70b", "a100-40gb")
    assert adv.recommendations[0]["kind"] == "smaller-model"
    assert adv.recommendations[0]["rule"] == "smaller-model"


def _one(tmp_path, when: list[str], then: str, rid="r"):
    body = "\n".join(f"  - {c}" for c in when)
    (tmp_path / f"{rid}.yaml").write_text(
        f"id: {rid}\ndoc: {{advises: a, why: b, example: c}}\nwhen:\n{body}\nthen:\n{then}\n")
    from advisor.rules.templates import recommendation_templates

    return load_rules([tmp_path], recommendation_templates())


def test_with_fact_that_can_be_missing_is_an_error_unless_marked(tmp_path):
    then = ("  recommend: run\n  with: {runtime: recommended_runtime, command: vllm_serve_command}")
    with pytest.raises(RuleErrors, match=r"with.command: fact 'vllm_serve_command' can be missing"):
        _one(tmp_path, ["recommended_runtime == 'vllm'"], then)
    [r] = _one(tmp_path, ["recommended_runtime == 'vllm'"], then.replace("vllm_serve_command}", "vllm_serve_command?}"))
    assert r.optional == {"command"}
    [r] = _one(tmp_path, ["recommended_runtime == 'vllm'", "vllm_serve_command exists"], then)
    assert r.optional == frozenset()


def test_a_condition_on_one_fact_of_a_group_guarantees_the_group(tmp_path):
    then = "  recommend: quantize\n  with:\n" + "".join(
        f"    {k}: {v}\n" for k, v in [
            ("precision", "quantize_precision"), ("weights_bytes", "quantize_weights_bytes"),
            ("total_bytes", "quantize_total_bytes"), ("headroom_bytes", "quantize_headroom_bytes"),
            ("decode_tokens_per_s", "quantize_decode_tokens_per_s"),
            ("more_than_4bit", "quantize_needs_more_than_4bit"),
            ("quality_cost", "quantize_quality_cost"), ("quality_measured_on", "quantize_quality_measured_on"),
            ("quality_source", "quantize_quality_source"), ("command", "quantize_command?")])
    [r] = _one(tmp_path, ["quantize_precision exists"], then)
    assert r.with_facts["quality_source"] == "quantize_quality_source"


def test_template_field_not_given_is_an_error_naming_the_typo(tmp_path):
    then = "  recommend: run\n  with: {runtme: recommended_runtime, command: llama_server_command}"
    with pytest.raises(RuleErrors) as e:
        _one(tmp_path, ["recommended_runtime exists", "llama_server_command exists"], then)
    assert "reads rec.runtime; give it a fact (is 'runtme' meant to be 'runtime'?)" in str(e.value)


def test_derive_checks(tmp_path):
    cases = {
        "  derive: {headroom_bytes: 1}": "comes from the sizing core",
        "  derive: {needs_more_memory: 'yes'}": "is not a bool and not a known fact",
        "  derive: {needs_more_memory: gpu_count}": "'gpu_count' is int, but needs_more_memory is bool",
        "  derive: {needs_more_memory: true}\n  recommend: run": "not both",
        "  derive: {recommended_runtime: 5}": "recommended_runtime is str; 5 is not",
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
