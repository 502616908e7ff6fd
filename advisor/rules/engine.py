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

Forward chaining (`then: derive:`). A derived fact is not asserted into the session: identical
facts asserted twice raise, negation sees only facts asserted earlier, and nothing retracts a
derived fact when its premise goes away. Instead infer() runs the rules in rounds: each round is
a fresh session whose one situation fact is the base facts plus the facts the previous round's
rules derived, recomputed from scratch (so a derivation whose premise no longer holds is gone).
It stops when a round derives exactly what it was given (a fixpoint): the rules that fired in
that round, in their firing order, are the answer. Rules that keep changing each other's facts
never reach one, and are reported by name.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from durable import engine as _durable

from advisor.errors import AdvisorError
from advisor.rules.network import layout
from advisor.rules.spec import OPERATORS, Condition, FactRef, RuleSpec

_RULESET = "advisor"
_PLAN_RULESET = "advisor_plans"
_END = "__end__"
_PLAN_SEEN = "__plan_seen__"


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
    terms = [{"kind": spec.scope}] + [_cond_json(c) for c in spec.when]
    return {"all": [{"m": {"$and": terms}}], "pri": spec.priority, "run": spec.id}


def _clean(value):
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("facts must be finite numbers")
        value = round(value, 4)
        return 0.0 if abs(value) < 1e-4 else value
    return value


def _facts_read(specs: list[RuleSpec]) -> set[str]:
    """Every fact a rule's conditions name, on either side of a comparison."""
    out = set()
    for spec in specs:
        for cond in spec.when:
            out.add(cond.fact)
            if isinstance(cond.value, FactRef):
                out.add(cond.value.name)
    return out


def split_rulebook(specs: list[RuleSpec]) -> tuple[list[list[RuleSpec]], list[list[RuleSpec]]]:
    """The situation rules and the plan rules, each split into the rulesets the engine holds
    (with this adapter's own end-marker rules in each); AdvisorError, with the limit, when a
    rulebook cannot be split (advisor/rules/network.py). `rules check` and every command that
    loads rules run it."""
    key = tuple(id(s) for s in specs)
    hit = _SPLIT.get(key)
    if hit is not None and len(hit[0]) == len(specs) and all(a is b for a, b in zip(hit[0], specs)):
        return hit[1]
    end = (_END, [("kind", "==", "end")])
    out = (layout([s for s in specs if s.scope == "situation"], fixed=[end]),
            layout([s for s in specs if s.scope == "plan"],
                   fixed=[(_PLAN_SEEN, [("kind", "==", "plan")]), end]))
    _SPLIT.clear()  # one rulebook a process, as a rule: keep the last
    _SPLIT[key] = (list(specs), out)
    return out


# split_rulebook's last answer: load_rulebook checks the split and RuleEngine uses it (the same
# RuleSpec objects; a rule spec is not changed once loaded)
_SPLIT: dict = {}


@dataclass(frozen=True)
class Firing:
    rule_id: str
    order: int


@dataclass(frozen=True)
class Inference:
    firings: list[Firing]
    facts: dict          # the facts the final round saw: the base facts and the derived ones
    derived: dict        # derived fact -> the rule that derived it
    rounds: int


