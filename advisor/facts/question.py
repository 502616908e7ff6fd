"""What was asked: the inputs every fact contributor reads."""
from __future__ import annotations

from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.sizing.workload import Workload
from advisor.sizing.precision import Precision


@dataclass(frozen=True)
class Question:
    kb: KnowledgeBase
    model: Model
    gpu: GPU
    precision: Precision
    work: Workload
    gpus: int = 1
    gpu_set: object | None = None  # advisor.sizing.mixed.GpuSet of a mixed set, else None
