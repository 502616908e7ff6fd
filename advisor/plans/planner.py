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
from advisor.plans.evaluate import (Ask, Sized, baseline, changes_from, layout_runs, lever_count,
                                    loaded_model, quick_size, size_candidate)
from advisor.plans.objective import Objective
from advisor.plans.plan import PATHS, Candidate, Plan
from advisor.plans.runtimes import cannot_run
from advisor.sizing import constants as c
from advisor.sizing.memory import memory_total_bytes
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.weights import weights_bytes

_MEMO_MAX = 1 << 17
# GGUF types below the usable floor: another model is never offered at them
_BELOW_FLOOR = cands.GGUF_LADDER[cands.GGUF_LADDER.index(cands.USABLE_FLOOR) + 1:]


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
        self._built: dict = {}
        self._rented: dict = {}
        self._path_memo: dict = {}
        self._considered = 0

    def _memoised(self, memo: dict, c: Candidate, ask: Ask, fixed: bool, compute):
        key = (id(c.model), id(c.gpu), c.precision.name, c.runtime, c.kv_cache_dtype, c.gpu_count,
               c.placement, c.owned, c.path == "rent", c.checkpoint, c.gpu_memory_utilization,
               c.mla_per_head_cache, c.own_file, fixed, ask.work, ask.prefer, ask.repo)
        hit = memo.get(key)
        if hit is not None and hit[0] is c.model and hit[1] is c.gpu:
            return hit[2]
        value = compute(c, ask, self.objective, fixed)
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[key] = (c.model, c.gpu, value)
        return value

    def size(self, c: Candidate, ask: Ask, fixed: bool = False) -> Sized | None:
        """The candidate's ranking numbers (None: it does not fit), memoised on the candidate's
        levers and the workload, with what it changes from `ask` (not memoised)."""
        self._considered += 1
        s = self._memoised(self._memo, c, ask, fixed, quick_size)
        if s is None:
            return None
        changes = changes_from(s.on(c.path, (), 0), ask)
        return s.on(c.path, tuple(changes), lever_count(s, ask, changes, c))

    def build(self, s: Sized, ask: Ask, fixed: bool = False) -> Plan:
        """The whole plan of a ranked candidate: its command, notes, full-context speed, prefill."""
        plan = self._memoised(self._built, s.cand, ask, fixed, size_candidate)
        return plan.with_(path=s.path, changes=s.changes, levers=s.levers, model_score=s.model_score)

    def best(self, plans: list[Plan], ask: Ask) -> Plan | None:
        if not plans:
            return None
        key, prefer = self.objective.key, ask.prefer
        keyed = [(key(p, prefer), p) for p in plans]
        low = min(k for k, _ in keyed)
        tied = [p for k, p in keyed if k == low]
        return tied[0] if len(tied) == 1 else min(tied, key=_tiebreak)

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
        why_not = cannot_run(ask.runtime, ask.precision, ask.gpu, ask.model)
        if why_not is None and "as-asked" in paths:
            p = self.size(cands.as_asked(ask), ask, fixed=True)
            if p is not None:
                best["as-asked"] = self.build(p, ask, fixed=True)
        if why_not is None and "gpu-layers" in paths:
            _put(best, "gpu-layers", self._gpu_layers(ask))
        others = tuple(p for p in paths if p != "as-asked")
        base = baseline(ask)
        got = self._paths(base, others, keep_all)
        for path, sized in got["best"].items():
            plan = self.build(sized, base)
            best[path] = plan.with_(changes=tuple(changes_from(plan, ask)))
        every = None
        if keep_all:
            every = {"as-asked": [best["as-asked"]] if "as-asked" in best else []}
            every.update({path: [self.build(x, base) for x in xs] for path, xs in got["every"].items()})
        return PlanSet(best, self._considered, why_not, every)

    def _gpu_layers(self, ask: Ask) -> Plan | None:
        """Given --n-gpu-layers N (llama.cpp, one GPU), the question as asked with the layer
        count that suits the GPU: every layer when the whole model fits with the margin, else
        the most whole layers that do (plan_offload's choice); None when that is N, when no
        count fits, or when N was not given."""
        n, layers = ask.work.gpu_layers, ask.model.architecture.layers
        if n is None or ask.runtime != "llama.cpp" or ask.gpu_count != 1:
            return None
        free = replace(ask, work=replace(ask.work, gpu_layers=None))
        base = replace(cands.as_asked(free), path="gpu-layers")
        for where in ("gpu", "offload"):
            if where == "offload" and ask.gpu.unified_memory:
                break
            s = self._memoised(self._memo, replace(base, placement=where), free, True, quick_size)
            if s is not None:
                break
        if s is None:
            return None
        best = layers + 1 if s.n_gpu_layers is None else s.n_gpu_layers
        if best == n or (best == layers + 1 and n > layers):
            return None
        plan = self._memoised(self._built, s.cand, free, True, size_candidate)
        changes = tuple(changes_from(plan, ask))
        return plan.with_(path="gpu-layers", changes=changes,
                          levers=lever_count(plan, ask, changes, s.cand))

    def _paths(self, base: Ask, paths: tuple, keep_all: bool) -> dict:
        """{"best": path -> the best Sized, "every": path -> every Sized (keep_all)} for the
        paths other than as-asked, ranked from the baseline question `base` (memoised with it)."""
        key = ("paths", paths, keep_all)
        return self._group(base, key, lambda b: self._rank_paths(b, paths, keep_all))

    def _rank_paths(self, base: Ask, paths: tuple, keep_all: bool) -> dict:
        best: dict[str, Sized] = {}
        every: dict[str, list] = {}
        if "your-hardware" in paths:
            gpus_only, mine = self._group(base, "hardware", self._hardware)
            _put(best, "your-gpus", self.best(gpus_only, base))
            _put(best, "your-hardware", self.best(mine, base))
            every.update({"your-gpus": gpus_only, "your-hardware": mine})
        elif "your-gpus" in paths:   # fit, gpus: the GPUs alone, no offloaded plan sized
            gpus_only = self._group(base, "gpus", self._on_gpus)[0]
            _put(best, "your-gpus", self.best(gpus_only, base))
            every["your-gpus"] = gpus_only
        if "more-cards" in paths:
            every["more-cards"] = self._group(base, "more", self._more_cards)
            _put(best, "more-cards", self.best(every["more-cards"], base))
        if "rent" in paths:
            every["rent"] = self._rent(base)
            _put(best, "rent", self.best(every["rent"], base))
        if "another-model" in paths:
            every["another-model"] = self._group(base, "another", self._other_models)
            _put(best, "another-model", self.best(every["another-model"], base))
        return {"best": best, "every": {p: v for p, v in every.items() if p in paths} if keep_all else None}

    def _group(self, base: Ask, name: str, compute):
        """A path group's plans for a baseline question, memoised for every question that
        shares the model, cards and workload (whatever format it asked)."""
        key = (name, id(base.model), id(base.gpu), base.gpu_count, base.precision.name,
               base.runtime if base.runtime_asked else None, base.runtime_asked, base.work,
               base.prefer, base.repo, base.utilization_asked, base.own_file)
        hit = self._path_memo.get(key)
        if hit is not None and hit[0] is base.model and hit[1] is base.gpu:
            return hit[2]
        value = compute(base)
        if len(self._path_memo) >= 16384:
            self._path_memo.clear()
        self._path_memo[key] = (base.model, base.gpu, value)
        return value

    def _hardware(self, base: Ask) -> tuple[list, list]:
        """(plans on the GPUs alone, plans on the GPUs and RAM).

        A format that holds the whole context on the GPUs at the first KV precision of the
        ladder is not sized with offload: any offloaded plan of it has the same weights and at
        best the same KV cache, decodes slower and changes more, so it is dominated."""
        gpus_only, whole = self._group(base, "gpus", self._on_gpus)
        offload = [p for group in cands.offloaded(base)
                   if (group[0].precision.name, group[0].runtime, group[0].checkpoint,
                       group[0].own_file) not in whole
                   for p in self._ladder(group, base)]
        return gpus_only, [_on_path(p, "your-hardware") for p in gpus_only] + offload

    def _on_gpus(self, base: Ask) -> tuple[list, set]:
        """(plans on the GPUs alone, the lever sets among them that hold the whole context at
        their first KV precision)."""
        gpus_only, whole = [], set()
        full = min(base.work.context_tokens, base.model.context_limit)
        for group in cands.on_your_gpus(base):
            found = self._ladder(group, base)
            gpus_only += found
            top = group[0]
            if found and found[0].kv_cache_dtype == top.kv_cache_dtype and found[0].context_tokens >= full:
                whole.add((top.precision.name, top.runtime, top.checkpoint, top.own_file))
        return gpus_only, whole

    def _other_models(self, base: Ask) -> list:
        """Each other model's (candidates.other_models) best usable plan on your hardware: the
        plan its own questions get (and share: bulk asks about every model on every card), with
        its model_score: its published score of the asked model's variant (ranking_score), where
        the plan is good and fast enough for it to count (Objective.scored), scores within the
        objective's tie_points of the best raised to it (Objective.tie_scores)."""
        out = []
        for m in cands.other_models(base, self.kb):
            sub = Ask.of(m, base.gpu, base.gpu_count, base.work,
                         runtime=base.runtime if base.runtime_asked else None, prefer=base.prefer)
            sub = baseline(replace(sub, utilization_asked=base.utilization_asked))
            plans = self._group(sub, "hardware", self._hardware)[1]
            top = self.best(plans, sub)
            if top is None or not top.usable or top.precision.name in _BELOW_FLOOR:
                continue
            changes = changes_from(top.on("another-model", (), 0), base)
            plan = top.on("another-model", tuple(changes), lever_count(top, base, changes, top.cand))
            plan.model_score = self.objective.scored(cands.ranking_score(m, base.model, self.kb),
                                                     top.quality_class, top.decode_tokens_per_s)
            out.append(plan)
        for plan, score in zip(out, self.objective.tie_scores([p.model_score for p in out])):
            plan.model_score = score
        return out

    def _ladder(self, group: list[Candidate], ask: Ask, count: int | None = None) -> list[Plan]:
        """Size a lever set's KV precisions in order; stop at the first plan that holds the
        context asked (else every plan found, each at a shorter context)."""
        out = []
        full = min(ask.work.context_tokens, group[0].model.context_limit)
        for cand in group:
            if count is not None:
                cand = replace(cand, gpu_count=count)
            p = self.size(cand, ask)
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
        c0, last = group[0], group[-1]
        model = loaded_model(c0.model, c0.mla_per_head_cache)  # with its file's KV cache layout
        a = model.architecture
        w = weights_bytes(a, c0.precision)
        full = min(ask.work.context_tokens, c0.model.context_limit)
        floor = min(self.objective.context_floor_tokens, full)
        lightest = replace(ask.work, runtime=last.runtime, kv_cache_dtype=last.kv_cache_dtype,
                           gpu_memory_utilization=last.gpu_memory_utilization
                           or ask.work.gpu_memory_utilization)
        for k in cands.card_counts(c0.model, c0.runtime, counts):
            if not layout_runs(lightest, a, k):
                continue  # the data/expert-parallel layout asked does not split this count
            room = c0.gpu.usable_memory_bytes * k - fit_margin_bytes(k)
            if w > room or memory_total_bytes(model, c0.precision, lightest, k, floor,
                                              last.kv_cache_dtype, c0.gpu) > room:
                continue  # not even the lightest KV cache at the shortest context fits
            found = self._ladder(group, ask, k)
            out += found
            if any(p.context_tokens >= full for p in found):
                break
        return out

    def _more_cards(self, ask: Ask) -> list:
        counts = range(ask.gpu_count + 1, c.GPUS_PER_NODE + 1)
        return [p for g in cands.more_cards(ask) for p in self._counts(g, ask, counts)]

    def _rent(self, ask: Ask) -> list[Plan]:
        """Rented plans do not depend on the card the user has (renting is a change even of the
        same card), so they are memoised for every question about the model and workload."""
        key = (id(ask.model), ask.precision.name, ask.runtime if ask.runtime_asked else None,
               ask.runtime_asked, ask.work, ask.prefer, ask.repo, ask.utilization_asked)
        hit = self._rented.get(key)
        if hit is not None and hit[0] is ask.model:
            return hit[1]
        out = [p for g, counts, groups in cands.rent(ask, self.kb) for grp in groups
               for p in self._counts(grp, ask, counts)]
        if len(self._rented) >= 4096:
            self._rented.clear()
        self._rented[key] = (ask.model, out)
        return out


def _on_path(s: Sized, path: str) -> Sized:
    return s.on(path, s.changes, s.levers)


def _put(best: dict, path: str, plan: Plan | None) -> None:
    if plan is not None:
        best[path] = plan


def _tiebreak(p: Plan) -> tuple:
    """Deterministic order between plans the objective ranks equal."""
    return (p.model.id, p.gpu.id, p.gpu_count, p.runtime, p.precision.name, p.kv_cache_dtype,
            p.cpu_offload_layers, p.moe_cpu_layers, p.checkpoint or "", p.mla_per_head_cache,
            p.own_file)