class RuleEngine:
    """Compiled rules; run(facts) returns the rules that fired, in firing order.

    Two kinds of ruleset: the situation rules (one fact a question) and the plan rules (one fact
    a path's best plan, `scope: plan`), so that no fact passes the tests of the other's rules.
    Each kind is split into as many rulesets as it needs to stay within what the C core holds
    (advisor/rules/network.py; one ruleset for the built-in rules), and the firings of the parts
    are merged in priority order, the order one ruleset fires them in."""

    def __init__(self, specs: list[RuleSpec]):
        self._specs = {s.id: s for s in specs}
        self._order = {s.id: (s.priority, i) for i, s in enumerate(specs)}
        self._fired: list = []
        actions = {s.id: self._recorder(s.id) for s in specs}
        actions[_END] = lambda c: None
        actions[_PLAN_SEEN] = lambda c: None
        own = {_END: {"all": [{"m": {"kind": "end"}}], "pri": 1000, "run": _END}}
        # every plan fact is matched by something, or assert_facts leaves the others' actions unrun
        plan_own = {_PLAN_SEEN: {"all": [{"m": {"kind": "plan"}}], "pri": 1001, "run": _PLAN_SEEN},
                    _END: {"all": [{"m": {"kind": "end"}}], "pri": 1002, "run": _END}}
        situation, plans = split_rulebook(specs)
        rulesets: dict = {}
        self._rulesets, self._plan_rulesets = [], []
        for name, parts, fixed, names in ((_RULESET, situation, own, self._rulesets),
                                          (_PLAN_RULESET, plans, plan_own, self._plan_rulesets)):
            for i, part in enumerate(parts):
                ruleset = name if i == 0 else f"{name}_{i}"
                rulesets[ruleset] = {**{s.id: compile_rule(s) for s in part},
                                     **{k: dict(v) for k, v in fixed.items()}}
                names.append(ruleset)
        # Only the facts some rule tests go into the engine (it parses every fact it is given,
        # and the callbacks decode them again); the whole set stays in Python for the templates.
        self._reads = {_scope: _facts_read([s for s in specs if s.scope == _scope]) | {"kind"}
                       for _scope in ("situation", "plan")}
        self._host = _QuietHost(actions)
        try:
            self._host.register_rulesets(rulesets)
        except Exception as exc:  # layout() keeps within the measured limits; this is a backstop
            raise AdvisorError(f"the rules engine refused the rulebook ({exc})") from None
        self._sids = itertools.count(1)
        self._chosen: dict = {}

    @property
    def rulesets(self) -> int:
        """How many engine rulesets the rulebook was split into (situation and plan)."""
        return len(self._rulesets) + len(self._plan_rulesets)

    def _ask(self, ruleset: str, sid: str, facts: list[dict], together: bool) -> None:
        """Assert facts (then the end marker) in a fresh session of ruleset, and delete it.

        A session the engine failed in is left alone: deleting one in which no action ran frees
        pointers it never set (../shared/DURABLE_RULES.md)."""
        try:
            if together:
                self._host.assert_facts(ruleset, facts)
            else:
                try:
                    self._host.assert_fact(ruleset, facts[0])
                except _durable.MessageNotHandledException:
                    pass  # no rule matched the fact: nothing fired
            self._host.assert_fact(ruleset, {"sid": sid, "kind": "end"})
        except Exception as exc:
            raise AdvisorError(f"the rules engine failed on ruleset '{ruleset}' ({exc})") from None
        self._host.delete_state(ruleset, sid)

    def _by_priority(self, fired: list[str]) -> list[str]:
        return sorted(fired, key=lambda r: self._order[r])

    def _recorder(self, rule_id: str):
        def action(c):
            pid = c.m["pid"] if self._specs[rule_id].scope == "plan" else None
            self._fired.append(rule_id if pid is None else (rule_id, pid))
        return action

    def choose(self, plans: list[dict]) -> list[list[str]]:
        """For each plan fact, the plan rules that matched it, in firing order (priority).

        A plan rule reads one fact (no joins, no state), so what matches a fact depends on the
        fact alone: answers are memoised on the fact's content, and only facts not seen before
        go to the engine (bulk generation asks about the same plans for a dozen formats)."""
        reads = self._reads["plan"]
        cleaned = [tuple(sorted((k, _clean(v)) for k, v in f.items() if k in reads)) for f in plans]
        if len(self._chosen) > 1 << 16:
            # bounded: cleared before this call's answers are looked up, never between (a facts
            # tuple seen before and cleared after `todo` was taken would have no answer)
            self._chosen.clear()
        todo = sorted({c for c in cleaned if c not in self._chosen})
        if todo:
            found: list[list[str]] = [[] for _ in todo]
            for ruleset in self._plan_rulesets:
                sid = str(next(self._sids))
                self._fired = []
                self._ask(ruleset, sid, [dict(c, sid=sid, pid=i) for i, c in enumerate(todo)], True)
                fired, self._fired = self._fired, []
                for rule_id, pid in fired:
                    found[int(pid)].append(rule_id)
            if len(self._plan_rulesets) > 1:
                found = [self._by_priority(f) for f in found]
            self._chosen.update({c: tuple(f) for c, f in zip(todo, found)})
        return [list(self._chosen[c]) for c in cleaned]

    def run(self, facts: dict) -> list[Firing]:
        return self.infer(facts).firings

    def infer(self, facts: dict) -> Inference:
        base = {k: _clean(v) for k, v in facts.items()}
        derived: dict = {}
        seen: list[dict] = []
        limit = 2 + sum(1 for s in self._specs.values() if s.derive)
        for rounds in range(1, limit + 1):
            current = {**base, **{k: v for k, (v, _) in derived.items()}}
            fired = self._session(current)
            new = self._derivations(fired, current, base)
            if new == derived:
                return Inference([Firing(r, i) for i, r in enumerate(fired)], current,
                                 {k: rule for k, (_, rule) in derived.items()}, rounds)
            seen.append(derived)
            if new in seen:
                break
            derived = new
        rules = sorted({rule for d in seen + [derived] for _, rule in d.values()})
        raise AdvisorError(f"rules {', '.join(rules)} keep changing the facts they derive and "
                           f"never settle: a rule must not derive what undoes its own premise")

    def _derivations(self, fired: list[str], current: dict, base: dict) -> dict:
        out: dict = {}
        for rule_id in fired:
            for fact, value in self._specs[rule_id].derive.items():
                if isinstance(value, FactRef):
                    value = current.get(value.name)
                    if value is None:
                        continue  # copying a missing fact derives nothing
                if fact in base:
                    raise AdvisorError(f"rule '{rule_id}' derives '{fact}', which the sizing "
                                       f"core already set")
                if fact in out and out[fact][0] != value:
                    raise AdvisorError(f"rules '{out[fact][1]}' and '{rule_id}' derive different "
                                       f"values for '{fact}' ({out[fact][0]!r}, {value!r})")
                out.setdefault(fact, (_clean(value), rule_id))
        return out

    def _session(self, fact: dict) -> list[str]:
        reads = self._reads["situation"]
        fact = {k: v for k, v in fact.items() if k in reads}
        fired: list[str] = []
        for ruleset in self._rulesets:
            sid = str(next(self._sids))
            self._fired = []
            self._ask(ruleset, sid, [dict(fact, sid=sid)], False)
            fired += self._fired
            self._fired = []
        return self._by_priority(fired) if len(self._rulesets) > 1 else fired
