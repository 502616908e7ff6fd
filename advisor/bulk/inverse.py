"""The questions asked the other way round: what runs on this GPU, what does this model run on.

"Runs" means fits with llama.cpp's margin (the `fits` verdict), the same placement the explain
path computes. A model's best precision on a card is the first of fp16 and the quantize ladder
(FP8 only on cards that run it natively, then Q8_0 down to Q2_K) at which it fits.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.sizing.context import max_context_tokens
from advisor.sizing.plan import Placement, place, valid_tensor_parallel_sizes
from advisor.sizing.precision import QUANTIZE_LADDER, Precision, parse_precision
from advisor.sizing.tensors import parameter_count
from advisor.sizing.workload import Workload

BEST_FIRST = ["fp16", *QUANTIZE_LADDER]


def candidate_precisions(gpu: GPU) -> list[Precision]:
    """The precisions worth running on gpu, best quality first."""
    return [parse_precision(n) for n in BEST_FIRST if n != "fp8" or gpu.native_fp8]


def best_precision(model: Model, gpu: GPU, work: Workload,
                   gpus: int = 1) -> tuple[Precision, Placement] | None:
    for p in candidate_precisions(gpu):
        pl = place(model, gpu, p, work, gpus)
        if pl.fits:
            return p, pl
    return None


def max_context(model: Model, gpu: GPU, precision: Precision, work: Workload, gpus: int = 1) -> int:
    """The longest context (up to the model's max_context) that still fits, given that
    work.context_tokens fits: the search the explain path makes (advisor.sizing.context)."""
    pl = place(model, gpu, precision, work, gpus)
    return max(work.context_tokens, max_context_tokens(model, precision, work, gpus,
                                                       pl.available_bytes, pl.margin_bytes))


@dataclass(frozen=True)
class FitRow:
    model: Model
    gpu: GPU
    gpu_count: int
    precision: Precision
    placement: Placement
    context_tokens: int
    max_context_tokens: int
    parameters: int

    @property
    def decode_tokens_per_s(self) -> float:
        return self.placement.decode_tokens_per_s()

    def to_json(self) -> dict:
        pl = self.placement
        return {"model": self.model.id, "name": self.model.name, "parameters": self.parameters,
                "precision": self.precision.name, "total_bytes": pl.total_bytes,
                "headroom_bytes": pl.headroom_bytes, "context_tokens": self.context_tokens,
                "max_context_tokens": self.max_context_tokens,
                "decode_tokens_per_s": round(self.decode_tokens_per_s, 2)}


def context_for(model: Model, work: Workload, cap: bool) -> Workload | None:
    """work for model: with cap (the context was not chosen), the context is capped at the
    model's maximum, as explain does; a chosen context beyond it: None (the model cannot)."""
    most = model.architecture.max_context
    if work.context_tokens <= most:
        return work
    return dataclasses.replace(work, context_tokens=most) if cap else None


def models_that_fit(kb: KnowledgeBase, gpu: GPU, work: Workload, gpus: int = 1,
                    cap_context: bool = False) -> list[FitRow]:
    """Every KB model that runs on gpus x gpu at work, at its best precision (see context_for
    for models whose maximum context is shorter). Best first: the most parameters, then the
    best precision, then the fastest, then the id."""
    rows = []
    for m in kb.all_models():
        w = context_for(m, work, cap_context)
        if w is None:
            continue
        best = best_precision(m, gpu, w, gpus)
        if best is None:
            continue
        p, pl = best
        rows.append(FitRow(m, gpu, gpus, p, pl, w.context_tokens, max_context(m, gpu, p, w, gpus),
                           parameter_count(m.architecture)))
    rows.sort(key=lambda r: (-r.parameters, r.precision.quality_rank, BEST_FIRST.index(r.precision.name),
                             -r.decode_tokens_per_s, r.model.id))
    return rows


@dataclass(frozen=True)
class GpuRow:
    gpu: GPU
    count: int
    precision: Precision
    placement: Placement

    @property
    def decode_tokens_per_s(self) -> float:
        return self.placement.decode_tokens_per_s()

    @property
    def price_usd_per_hour(self) -> float | None:
        p = self.gpu.price_usd_per_hour
        return None if p is None else round(p * self.count, 4)

    @property
    def memory_bytes(self) -> int:
        return self.gpu.memory_bytes * self.count

    def to_json(self) -> dict:
        pl = self.placement
        return {"gpu": self.gpu.id, "name": self.gpu.name, "count": self.count,
                "precision": self.precision.name, "memory_bytes": self.memory_bytes,
                "total_bytes": pl.total_bytes, "headroom_bytes": pl.headroom_bytes,
                "decode_tokens_per_s": round(self.decode_tokens_per_s, 2),
                "price_usd_per_hour": self.price_usd_per_hour}


def gpus_that_run(kb: KnowledgeBase, model: Model, work: Workload, precision: Precision | None = None,
                  max_gpus: int = 8) -> list[GpuRow]:
    """The GPUs and sets of one kind (valid tensor-parallel sizes up to max_gpus) that run model.
    With a precision: the smallest set of each card that runs it at that precision. Without:
    for each card, the smallest set at each precision reachable, listing a bigger set only when
    it runs a better precision. Cheapest first where the KB has a price, then the rest by total
    memory; ties by count and id."""
    rows = []
    sizes = valid_tensor_parallel_sizes(model, max_gpus)
    for g in kb.all_gpus():
        best_rank = None
        for n in sizes:
            if precision is not None:
                pl = place(model, g, precision, work, n)
                if pl.fits:
                    rows.append(GpuRow(g, n, precision, pl))
                    break
                continue
            best = best_precision(model, g, work, n)
            if best is None:
                continue
            p, pl = best
            rank = BEST_FIRST.index(p.name)
            if best_rank is None or rank < best_rank:
                rows.append(GpuRow(g, n, p, pl))
                best_rank = rank
            if rank == 0:
                break
    rows.sort(key=lambda r: (r.price_usd_per_hour is None, r.price_usd_per_hour or 0.0,
                             r.memory_bytes, r.count, r.gpu.id))
    return rows
