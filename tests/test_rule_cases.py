"""Every case in rules/*.test.yaml becomes a test named <rule>::<case> (pytest -k <rule>)."""
import pytest

from advisor.facts import FACTS
from advisor.paths import data_dir
from tests.rule_cases import load_cases, run_case

CASES = load_cases(data_dir("rules"))


@pytest.fixture(scope="module")
def rules(advisor):
    return advisor.rules


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule_id}::{c.name}" for c in CASES])
def test_rule_case(case, rules, kb, advisor):
    assert case.expect in ("fires", "silent"), f"{case.path}: expect must be fires or silent"
    assert (case.facts is None) != (case.scenario is None), f"{case.path}: give facts or scenario"
    if case.facts:
        unknown = set(case.facts) - set(FACTS)
        assert not unknown, f"{case.path}: case '{case.name}' names unknown facts {unknown}"
    assert run_case(case, rules, kb, advisor) == (case.expect == "fires")
