"""Rules about the rulebook."""
from pathlib import Path

from advisor.advise import recommendation_kinds
from advisor.paths import data_dir
from advisor.rules.cases import load_cases

from tests.test_finetune_golden import CASES as FINETUNE_GOLDEN_SCENARIOS
from tests.test_finetune_golden import explain as explain_finetune
from tests.test_golden import CASES as GOLDEN_SCENARIOS


def test_every_rule_has_cases_that_fire_and_that_do_not(advisor):
    cases, _ = load_cases(data_dir("rules"))
    for rid in advisor.rules:
        mine = [c for c in cases if c.rule_id == rid]
        assert any(c.expect == "fires" for c in mine), f"rule {rid} has no case that fires"
        assert any(c.expect == "silent" for c in mine), f"rule {rid} has no case that stays silent"


def test_every_test_file_belongs_to_a_rule(advisor):
    for p in Path(data_dir("rules")).glob("*.test.yaml"):
        assert p.name[: -len(".test.yaml")] in advisor.rules, p


def test_every_kind_has_a_template_and_is_used(advisor):
    kinds = recommendation_kinds()
    used = {r.recommend for r in advisor.rules.values() if r.recommend}
    assert used <= kinds
    assert kinds <= used, f"templates no rule uses: {kinds - used}"


def test_rule_ids_unique_and_documented(advisor):
    for r in advisor.rules.values():
        assert r.path.stem == r.id
        for k in ("advises", "why", "example"):
            assert r.doc[k].strip(), (r.id, k)


def test_every_rule_fires_in_a_golden_scenario(advisor):
    fired = set()
    for m, g, kw, _ in GOLDEN_SCENARIOS:
        adv = advisor.explain(m, g, **kw)
        fired |= set(adv.fired) | {r for _, r in adv.offered}
    for case in FINETUNE_GOLDEN_SCENARIOS:
        adv = explain_finetune(advisor, case)
        fired |= set(adv.fired) | {r for _, r in adv.offered}
    assert set(advisor.rules) - fired == set()


def test_exactly_one_verdict_over_the_kb(advisor, kb):
    """Every model at Q4_K_M on a quarter of the GPUs, rotating so every GPU meets every fourth
    model (the checkpoint as published on every GPU is tests/test_kb_all_pairs.py's): one verdict,
    the one the numbers give, and a plan to follow whenever it does not run as asked. The full
    product grew with the KB to 54,000 explains (over 30 minutes of CI)."""
    gpus = kb.all_gpus()
    for i, m in enumerate(kb.all_models()):
        for g in gpus[i % 4::4]:
            for p in ("Q4_K_M",):
                adv = advisor.explain(m.id, g.id, p)
                assert adv.verdict in ("fits", "tight", "does-not-fit", "cannot-run")
                if adv.verdict == "does-not-fit":
                    assert adv.situation.placement.headroom_bytes < 0
                if adv.verdict != "fits":
                    assert adv.offered, (m.id, g.id, p)


def test_docs_catalog_names_every_rule(advisor):
    text = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    for rid in advisor.rules:
        assert f"| `{rid}` |" in text, f"docs/rules.md: add {rid} to the catalog"
