"""The questions asked the other way round: what runs on this GPU, what does this model run on.

Both use the planner (advisor.plans), so a row is the plan explain would give:
- fit: each KB model at its best plan on the GPUs given: everything on the GPUs (path
  your-gpus) or, when system RAM is given, with llama.cpp's CPU offload too (your-hardware);
- gpus: each KB GPU with the best plan on one card, or on the fewest cards of that kind (up to a
  node; whole nodes for cluster-class cards) that run it.
A row is listed only when its plan is usable under the objective (rules/objective.yaml).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from advisor.kb.schema import GPU, PRIMARY_BENCHMARK, Model
from advisor.kb.store import KnowledgeBase
from advisor.plans import candidates as cands
from advisor.plans.evaluate import Ask
from advisor.plans.plan import Plan
from advisor.plans.planner import Planner
from advisor.plans.runtimes import cannot_run
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.precision import Precision
from advisor.sizing.workload import Workload, default_context_tokens
from advisor.speed_bands import band


def context_for(model: Model, work: Workload, cap: bool) -> Workload | None:
    """work for model: with cap (the context was not chosen), the context is the model's own
    default, as explain gives it (advisor.sizing.workload.default_context_tokens: 8,192 tokens
    at most its maximum, or a reasoning model's recommended output); a chosen context
    beyond the model's maximum: None (the model cannot)."""
    if cap:
        return dataclasses.replace(work, context_tokens=default_context_tokens(model))
    return work if work.context_tokens <= model.context_limit else None


@dataclass(frozen=True)
class FitRow:
    plan: Plan
    max_context_tokens: int    # the longest context the plan's levers hold on these GPUs

    @property
    def model(self) -> Model:
        return self.plan.model

    @property
    def parameters(self) -> int:
        return self.plan.parameters

    @property
    def quality(self):
        """The model's preferred published MMLU-Pro score (advisor.kb.schema.QualityScore), or
        None where the KB has none."""
        return self.plan.model.quality_score(PRIMARY_BENCHMARK)

    def to_json(self) -> dict:
        p = self.plan
        q = self.quality
        return {"model": p.model.id, "name": p.model.name, "parameters": p.parameters,
                "quality": None if q is None else {
                    "benchmark": q.benchmark, "score": q.score, "variant": q.variant,
                    "evaluator": q.evaluator, "self_reported": q.self_reported,
                    "setting": q.setting, "source": q.source},
                "plan": p.to_json(), "precision": p.precision.name,
                "kv_cache_dtype": p.kv_cache_dtype, "runtime": p.runtime,
                "total_bytes": p.total_bytes, "headroom_bytes": p.headroom_bytes,
                "context_tokens": p.context_tokens, "max_context_tokens": self.max_context_tokens,
                "decode_tokens_per_s": round(p.decode_tokens_per_s, 2),
                "decode_band": band(p.speed_category("decode")).to_json(),
                "quality_class": p.quality_class_name}


def _max_context(plan: Plan, work: Workload) -> int:
    """The longest context the plan's weights, KV precision and runtime hold on its GPUs (for an
    offload plan: the context it was sized at)."""
    if plan.offload:
        return plan.context_tokens
    w = dataclasses.replace(work, runtime=plan.runtime, kv_cache_dtype=plan.kv_cache_dtype)
    if plan.gpu_set is not None:  # every card of an unequal set keeps its margin
        from advisor.sizing.mixed import mixed_max_context

        return max(plan.context_tokens, mixed_max_context(plan.model, plan.precision, w,
                                                          plan.gpu_set, plan.kv_cache_dtype))
    from advisor.sizing.overhead import fit_margin_bytes

    most = max_context_tokens(plan.model, plan.precision, w, plan.gpu_count, plan.available_bytes,
                              fit_margin_bytes(plan.gpu_count, plan.runtime), gpu=plan.gpu)
    return max(plan.context_tokens, most)


FIT_RANKS = ("quality", "size")


def _ask(m: Model, gpu: GPU, gpus: int, work: Workload, prefer: str, gpu_set) -> Ask:
    """The question fit asks of each model: as explain asks it (Ask.of); on a set of unequal
    cards, under llama.cpp over the set (Ask.gpu_set), as explain MODEL SET asks it with the
    runtime left to its default (advisor.advise: every format but a checkpoint's defaults to
    llama.cpp, and vLLM is never sized over unequal cards), so that the your-gpus path splits
    llama.cpp's formats over the set."""
    ask = Ask.of(m, gpu, gpus, work, prefer=prefer)
    if gpu_set is None:
        return ask
    return dataclasses.replace(ask, runtime="llama.cpp", runtime_asked=False, gpu_set=gpu_set,
                               work=dataclasses.replace(ask.work, runtime="llama.cpp"))


def models_that_fit(planner: Planner, kb: KnowledgeBase, gpu: GPU, work: Workload, gpus: int = 1,
                    cap_context: bool = False, offload: bool = False,
                    prefer: str = "quality", rank: str = "quality",
                    gpu_set=None) -> list[FitRow]:
    """Every KB model with a usable plan on gpus x gpu (with offload: system RAM too), at its
    best plan. gpu_set: a set of unequal cards (advisor.sizing.mixed.GpuSet; `gpu` and `gpus`
    its first device and its count), each model at the best plan of explain's your-gpus path
    over it: llama.cpp's layer split by free memory (-ts), the only runtime sized over unequal
    cards; nothing is offloaded to system RAM there (the planner sizes no offload over a set),
    so `offload` is not allowed with it (ValueError). rank "size": largest model first; "quality": the models with their publisher's own
    MMLU-Pro figure first, highest first (each model's preferred figure, Model.quality_score:
    publishers' harnesses and settings differ, so close scores are no real difference), then
    the models whose only figures are other evaluators' runs (TIGER-Lab's, LG's, mlx-lm's:
    never ranked among publishers' figures, Model.comparable_score), highest first, then the
    rest largest first.
    Ties: the better quality class of the plan, the faster, the id."""
    if rank not in FIT_RANKS:
        raise ValueError(f"rank must be one of {FIT_RANKS}, not {rank!r}")
    if gpu_set is not None and not gpu_set.mixed:
        gpu_set = None  # cards of one kind: N of that card, the same question
    if gpu_set is not None:
        if offload:
            raise ValueError("offload is not planned over a set of unequal cards")
        gpu, gpus = gpu_set.devices[0], gpu_set.count
    path = "your-hardware" if offload else "your-gpus"
    rows = []
    for m in kb.all_models():
        w = context_for(m, work, cap_context)
        if w is None:
            continue
        ps = planner.plans(_ask(m, gpu, gpus, w, prefer, gpu_set), paths=(path,))
        plan = ps.best.get(path)
        if plan is None or not plan.usable or plan.context_tokens < w.context_tokens:
            continue
        rows.append(FitRow(plan, _max_context(plan, w)))
    def key(r: FitRow):
        size = (-r.parameters, r.plan.quality_class, -r.plan.decode_tokens_per_s, r.model.id)
        if rank == "size":
            return size
        q = r.quality
        tier = 2 if q is None else 0 if q.self_reported else 1
        return (tier, -(q.score if q is not None else 0.0)) + size
    rows.sort(key=key)
    return rows


@dataclass(frozen=True)
class GpuRow:
    plan: Plan

    @property
    def gpu(self) -> GPU:
        return self.plan.gpu

    @property
    def count(self) -> int:
        return self.plan.gpu_count

    @property
    def rented_count(self) -> int | None:
        """The cards one rents to run the set (GPU.rented_gpus: 4 MI300X run DeepSeek R1, and
        DigitalOcean rents 1 or 8); None where the card is not rented."""
        return self.gpu.rented_gpus(self.count)

    @property
    def price_usd_per_hour(self) -> float | None:
        """What renting rented_count cards costs an hour (USD), None without a price."""
        n = self.rented_count
        p = None if n is None else self.gpu.on_demand_price(n)
        return None if p is None else round(p.usd_per_gpu_hour * n, 4)

    @property
    def memory_bytes(self) -> int:
        return self.gpu.memory_bytes * self.count

    def to_json(self) -> dict:
        p = self.plan
        return {"gpu": self.gpu.id, "name": self.gpu.name, "count": self.count,
                "plan": p.to_json(), "precision": p.precision.name, "runtime": p.runtime,
                "memory_bytes": self.memory_bytes, "total_bytes": p.total_bytes,
                "headroom_bytes": p.headroom_bytes,
                "decode_tokens_per_s": round(p.decode_tokens_per_s, 2),
                "decode_band": band(p.speed_category("decode")).to_json(),
                "price_usd_per_hour": self.price_usd_per_hour, "rented_count": self.rented_count}


def gpus_that_run(planner: Planner, kb: KnowledgeBase, model: Model, work: Workload,
                  precision: Precision | None = None, max_gpus: int = 8,
                  prefer: str = "quality") -> list[GpuRow]:
    """The GPUs (and sets of one kind, up to max_gpus) that run model. Without a precision: the
    smallest usable set of each card, and a bigger one where it runs a better quality class
    (_sets_of).
    With one: the smallest set that runs it at that precision with its format's runtime.
    Cheapest first where the KB has a price, then the rest by total memory; ties by count, id."""
    rows = []
    for g in kb.all_gpus():
        if precision is not None:
            row = _smallest_set_at(planner, model, g, work, precision, max_gpus, prefer)
        else:
            rows += [GpuRow(p) for p in _sets_of(planner, model, g, work, max_gpus, prefer)]
            continue
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: (r.price_usd_per_hour is None, r.price_usd_per_hour or 0.0,
                             r.memory_bytes, r.count, r.gpu.id))
    return rows


