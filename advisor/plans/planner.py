"""The planner: every path's best plan for a question.

Candidates come from advisor.plans.candidates (the one place that enumerates), are sized by
advisor.plans.evaluate (the one place that sizes) and ranked within their path by the objective
(advisor.plans.objective). Choosing among the paths' winners is the plan rules' job
(rules/plan-*.yaml, advisor.rules.engine).

Sizing a candidate does not depend on the path that proposed it, so evaluations are memoised on
the candidate's levers and the question's workload: the rent path (which does not depend on the
card the user has) and the other models' plans are sized once for all the questions that share
them (bulk generation asks thousands).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from advisor.kb.store import KnowledgeBase
from advisor.plans import candidates as cands
from advisor.plans.evaluate import Ask, baseline, changes_from, finish, size_candidate
from advisor.plans.objective import Objective
from advisor.plans.plan import PATHS, Candidate, Plan
from advisor.plans.runtimes import cannot_run
from advisor.sizing import constants as c
from advisor.sizing.weights import weights_bytes

_MEMO_MAX = 1 << 17


@dataclass(frozen=True)
class PlanSet:
    best: dict            # path -> the path's best Plan (paths with no plan are absent)
    considered: int       # candidates sized
    cannot_run: str | None  # why the question as asked cannot run (runtime x format x card)
    every: dict | None = None  # path -> every plan sized on it (plans(keep_all=True), for tests)

    def in_order(self) -> list[Plan]:
        return [self.best[p] for p in PATHS if p in self.best]


class Planner:
    def __init__(self, kb: KnowledgeBase, objective: Objective):
        self.kb = kb
        self.objective = objective
        self._memo: dict = {}
        self._rented: dict = {}
        self._path_memo: dict = {}
        self._considered = 0

    def size(self, c: Candidate, ask: Ask, fixed: bool = False) -> Plan | None:
        """The candidate's plan (None: it does not fit). The numbers are memoised on the
        candidate's levers and the workload; what the plan changes from the question is not."""
        self._considered += 1
        key = (id(c.model), id(c.gpu), c.precision.name, c.runtime, c.kv_cache_dtype, c.gpu_count,
               c.placement, c.owned, c.path == "rent", c.checkpoint, fixed, ask.work, ask.prefer,
               ask.repo)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is c.model and hit[1] is c.gpu:
            plan = hit[2]
        else:
            plan = size_candidate(c, ask, self.objective, fixed)
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[key] = (c.model, c.gpu, plan)
        return None if plan is None else finish(plan, c, ask)

    def best(self, plans: list[Plan], ask: Ask) -> Plan | None:
        if not plans:
            return None
        return min(plans, key=lambda p: (self.objective.key(p, ask.prefer), _tiebreak(p)))

    def plans(self, ask: Ask, keep_all: bool = False, paths=PATHS) -> PlanSet:
        """Every path's best plan for the question (or only `paths`'); keep_all: also every
        plan sized on each path (PlanSet.every), for the properties the tests check.

        Plans other than as-asked are ranked by what they change from the model as published
        (the native format at the workload asked: `levers`), so they do not depend on the
        format asked and are memoised for every format asked about the same model, cards and
        workload (bulk generation asks a dozen); what a plan changes from the question as asked
        (`changes`, shown to the user) is recomputed for the winners."""
        self._considered = 0
        best: dict[str, Plan] = {}
        why_not = cannot_run(ask.runtime, ask.precision, ask.gpu)
        if why_not is None and "as-asked" in paths:
            p = self.size(cands.as_asked(ask), ask, fixed=True)
            if p is not None:
                best["as-asked"] = p
        others = tuple(p for p in paths if p != "as-asked")
        got = self._paths(ask, others, keep_all)
        for path, plan in got["best"].items():
            best[path] = plan.with_(changes=tuple(changes_from(plan, ask)))
        every = None
        if keep_all:
            every = {"as-asked": [best["as-asked"]] if "as-asked" in best else [], **got["every"]}
        return PlanSet(best, self._considered, why_not, every)

    def _paths(self, ask: Ask, paths: tuple, keep_all: bool) -> dict:
        base = baseline(ask)
        key = (id(ask.model), id(ask.gpu), ask.gpu_count, base.precision.name,
               base.runtime if ask.runtime_asked else None, ask.runtime_asked, ask.work,
               ask.prefer, ask.repo, paths, keep_all)
        hit = self._path_memo.get(key)
        if hit is not None and hit[0] is ask.model and hit[1] is ask.gpu:
            return hit[2]
        best: dict[str, Plan] = {}
        gpus_only = offload = more = rented = others = []
        if {"your-gpus", "your-hardware"} & set(paths):
            gpus_only = [p for g in cands.on_your_gpus(base) for p in self._ladder(g, base)]
        if "your-hardware" in paths:
            offload = [p for g in cands.offloaded(base) for p in self._ladder(g, base)]
        if "your-gpus" in paths:
            _put(best, "your-gpus", self.best(gpus_only, base))
        if "your-hardware" in paths:
            _put(best, "your-hardware", self.best([_on_path(p, "your-hardware") for p in gpus_only]
                                                  + offload, base))
        if "more-cards" in paths:
            more = self._more_cards(base)
            _put(best, "more-cards", self.best(more, base))
        if "rent" in paths:
            rented = self._rent(base)
            _put(best, "rent", self.best(rented, base))
        if "another-model" in paths:
            others = [p for m in cands.other_models(base, self.kb)
                      for g in cands.another_model(base, m) for p in self._ladder(g, base)]
            _put(best, "another-model", self.best(others, base))
        out = {"best": best, "every": None}
        if keep_all:
            out["every"] = {"your-gpus": gpus_only,
                            "your-hardware": [_on_path(p, "your-hardware") for p in gpus_only] + offload,
                            "more-cards": more, "rent": rented, "another-model": others}
        if len(self._path_memo) >= 8192:
            self._path_memo.clear()
        self._path_memo[key] = (ask.model, ask.gpu, out)
        return out

    def _ladder(self, group: list[Candidate], ask: Ask, count: int | None = None) -> list[Plan]:
        """Size a lever set's KV precisions in order; stop at the first plan that holds the
        context asked (else every plan found, each at a shorter context)."""
        out = []
        full = min(ask.work.context_tokens, group[0].model.architecture.max_context)
        for c in group:
            if count is not None:
                c = replace(c, gpu_count=count)
            p = self.size(c, ask)
            if p is None:
                continue
            if p.context_tokens >= full:
                return [p]
            out.append(p)
        return out

    def _counts(self, group: list[Candidate], ask: Ask, counts) -> list[Plan]:
        """The smallest count at which the lever set holds the context asked (and the plans at
        shorter contexts on fewer cards on the way there)."""
        out = []
        c0 = group[0]
        w = weights_bytes(c0.model.architecture, c0.precision)
        full = min(ask.work.context_tokens, c0.model.architecture.max_context)
        for k in cands.card_counts(c0.model, c0.runtime, counts):
            if w > c0.gpu.usable_memory_bytes * k:
                continue
            found = self._ladder(group, ask, k)
            out += found
            if any(p.context_tokens >= full for p in found):
                break
        return out

    def _more_cards(self, ask: Ask) -> list[Plan]:
        counts = range(ask.gpu_count + 1, c.GPUS_PER_NODE + 1)
        return [p for g in cands.more_cards(ask) for p in self._counts(g, ask, counts)]

    def _rent(self, ask: Ask) -> list[Plan]:
        """Rented plans do not depend on the card the user has (renting is a change even of the
        same card), so they are memoised for every question about the model and workload."""
        key = (id(ask.model), ask.precision.name, ask.runtime if ask.runtime_asked else None,
               ask.runtime_asked, ask.work, ask.prefer, ask.repo)
        hit = self._rented.get(key)
        if hit is not None and hit[0] is ask.model:
            return hit[1]
        out = [p for g, counts, groups in cands.rent(ask, self.kb) for grp in groups
               for p in self._counts(grp, ask, counts)]
        if len(self._rented) >= 4096:
            self._rented.clear()
        self._rented[key] = (ask.model, out)
        return out


def _on_path(plan: Plan, path: str) -> Plan:
    return plan.with_(path=path)


def _put(best: dict, path: str, plan: Plan | None) -> None:
    if plan is not None:
        best[path] = plan


def _tiebreak(p: Plan) -> tuple:
    """Deterministic order between plans the objective ranks equal."""
    return (p.model.id, p.gpu.id, p.gpu_count, p.runtime, p.precision.name, p.kv_cache_dtype,
            p.cpu_offload_layers, p.moe_cpu_layers, p.checkpoint or "")
