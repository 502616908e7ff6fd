"""Facts that rules derive (`then: derive: {fact: value}`) for other rules to read.

No contributor sets these: they exist only once a rule derives them, so a rule that reads one
fires only after the rule that derives it (advisor.rules.engine runs the rules to a fixpoint).
A rule file may derive only the facts registered here.
"""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.sizing.plan import Placement

FACTS: dict[str, tuple[str, str]] = {
    "needs_more_memory": ("bool", "derived: true when the plan as asked leaves less than the margin"),
    "recommended_runtime": ("str", "derived: a runtime a user's rule names for the question (no "
                                   "built-in rule derives it; plans carry their own runtime)"),
}
DERIVED = set(FACTS)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    """Derived facts come from rules, never from the sizing core."""