def _sets_of(planner: Planner, model: Model, g: GPU, work: Workload, max_gpus: int,
             prefer: str) -> list[Plan]:
    """The sets of card g that `gpus` lists for model without a precision: the smallest usable
    one, and a bigger one where it runs a better quality class. The smallest: one card's best
    usable plan (the your-gpus path), else, among the more-cards path's plans (each lever set on
    the fewest cards that hold it, up to max_gpus and a node), those on the fewest cards, the
    best quality class first, then the fastest (the more-cards path alone would rank 4 × RTX
    A5000 at FP8 above 2 × at AWQ, hiding the smaller set: hostile pass 14). The bigger one: the
    more-cards path's best plan under the objective, where its quality class is better than the
    smallest's (1 × A100 80GB at Q8_0, 2 × at bf16), or the same class in a higher band of
    objective.yaml's speed_bands, whose last bound is reading speed (3 × T4 at Q4_K_S, 7
    tokens/s; 4 × at AWQ, 23); speed above reading speed (fast_bands) adds no row."""
    ask = Ask.of(model, g, 1, work, prefer=prefer)
    one = planner.plans(ask, paths=("your-gpus",)).best.get("your-gpus")
    smallest = one if one is not None and one.usable else None
    if g.unified_memory or max_gpus < 2:
        return [smallest] if smallest is not None else []
    ps = planner.plans(ask, paths=("more-cards",), keep_all=smallest is None)
    more = ps.best.get("more-cards")
    if smallest is None:
        usable = [p for p in (ps.every or {}).get("more-cards", ()) if p.usable and p.gpu_count <= max_gpus]
        if not usable:
            return []
        fewest = min(p.gpu_count for p in usable)
        smallest = min((p for p in usable if p.gpu_count == fewest),
                       key=lambda p: (p.quality_class, -p.decode_tokens_per_s))
    obj = planner.objective

    def band(p: Plan) -> int:
        return obj.speed_band(p.decode_tokens_per_s)

    if (more is not None and more.usable and smallest.gpu_count < more.gpu_count <= max_gpus
            and (more.quality_class, band(smallest)) < (smallest.quality_class, band(more))):
        return [smallest, more]
    return [smallest]


def _smallest_set_at(planner: Planner, model: Model, g: GPU, work: Workload, p: Precision,
                     max_gpus: int, prefer: str) -> GpuRow | None:
    counts = range(1, (1 if g.unified_memory else min(max_gpus, c.GPUS_PER_NODE)) + 1)
    ask = Ask.of(model, g, 1, work, precision=p, prefer=prefer)
    if cannot_run(ask.runtime, p, g, model, vllm_version=ask.work.vllm_version):
        return None
    for n in cands.card_counts(model, ask.runtime, counts):
        ask_n = dataclasses.replace(ask, gpu_count=n)
        sized = planner.size(dataclasses.replace(cands.as_asked(ask), gpu_count=n), ask_n, fixed=True)
        if sized is not None:
            return GpuRow(planner.build(sized, ask_n, fixed=True))
    return None
