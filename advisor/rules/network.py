"""How many rules one durable-rules ruleset holds, and the split of a rulebook into rulesets that
each stay within it. Pure: no engine here (advisor/rules/engine.py registers what this lays out).

The C core (durable-rules 2.0.28, src/rules) keeps each ruleset's conditions as a tree of test
nodes: a rule's conditions, in order, are a path from the root (`kind == scope` first), and rules
whose conditions start alike share that part of the path. Fixed-size arrays in that tree break
without a clean error when they fill (measured by tools/engine_limits.py; docs/rules.md,
"Rule-set size"):

- a node's child tests live in a 512-slot hash set: the 512th child makes registration loop
  forever (MAX_CHILDREN = 511);
- its `missing` children in a 128-slot list (MAX_MISSING_CHILDREN = 127);
- the rules that end at one node in a 256-slot list: the 257th is silently dropped (it never
  fires), more fail with error 108 (MAX_RULES_AT_NODE = 255, so the list keeps its terminator);
- a fact is matched by a depth-first walk whose stack holds 64 nodes: each node pushes every
  child test the fact passes, and the 65th push fails with error 303 (after which deleting the
  session frees pointers it never set: `free(): invalid size`, a segfault). STACK = 64.

The stack depends on the facts, so it is bounded here for every fact at once: at a node with k
child tests (tests of one fact for equality with different literals count once, since one value
passes at most one of them), the walk holds at most k - 1 + (the most its deepest child needs).
A rulebook over these limits is split, in rule order, into consecutive parts that each stay within
them; every part is its own ruleset, asked in turn, and the rules that fired are merged in
priority order, which is the order one ruleset would have fired them in.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from advisor.errors import AdvisorError
from advisor.rules.spec import FactRef, RuleSpec

STACK = 64
MAX_CHILDREN = 511
MAX_MISSING_CHILDREN = 127
MAX_RULES_AT_NODE = 255
# What a question may cost: each part is one more engine session a question. Any 64 rules fit
# one part (the walk never holds more nodes than there are rules), so 4,000 rules of one scope
# (4,000 synthetic rules: 63 parts, 0.04 s a question) never need more than MAX_PARTS.
MAX_RULES = 4000
MAX_PARTS = 64


def _test(term) -> tuple:
    """A condition as the node the core makes of it: (fact, op, value)."""
    fact, op, value = term
    if isinstance(value, FactRef):
        return fact, op, ("fact", value.name)
    return fact, op, ("literal", json.dumps(value))


def _exclusive_key(test: tuple):
    """Tests of one fact for equality with literals that differ: at most one passes."""
    fact, op, (how, raw, *_) = test
    if op != "==" or how != "literal":
        return None
    value = json.loads(raw)
    if isinstance(value, bool):
        return fact, ("bool", value)
    if isinstance(value, (int, float)):
        return fact, ("number", float(value))
    return fact, ("text", value)


@dataclass
class _Node:
    children: dict = field(default_factory=dict)
    rules: int = 0           # rules whose last condition is this node
    need: int = 0            # the most stack a walk below this node holds (see the docstring)

    def recompute(self) -> None:
        if not self.children:
            self.need = 0
            return
        plain, equal = 0, {}
        for test in self.children:
            key = _exclusive_key(test)
            if key is None:
                plain += 1
            else:
                equal.setdefault(key[0], {}).setdefault(key[1], 0)
                equal[key[0]][key[1]] += 1
        width = plain + sum(max(values.values()) for values in equal.values())
        self.need = width - 1 + max(1, max(c.need for c in self.children.values()))


def _path(spec_or_terms) -> list[tuple]:
    """A rule's tests, root first. A comparison of two facts (`headroom_bytes < margin_bytes`)
    is a node of the rule's own: the core does not share it between rules (62 copies of one
    such rule whose test passed overflowed the 64-node stack, error 303, while the tree as
    shared held 2), so it is keyed by the rule as well."""
    if isinstance(spec_or_terms, RuleSpec):
        s = spec_or_terms
        return [("kind", "==", ("literal", json.dumps(s.scope)))] + \
               [_own(_test((c.fact, c.op, c.value)), s.id) for c in s.when]
    return [_test(t) for t in spec_or_terms]


def _own(test: tuple, rule_id: str) -> tuple:
    fact, op, value = test
    return (fact, op, value + (rule_id,)) if value[0] == "fact" else test


class _Part:
    """One ruleset's tree of tests."""

    def __init__(self):
        self.root = _Node()
        self.rules: list = []

    def try_add(self, key, path: list[tuple]) -> str | None:
        """Add a rule's path; None when it fits, else (the rule not added) what overflowed."""
        nodes, created = [self.root], []
        for test in path:
            node = nodes[-1]
            child = node.children.get(test)
            if child is None:
                child = node.children[test] = _Node()
                created.append((node, test))
            nodes.append(child)
        nodes[-1].rules += 1
        for n in reversed(nodes):
            n.recompute()
        problem = self._problem(nodes)
        if problem:
            nodes[-1].rules -= 1
            for node, test in reversed(created):
                del node.children[test]
            for n in reversed(nodes):
                n.recompute()
            return problem
        self.rules.append(key)
        return None

    def _problem(self, nodes: list[_Node]) -> str | None:
        if self.root.need > STACK:
            return f"a fact could pass more than {STACK} tests at once"
        for n in nodes:
            missing = sum(1 for (_, op, _) in n.children if op == "missing")
            if missing > MAX_MISSING_CHILDREN:
                return f"more than {MAX_MISSING_CHILDREN} `missing` tests after one test"
            if len(n.children) - missing > MAX_CHILDREN:
                return f"more than {MAX_CHILDREN} different tests after one test"
        if nodes[-1].rules > MAX_RULES_AT_NODE:
            return f"more than {MAX_RULES_AT_NODE} rules with the same conditions"
        return None


def layout(specs: list[RuleSpec], fixed: list[tuple] = ()) -> list[list[RuleSpec]]:
    """Split specs (of one scope, in firing order) into parts that each fit one ruleset.

    fixed: (key, terms) of the adapter's own rules that every part holds as well (its end-marker
    rules), as [(fact, op, value), ...]. Raises AdvisorError, naming the limit, when a rule
    cannot be placed or the rulebook needs more than MAX_PARTS rulesets."""
    if len(specs) > MAX_RULES:
        raise AdvisorError(f"the rulebook has {len(specs):,} {specs[0].scope} rules; at most "
                           f"{MAX_RULES:,} rules of one scope are supported (every question asks "
                           f"them all)")

    def new_part() -> _Part:
        part = _Part()
        for key, terms in fixed:
            problem = part.try_add(key, _path(terms))
            assert problem is None, problem
        part.rules.clear()
        return part

    parts: list[_Part] = []
    for s in specs:
        path = _path(s)
        if not parts or parts[-1].try_add(s, path) is not None:
            part = new_part()
            problem = part.try_add(s, path)
            if problem:   # alone with the adapter's own rules: nothing a split can do
                raise AdvisorError(f"{s.path}:1: rule '{s.id}': the rules engine cannot hold it: "
                                   f"{problem}")
            parts.append(part)
            if len(parts) > MAX_PARTS:
                raise AdvisorError(
                    f"{len(specs):,} {s.scope} rules need more than {MAX_PARTS} rulesets of the "
                    f"rules engine (a ruleset holds at most {STACK} tests a fact can pass at once, "
                    f"{MAX_RULES_AT_NODE} rules with the same conditions, {MAX_CHILDREN} tests after "
                    f"one test): share conditions between rules, or use fewer rules")
    return [p.rules for p in parts] or [[]]
