"""The facts the sizing core asserts into the rules engine.

A situation is one flat fact (scalars only: the engine matches fields, not nested data). Each
module of this package contributes the facts of one concern: its FACTS registry (name -> (type,
meaning)) and a contribute(question, placement, facts) function that adds them. Rule files may
name only registered facts. A fact that does not apply is left out: a missing field makes every
comparison false, so a rule on it does not fire.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.facts import core, finetune, options
from advisor.facts.question import Question
from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.sizing.plan import Placement, place
from advisor.sizing.workload import Workload
from advisor.sizing.precision import Precision

CONTRIBUTORS = [core, options, finetune]

FACTS: dict[str, tuple[str, str]] = {}
for _m in CONTRIBUTORS:
    _dup = set(FACTS) & set(_m.FACTS)
    assert not _dup, f"facts registered twice: {_dup}"
    FACTS.update(_m.FACTS)


@dataclass(frozen=True)
class Situation:
    model: Model
    gpu: GPU
    gpu_count: int
    precision: Precision
    work: Workload
    placement: Placement
    facts: dict


def build_situation(kb: KnowledgeBase, model: Model, gpu: GPU, precision: Precision,
                    work: Workload, gpus: int = 1) -> Situation:
    q = Question(kb, model, gpu, precision, work, gpus)
    pl = place(model, gpu, precision, work, gpus)
    facts: dict = {"kind": "situation"}
    for m in CONTRIBUTORS:
        m.contribute(q, pl, facts)
    unknown = set(facts) - set(FACTS)
    if unknown:
        raise AssertionError(f"facts not registered: {sorted(unknown)}")
    return Situation(model, gpu, gpus, precision, work, pl, facts)
