"""The caches of advisor.cache beyond the KB's (tests/test_kb_cache.py): the same results as
computing, invalidated by any input or code change, never required."""
from __future__ import annotations

import pytest

from advisor.advise import load_objective_file, load_rulebook
from advisor.errors import AdvisorError
from advisor.paths import data_dir


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(folder))
    for name in ("ADVISOR_NO_CACHE", "ADVISOR_NO_RULES_CACHE"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _uncached(monkeypatch, fn, *args):
    with monkeypatch.context() as m:
        m.setenv("ADVISOR_NO_RULES_CACHE", "1")
        return fn(*args)


def test_the_cached_rulebook_and_objective_equal_the_files(cache, monkeypatch):
    rules, objective = load_rulebook(), load_objective_file()
    assert len(list(cache.glob("rules-*.pickle"))) == len(list(cache.glob("objective-*.pickle"))) == 1
    assert load_rulebook() == rules == _uncached(monkeypatch, load_rulebook)
    assert load_objective_file() == objective == _uncached(monkeypatch, load_objective_file)
    assert len(list(cache.glob("*.pickle"))) == 2  # read back, not written again


def test_an_edited_rule_or_objective_is_read_again(cache, tmp_path):
    builtin = (data_dir("rules") / "plan-another-model.yaml").read_text()
    user = tmp_path / "rules"
    user.mkdir()
    rule = user / "plan-another-model.yaml"
    rule.write_text(builtin.replace("priority: 60", "priority: 5"))
    assert {r.id: r.priority for r in load_rulebook([user])}["plan-another-model"] == 5
    rule.write_text(builtin.replace("priority: 60", "priority: 17"))
    assert {r.id: r.priority for r in load_rulebook([user])}["plan-another-model"] == 17
    assert {r.id: r.priority for r in load_rulebook()}["plan-another-model"] == 60

    text = (data_dir("rules") / "objective.yaml").read_text()
    (user / "objective.yaml").write_text(text.replace("prefer: quality", "prefer: speed"))
    assert load_objective_file([user]).prefer == "speed"
    (user / "objective.yaml").write_text(text.replace("prefer: quality", "prefer: cost"))
    assert load_objective_file([user]).prefer == "cost"
    assert load_objective_file().prefer == "quality"


def test_a_broken_rule_is_never_cached(cache, tmp_path):
    user = tmp_path / "rules"
    user.mkdir()
    (user / "bad.yaml").write_text("id: bad\nwhen: [nonsense]\n")
    for _ in range(2):
        with pytest.raises(AdvisorError, match="bad.yaml"):
            load_rulebook([user])
    assert not list(cache.glob("rules-*.pickle"))


def test_an_unusable_cache_falls_back_to_the_files(cache, tmp_path, monkeypatch):
    rules, objective = load_rulebook(), load_objective_file()
    for p in cache.glob("*.pickle"):
        p.write_bytes(b"damaged")
    assert load_rulebook() == rules and load_objective_file() == objective
    (pickled,) = cache.glob("rules-*.pickle")
    import pickle

    pickled.write_bytes(pickle.dumps(["not", "rules"]))  # foreign content is not used
    assert load_rulebook() == rules
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert load_rulebook() == rules and load_objective_file() == objective


def test_no_cache_turns_every_cache_off(cache, monkeypatch):
    monkeypatch.setenv("ADVISOR_NO_CACHE", "1")
    load_rulebook(), load_objective_file()
    assert not cache.exists()
