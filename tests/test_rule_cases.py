"""Every case in rules/*.test.yaml becomes a test named <rule>::<case> (pytest -k <rule>).

The harness is the library's (advisor.rules.cases): `advisor rules test DIR` runs users' cases
through the same code.
"""
import pytest

from advisor.paths import data_dir
from advisor.rules.cases import load_cases, run_case

CASES, ERRORS = load_cases(data_dir("rules"))


def test_case_files_are_valid():
    assert ERRORS == []


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_rule_case(case, advisor):
    outcome = run_case(case, advisor.rules, advisor)
    assert outcome.passed, f"{case.path}:{case.line}: {case.test_id}: {outcome.message}"
