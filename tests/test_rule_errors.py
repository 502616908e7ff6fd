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
