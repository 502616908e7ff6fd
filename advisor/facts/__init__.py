"""The facts the sizing core asserts into the rules engine.

A situation is one flat fact (scalars only: the engine matches fields, not nested data). Each
module of this package contributes the facts of one concern: its FACTS registry (name -> (type,
meaning)) and a contribute(question, placement, facts) function that adds them. Rule files may
name only registered facts. A fact that does not apply is left out: a missing field makes every
comparison false, so a rule on it does not fire.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.facts import core, derived, finetune, hardware, headroom, memory, placement, speed
from advisor.facts.question import Question
from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.sizing.plan import Placement, place
from advisor.sizing.workload import Workload
from advisor.sizing.precision import Precision

# What to do when it does not fit (or could run better) is not a fact family here: the planner
# (advisor.plans) sizes whole plans, and the plan rules choose among them (advisor.facts.plans).
CONTRIBUTORS = [core, memory, speed, placement, hardware, headroom, derived, finetune]
# Which contributors a task runs: fine-tuning has its own memory, verdict and option facts
# (advisor/facts/finetune.py); the inference ones (KV, speed, placement, commands) would describe
# a question nobody asked.
BY_TASK = {"inference": [m for m in CONTRIBUTORS if m is not finetune],
           "finetune": [core, finetune]}

FACTS: dict[str, tuple[str, str]] = {}
for _m in CONTRIBUTORS:
    _dup = set(FACTS) & set(_m.FACTS)
    assert not _dup, f"facts registered twice: {_dup}"
    FACTS.update(_m.FACTS)

# What rule validation may rely on: facts every inference situation has (ALWAYS; fine-tuning
# situations have core's and finetune's), groups of facts that are
# present all together or not at all (TOGETHER), and facts only rules set (DERIVED). A
# contributor that declares none of these promises nothing: its facts count as possibly missing.
ALWAYS: set[str] = set().union(*(getattr(_m, "ALWAYS", set()) for _m in CONTRIBUTORS))
TOGETHER: list[set[str]] = [set(g) for _m in CONTRIBUTORS for g in getattr(_m, "TOGETHER", [])]
DERIVED: set[str] = set().union(*(getattr(_m, "DERIVED", set()) for _m in CONTRIBUTORS))


def guaranteed(named: set[str]) -> set[str]:
    """The facts certainly present in a situation that has every fact in `named`."""
    out = set(ALWAYS) | set(named)
    for group in TOGETHER:
        if group & named:
            out |= group
    return out


@dataclass(frozen=True)
class Situation:
    model: Model
    gpu: GPU
    gpu_count: int
    precision: Precision
    work: Workload
    placement: Placement
    facts: dict
    gpu_set: object | None = None  # advisor.sizing.mixed.GpuSet of a mixed set, else None


def build_situation(kb: KnowledgeBase, model: Model, gpu: GPU, precision: Precision,
                    work: Workload, gpus: int = 1, gpu_set=None) -> Situation:
    """gpu_set: a mixed set (advisor.sizing.mixed.GpuSet; `gpu` and `gpus` its first device
    and count under llama.cpp, its smallest card and count under vLLM), or a set of one kind
    with the user's --tensor-split (work.tensor_split), else None."""
    if gpu_set is not None and not gpu_set.mixed and work.tensor_split is None:
        gpu_set = None  # cards of one kind, split evenly: sized as `gpus` of `gpu`
    q = Question(kb, model, gpu, precision, work, gpus, gpu_set)
    pl = place(model, gpu, precision, work, gpus, gpu_set=gpu_set)
    facts: dict = {"kind": "situation"}
    for m in BY_TASK[work.task]:
        m.contribute(q, pl, facts)
    unknown = set(facts) - set(FACTS)
    if unknown:
        raise AssertionError(f"facts not registered: {sorted(unknown)}")
    return Situation(model, gpu, gpus, precision, work, pl, facts, gpu_set)
