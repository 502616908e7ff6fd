"""The one adapter to durable-rules. Nothing else in advisor/ imports `durable`.

Field notes this module relies on (../shared/DURABLE_RULES.md, each checked by a test):
- rule JSON is {"all": [{"m": {"$and": [...]}}], "pri": p, "run": name}; the operator wraps
  the field ({"$lt": {"f": 0}}); Ruleset() pops "run" out of the dict it is given, so each
  registration gets a fresh dict;
- the Host's background threads run pending actions off the caller's thread: _run is a no-op;
- facts are asserted with assert_fact, never post (an event stops at its first rule);
- a fact that no rule matches raises MessageNotHandledException;
- deleting a session in which no action ran can crash the process: every query ends with an
  end-marker fact that a no-op rule always consumes;
- every condition matches `kind`, so the state fact re-asserted after actions never matches;
- floats outside [1e-4, 1e16) break the C parser: facts are sanitised before they go in.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from durable import engine as _durable

from advisor.rules.spec import OPERATORS, Condition, FactRef, RuleSpec

_RULESET = "advisor"
_END = "__end__"


class _QuietHost(_durable.Host):
    """A Host without background dispatch threads, whose actions are bound by name."""

    def __init__(self, actions: dict):
        self._actions = actions
        super().__init__()

    def _run(self):  # no timer threads: every action runs on the caller's thread
        pass

    def get_action(self, action_name):
        return self._actions[action_name]


def _cond_json(c: Condition) -> dict:
    if c.op == "exists":
        return {"$ex": {c.fact: 1}}
    if c.op == "missing":
        return {"$nex": {c.fact: 1}}
    value = {"$m": c.value.name} if isinstance(c.value, FactRef) else c.value
    op = OPERATORS[c.op]
    return {c.fact: value} if op is None else {op: {c.fact: value}}


def compile_rule(spec: RuleSpec) -> dict:
    terms = [{"kind": "situation"}] + [_cond_json(c) for c in spec.when]
    return {"all": [{"m": {"$and": terms}}], "pri": spec.priority, "run": spec.id}


def _clean(value):
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("facts must be finite numbers")
        value = round(value, 4)
        return 0.0 if abs(value) < 1e-4 else value
    return value


@dataclass(frozen=True)
class Firing:
    rule_id: str
    order: int


class RuleEngine:
    """Compiled rules; run(facts) returns the rules that fired, in firing order."""

    def __init__(self, specs: list[RuleSpec]):
        self._specs = {s.id: s for s in specs}
        self._fired: list[str] = []
        actions = {s.id: self._recorder(s.id) for s in specs}
        actions[_END] = lambda c: None
        rules = {s.id: compile_rule(s) for s in specs}
        rules[_END] = {"all": [{"m": {"kind": "end"}}], "pri": 1000, "run": _END}
        self._host = _QuietHost(actions)
        self._host.register_rulesets({_RULESET: rules})
        self._sids = itertools.count(1)

    def _recorder(self, rule_id: str):
        def action(c):
            self._fired.append(rule_id)
        return action

    def run(self, facts: dict) -> list[Firing]:
        sid = str(next(self._sids))
        fact = {k: _clean(v) for k, v in facts.items()}
        fact["sid"] = sid
        self._fired = []
        try:
            try:
                self._host.assert_fact(_RULESET, fact)
            except _durable.MessageNotHandledException:
                pass  # no rule matched the situation: nothing fired
            self._host.assert_fact(_RULESET, {"sid": sid, "kind": "end"})
        finally:
            self._host.delete_state(_RULESET, sid)
        fired, self._fired = self._fired, []
        return [Firing(r, i) for i, r in enumerate(fired)]
