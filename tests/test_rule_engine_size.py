"""Rule-set size: how many rules the durable-rules core holds (advisor/rules/network.py, measured
by tools/engine_limits.py, docs/rules.md "Rule-set size"), the split of larger rulebooks into
several rulesets, and the one-line refusal past the supported size.

Whatever could hang or kill the process runs in a child with a timeout."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from advisor.errors import AdvisorError
from advisor.rules.engine import _END, RuleEngine, split_rulebook
from advisor.rules.network import MAX_RULES, layout
from advisor.rules.spec import Condition, RuleSpec

ROOT = Path(__file__).resolve().parent.parent
END = [(_END, [("kind", "==", "end")])]


def _rule(rid: str, conds, priority: int = 5) -> RuleSpec:
    return RuleSpec(rid, Path(f"{rid}.yaml"), priority, {}, [Condition(*c) for c in conds],
                    "fits", None)


def _passing(n: int) -> list[RuleSpec]:   # n distinct tests that a fact with headroom 0 passes
    return [_rule(f"r{i:04d}", [("headroom_bytes", ">", -i - 1)]) for i in range(n)]


# The boundaries measured on the core alone (tools/engine_limits.py): one ruleset holds the
# first number of each pair and breaks at the second (error 303, error 108 / a rule silently
# dropped, a hang at registration).
@pytest.mark.parametrize("specs, parts", [
    (_passing(64), 1), (_passing(65), 2),
    ([_rule(f"r{a}-{b}", [("headroom_bytes", ">", -a - 1), ("margin_bytes", ">", -b - 1)])
      for a in range(10) for b in range(55)], 1),
    ([_rule(f"r{a}-{b}", [("headroom_bytes", ">", -a - 1), ("margin_bytes", ">", -b - 1)])
      for a in range(10) for b in range(56)], 2),
    ([_rule(f"r{i}", [("headroom_bytes", ">", -1)]) for i in range(255)], 1),
    ([_rule(f"r{i}", [("headroom_bytes", ">", -1)]) for i in range(256)], 2),
    ([_rule(f"r{i}", [("headroom_bytes", "==", i)]) for i in range(511)], 1),
    ([_rule(f"r{i}", [("headroom_bytes", "==", i)]) for i in range(512)], 2),
], ids=["64-passing", "65-passing", "10x55-tree", "10x56-tree", "255-same", "256-same",
        "511-equal", "512-equal"])
def test_layout_splits_exactly_where_one_ruleset_breaks(specs, parts):
    assert len(layout(specs, fixed=END)) == parts


def test_a_split_rulebook_fires_every_rule_in_priority_order():
    specs = sorted(_passing(300) + [_rule("a-first", [("margin_bytes", ">", -1)], priority=0)],
                   key=lambda s: (s.priority, s.id))
    engine = RuleEngine(specs)
    assert engine.rulesets > 2
    fired = [f.rule_id for f in engine.run({"kind": "situation", "headroom_bytes": 0,
                                            "margin_bytes": 0})]
    assert fired == [s.id for s in specs]
    assert [f.rule_id for f in engine.run({"kind": "situation", "headroom_bytes": -150,
                                           "margin_bytes": -5})] == [f"r{i:04d}" for i in range(150, 300)]


def test_split_plan_rules_choose_in_priority_order():
    specs = [RuleSpec(f"p{i:03d}", Path("p.yaml"), i, {}, [Condition("decode_tokens_per_s", ">", -i - 1)],
                      None, "plan", scope="plan") for i in range(200)]
    engine = RuleEngine(specs)
    chosen = engine.choose([{"kind": "plan", "decode_tokens_per_s": 0.0},
                            {"kind": "plan", "decode_tokens_per_s": -100.5}])
    assert chosen == [[s.id for s in specs], [s.id for s in specs[100:]]]


def test_more_rules_than_supported_are_refused_with_the_limit():
    with pytest.raises(AdvisorError, match=f"at most {MAX_RULES:,} rules of one scope"):
        split_rulebook(_passing(MAX_RULES + 1))


def _rule_files(d: Path, n: int, cond=lambda i: f"headroom_bytes > {-10**12 - i}") -> Path:
    d.mkdir()
    for i in range(n):
        (d / f"user-{i:04d}.yaml").write_text(
            f"id: user-{i:04d}\npriority: 5\ndoc: {{advises: a, why: b, example: c}}\n"
            f"when:\n  - {cond(i)}\nthen:\n  verdict: fits\n")
    return d


def _advisor(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.parametrize("n", [100, 600])
def test_many_user_rules_explain_and_check_alike(tmp_path, n):
    # 100 of them aborted explain (free(): invalid size), 600 hung it; rules check said OK
    rules = _rule_files(tmp_path / "rules", n)
    r = _advisor("explain", "llama-3.1-8b", "rtx-4090", "--rules", str(rules), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"user-0000"' in r.stdout and f'"user-{n - 1:04d}"' in r.stdout
    r = _advisor("rules", "check", str(rules))
    assert r.returncode == 0 and "rules OK" in r.stdout, r.stderr


def test_past_the_supported_size_explain_and_check_refuse_in_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from advisor.cli import main
    from advisor.rules import network

    monkeypatch.setattr(network, "MAX_RULES", 40)   # 4,000 files take seconds to write and read
    rules = _rule_files(tmp_path / "rules", 41, cond=lambda i: "headroom_bytes > -1")
    for args in (("explain", "llama-3.1-8b", "rtx-4090", "--rules", str(rules)),
                 ("rules", "check", str(rules))):
        r = CliRunner().invoke(main, list(args))
        assert r.exit_code == 2 and r.stdout == "", r.output
        assert r.stderr.count("\n") == 1 and "at most 40 rules of one scope" in r.stderr


def test_an_engine_failure_is_one_line_and_no_crash():
    # one ruleset of 65 passing tests (no split) fails in the core with error 303; deleting
    # that session would crash the process, so the adapter leaves it and raises
    code = textwrap.dedent("""
        from unittest import mock
        import advisor.rules.engine as e
        from tests.test_rule_engine_size import _passing
        with mock.patch.object(e, "layout", lambda specs, fixed: [specs]):
            engine = e.RuleEngine(_passing(65))
        try:
            engine.run({"kind": "situation", "headroom_bytes": 0, "margin_bytes": 0})
        except e.AdvisorError as exc:
            print("refused:", exc)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert "refused: the rules engine failed" in r.stdout and "303" in r.stdout
