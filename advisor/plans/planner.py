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

from advisor.sizing.constants import GGML_RUNTIMES
import math
from dataclasses import dataclass, replace

from advisor.kb.store import KnowledgeBase
from advisor.plans import candidates as cands
from advisor.plans.evaluate import (Ask, Sized, _layout, _usd_per_million_tokens, _work_as,
                                    baseline, changes_from, choices_dropped, context_cap, thinking_context,
                                    keeps_choices,
                                    layout_runs, lever_count,
                                    loaded_model, own_score, plan_quality, quick_size,
                                    size_candidate)
from advisor.plans.objective import Objective
from advisor.plans.plan import PATHS, Candidate, Plan, restricted_licence
from advisor.plans.prices import rent_usd_per_hour
from advisor.plans.runtimes import cannot_run
from advisor.sizing import constants as c
from advisor.sizing.memory import memory_total_bytes
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.offload import gpu_layers_of_ngl
from advisor.sizing.plan import empty_decode_seconds
from advisor.sizing.tensors import parameter_count
from advisor.sizing.weights import weights_bytes
from advisor.sizing.workload import is_reasoning

_MEMO_MAX = 1 << 17
# The paths a question on a set of unequal cards gets (Ask.gpu_set)
MIXED_SET_PATHS = ("as-asked", "your-gpus", "rent")
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
    def __init__(self, kb: KnowledgeBase, objective: Objective, prune: bool = True):
        """prune: skip sizing the lever sets of the rent path whose best possible objective
        key is above that of a plan already found (Planner._bound); the best plan of each path
        is the same either way (plans(keep_all=True) never prunes)."""
        self.kb = kb
        self.objective = objective
        self.prune = prune
        self._qualities: dict = {}  # (model, format, KV precisions) -> what _bound needs of them
        self._memo: dict = {}
        self._built: dict = {}
        self._rented: dict = {}
        self._path_memo: dict = {}
        self._considered = 0

    def _memoised(self, memo: dict, c: Candidate, ask: Ask, fixed: bool, compute):
        key = (id(c.model), id(c.gpu), c.precision.name, c.runtime, c.kv_cache_dtype, c.gpu_count,
               c.placement, c.owned, c.path == "rent", c.checkpoint, c.gpu_memory_utilization,
               c.mla_per_head_cache, c.own_file, c.wired_limit_mb, fixed, ask.work, ask.prefer, ask.repo,
               ask.ollama_name, ask.ollama_precision, ask.gguf_repo, "context" in ask.chosen,
               c.gpu_set.spec() if c.gpu_set is not None else None, c.tensor_split)
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
        key, prefer, cap = self.objective.key, ask.prefer, context_cap(ask, self.objective)
        obj = self.objective
        floor = obj.spill_floor(plans)
        keyed = [(key(p, prefer, cap, floor), p) for p in plans]
        low = min(k for k, _ in keyed)
        tied = [p for k, p in keyed if k == low]
        top = tied[0] if len(tied) == 1 else min(tied, key=_tiebreak)
        # speeds within band_tolerance of the best decide nothing: those plans are ranked again
        # as if each ran at the fastest of them (7.8 and 8.0 tokens/s straddle the 8 tokens/s
        # bound; under --prefer speed 41.2 and 43.2 are one speed; the rest of the order
        # chooses between them)
        n = obj.speed_prefix(prefer)
        prefix = key(top, prefer, cap, floor)[:n]
        near = [p for k, p in keyed if k[:n] == prefix
                and obj.near(p.decode_tokens_per_s, top.decode_tokens_per_s)]
        if len(near) < 2:
            return top
        fastest = max(p.decode_tokens_per_s for p in near)
        rekeyed = [(key(p, prefer, cap, floor, fastest), p) for p in near]
        low = min(k for k, _ in rekeyed)
        # between plans equal but for their speed, the faster
        return min((p for k, p in rekeyed if k == low),
                   key=lambda p: (-p.decode_tokens_per_s, _tiebreak(p)))

    def plans(self, ask: Ask, keep_all: bool = False, paths=PATHS, offerable=None) -> PlanSet:
        """Every path's best plan for the question (or only `paths`'); keep_all: also every
        plan sized on each path (PlanSet.every), for the properties the tests check.

        offerable: None, or a function (path, asked_usable, asked_decode_tokens_per_s) ->
        whether a plan of that path could be offered (the plan rules could match it) once the
        as-asked plan is known (usable or not, its decode speed, 0 without one); the paths at the end of PATHS that could not are not sized (a usable question
        sizes no rented, more-card or other-model plans when no rule offers them then). Only a
        tail is left out, so each remaining plan is deduplicated against the same earlier ones.

        Plans other than as-asked are ranked by what they change from the model as published
        (the native format at the workload asked: `levers`), so they do not depend on the
        format asked and are memoised for every format asked about the same model, cards and
        workload (bulk generation asks a dozen); what a plan changes from the question as asked
        (`changes`, shown to the user) is recomputed for the winners."""
        self._considered = 0
        if ask.gpu_set is not None:
            # unequal cards: the question as asked and llama.cpp's formats split over them, and
            # rented cards; no offload, more-card or other-model plans (docs/hardware.md)
            paths = tuple(p for p in paths if p in MIXED_SET_PATHS)
        best: dict[str, Plan] = {}
        why_not = cannot_run(ask.runtime, ask.precision, ask.gpu, ask.model, ask.gpu_count,
                             ask.work.vllm_version, ask.work.gpu_memory_utilization)
        if why_not is None and "as-asked" in paths:
            p = self.size(cands.as_asked(ask), ask, fixed=True)
            if p is not None:
                best["as-asked"] = self.build(p, ask, fixed=True)
        if why_not is None and "gpu-layers" in paths:
            _put(best, "gpu-layers", self._gpu_layers(ask))
        if offerable is not None:
            asked = best.get("as-asked")
            usable = asked is not None and asked.usable
            decode = asked.decode_tokens_per_s if asked is not None else 0.0
            dropped = set()
            for path in reversed(PATHS):
                if path == "as-asked" or (path in paths and offerable(path, usable, decode)):
                    break
                dropped.add(path)
            paths = tuple(p for p in paths if p not in dropped)
        others = tuple(p for p in paths if p != "as-asked")
        base = thinking_context(baseline(ask))
        got = self._paths(base, others, keep_all)
        winners = dict(got["best"])
        for path in ("your-hardware", "your-gpus"):
            if path in winners and not keeps_choices(winners[path], ask):
                kept = self._keeping_choices(base, ask, path, others, winners[path])
                asked = best.get("as-asked")
                # the question itself adds nothing to the path: its own winner stays an option
                if kept is not None and (asked is None or kept.identity != asked.identity):
                    winners[path] = kept
        for path, sized in winners.items():
            plan = self.build(sized, base)
            best[path] = plan.with_(changes=tuple(changes_from(plan, ask, said=True)))
        every = None
        if keep_all:
            every = {"as-asked": [best["as-asked"]] if "as-asked" in best else []}
            every.update({path: [self.build(x, base) for x in xs] for path, xs in got["every"].items()})
        return PlanSet(best, self._considered, why_not, every)

    def _keeping_choices(self, base: Ask, ask: Ask, path: str, paths: tuple,
                         winner: Sized | None = None) -> Sized | None:
        """The best usable plan of `path` (your-hardware or your-gpus) that keeps every choice
        the question made (evaluate.keeps_choices: the format, KV cache, context, runtime, flash
        attention, -ts it gave); where none does, the best of those that drop fewest
        (evaluate.choices_dropped) if that is fewer than `winner`, the path's best, drops; else
        None. A path's best otherwise sorts by what
        it changes from the checkpoint as published, so it would drop a choice the user made
        whenever that ranks better (Q4_K_M for a Q5_K_M asked that fits with a q8_0 cache).
        The plans are the path's own, already sized (memoised on the baseline question)."""
        if "your-hardware" in paths:
            gpus_only, mine = self._group(base, "hardware", self._hardware)
            plans = mine if path == "your-hardware" else gpus_only
        else:
            plans = self._group(base, "gpus", self._on_gpus)[0]
        usable = [p for p in plans if p.usable]
        if not usable:
            return None
        # every choice kept where a usable plan does; else as many as any usable plan keeps,
        # when that is more than the path's own winner keeps (two choices that cannot both
        # be kept: -p Q4_K_S and a -ts on which it does not fit keep the format)
        dropped = {id(p): choices_dropped(p, ask) for p in usable}
        fewest = min(dropped.values())
        pool = [p for p in usable if dropped[id(p)] == fewest]
        if (fewest and ask.runtime_asked and "precision" in ask.chosen
                and cannot_run(ask.runtime, ask.precision, ask.gpu, ask.model,
                               vllm_version=ask.work.vllm_version)):
            # a format the runtime asked cannot run (a GGUF type under vLLM): its plans keep the
            # format's bits class where one does (AWQ 4-bit for Q4_K_M, FP8 for Q8_0), as the
            # plans keeping the format under another runtime keep its size: not the checkpoint
            def away(p) -> int:
                return abs(p.precision.quality_rank - ask.precision.quality_rank)
            nearest = min(away(p) for p in pool)
            return self.best([p for p in pool if away(p) == nearest], base)
        if fewest and (winner is None or fewest >= choices_dropped(winner, ask)):
            return None
        return self.best(pool, base)

    def _gpu_layers(self, ask: Ask) -> Plan | None:
        """Given --n-gpu-layers N (llama.cpp, one GPU), the question as asked with the layer
        count that suits the GPU: every layer when the whole model fits with the margin, else
        the most whole layers that do (plan_offload's choice); None when that is N, when no
        count fits, or when N was not given."""
        n = ask.work.gpu_layers  # llama.cpp's count (offload.gpu_layers_of_ngl)
        if n is None or ask.runtime not in GGML_RUNTIMES or ask.gpu_count != 1:
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
        # the same placement as asked (-ngl 0 and 1 are the same on GLM-4.5: no layer on the
        # GPU): compared as layers on the GPU, not as llama.cpp's counts
        if gpu_layers_of_ngl(ask.model, s.n_gpu_layers) == gpu_layers_of_ngl(ask.model, n):
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
        prune = self.prune and not keep_all
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
            every["rent"] = self._rent(base, prune)
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
               base.prefer, base.repo, base.utilization_asked, base.own_file,
               "context" in base.chosen, base.ollama_name, base.ollama_precision,
               base.gguf_repo,
               base.gpu_set.spec() if base.gpu_set is not None else None)
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
        full = self._whole(base, base.model)
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
        objective's tie_points of the best raised to it (Objective.tie_scores). Another model
        standing in for a reasoning model is held to the reasoning floors."""
        out = []
        thinking = is_reasoning(base.model)
        for m in cands.other_models(base, self.kb):
            sub = Ask.of(m, base.gpu, base.gpu_count, base.work,
                         runtime=base.runtime if base.runtime_asked else None, prefer=base.prefer)
            sub = baseline(replace(sub, utilization_asked=base.utilization_asked,
                                   chosen=base.chosen))
            plans = self._group(sub, "hardware", self._hardware)[1]
            if thinking and not is_reasoning(m):
                # it stands in for a reasoning model: held to the reasoning floors, as its
                # thinking will be waited for (Objective.is_usable)
                plans = [p for p in plans if self.objective.is_usable(
                    base.prefer, p.quality_class, p.decode_tokens_per_s, reasoning=True)]
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

    def _whole(self, ask: Ask, model) -> int:
        """The context a plan of `model` must hold to count as holding the whole context asked:
        the context asked, at most the model's, and at most the objective's
        defaulted_context_tokens where the question did not give it (context_cap)."""
        full = min(ask.work.context_tokens, model.context_limit)
        cap = context_cap(ask, self.objective)
        return full if cap is None else min(full, cap)

    def _ladder(self, group: list[Candidate], ask: Ask, count: int | None = None) -> list[Plan]:
        """Size a lever set's KV precisions in order; stop at the first plan that holds the
        context asked (else every plan found, each at a shorter context)."""
        out = []
        full = self._whole(ask, group[0].model)
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
        full = self._whole(ask, c0.model)
        floor = min(self.objective.context_floor_tokens, full)
        lightest = replace(ask.work, runtime=last.runtime, kv_cache_dtype=last.kv_cache_dtype,
                           gpu_memory_utilization=last.gpu_memory_utilization
                           or ask.work.gpu_memory_utilization, tensor_split=None)
        for k in cands.card_counts(c0.model, c0.runtime, counts):
            if not layout_runs(lightest, a, k):
                continue  # the data/expert-parallel layout asked does not split this count
            room = c0.gpu.usable_memory_bytes * k - fit_margin_bytes(k, c0.runtime)
            if w > room or memory_total_bytes(model, c0.precision, lightest, k, floor,
                                              last.kv_cache_dtype, c0.gpu) > room:
                continue  # not even the lightest KV cache at the shortest context fits
            found = self._ladder(group, ask, k)
            out += found
            if any(p.context_tokens >= full for p in found):
                break
        return out

    def _more_cards(self, ask: Ask) -> list:
        """(Not pruned: a handful of lever sets, most stopped early by _counts's own check, cost
        less to size than to bound.)"""
        counts = range(ask.gpu_count + 1, c.GPUS_PER_NODE + 1)
        return self._walk(((g, counts) for g in cands.more_cards(ask)), ask, False)

    def _walk(self, groups, ask: Ask, prune: bool) -> list:
        """The plans of each (lever set, counts) at the smallest count that holds the context
        (_counts); prune: a lever set whose bound (_bound) is above the key of a plan found
        before it is not sized (it cannot be the path's best; plans tied with the best are
        always sized, so the tie-break sees them all)."""
        out: list = []
        low = None  # the smallest key found so far
        key, prefer, cap = self.objective.key, ask.prefer, context_cap(ask, self.objective)
        groups = list(groups)
        if prune:  # the most promising first (a stable sort: the walk's order decides no tie)
            bounds = [self._bound(g, ask, counts) for g, counts in groups]
            if all(b is not None for b in bounds):
                order = sorted(range(len(groups)), key=bounds.__getitem__)
                groups = [(groups[i] + (bounds[i],)) for i in order]
        for group, counts, *bound in groups:
            if low is not None and bound and bound[0] > low:
                continue
            found = self._counts(group, ask, counts)
            out += found
            if prune:
                for p in found:
                    k = key(p, prefer, cap)
                    if low is None or k < low:
                        low = k
        return out

    def _bound(self, group: list[Candidate], ask: Ask, counts) -> tuple | None:
        """A lower bound of the objective key of every plan of the lever set `group` (KV
        precisions of one format, runtime and card) at any of `counts` (Objective.bound of the
        range each sort term takes over them), from what is known before sizing: quality,
        decode speed at an empty cache (what quick_size ranks by), price an hour and a million
        tokens, count and nodes; the context (up to the one asked) and the levers left open.
        None where the plans do not sit on the GPUs alone (offload speeds need the offload
        plan), the group is not one lever set or the objective sorts by something not bounded
        here. (Bounding the plans on your hardware too cost more than the sizing it saved.)"""
        obj, prefer, c0 = self.objective, ask.prefer, group[0]
        if any(x.placement != "gpu" or x.model is not c0.model or x.precision is not c0.precision
               or x.gpu is not c0.gpu or x.runtime != c0.runtime or x.owned != c0.owned
               or x.path != c0.path or x.mla_per_head_cache != c0.mla_per_head_cache
               or x.own_file != c0.own_file for x in group):
            return None
        # as quick_size sizes it: the model with its file's KV cache layout, the workload's
        # data-parallel layout under this runtime
        m, g, p, rt = loaded_model(c0.model, c0.mla_per_head_cache), c0.gpu, c0.precision, c0.runtime
        work = _work_as(ask.work, rt, c0.kv_cache_dtype, c0.gpu_memory_utilization, c0.tensor_split)
        dp = work.data_parallel if _layout(work) else 1
        a = m.architecture
        w = weights_bytes(a, p)  # counts whose memory cannot hold the weights give no plan
        ks = tuple(k for k in cands.card_counts(m, rt, counts)
                   if w <= g.usable_memory_bytes * k - fit_margin_bytes(k, rt)
                   and layout_runs(work, a, k))  # a count that cannot keep --data-parallel-size: no plan
        if not ks:
            return (math.inf,)  # above every key: the lever set has no plan (as _counts skips)
        batch_rent = ask.work.batch > 1 and c0.path == "rent"
        decodes, hours, mtoks = [], [], []
        for k in ks:
            decode = 1.0 / empty_decode_seconds(m, g, p, rt, k, dp)
            usd_h = rent_usd_per_hour(g, k) if c0.path == "rent" else None
            decodes.append(decode)
            if usd_h is not None:
                hours.append(usd_h)
            if batch_rent and not c0.owned and usd_h is not None:
                # `batch` sequences decode at most batch x the speed of one (the KV cache only
                # slows them): a million tokens cost at least this (less a rounding's worth)
                low = _usd_per_million_tokens(False, usd_h, decode * ask.work.batch) * (1 - 1e-9)
                mtoks += [low, math.inf]
            else:
                mtok = _usd_per_million_tokens(c0.owned, usd_h, decode)
                if mtok is not None:  # None sorts last: never the smallest
                    mtoks.append(mtok)
        qkey = (id(m), p.name, tuple(x.kv_cache_dtype for x in group))
        hit = self._qualities.get(qkey)
        if hit is None or hit[0] is not m:
            losses = [plan_quality(a, m.native_precision, p, x.kv_cache_dtype, m.family).loss_pct
                      for x in group]
            hit = self._qualities[qkey] = (m, losses, [obj.quality_class(x) for x in losses],
                                           parameter_count(a))
        _, losses, classes, params = hit
        slow, fast = min(decodes), max(decodes)
        usable = [obj.is_usable(prefer, qc, d, reasoning=is_reasoning(m))
                  for qc in classes for d in (slow, fast)]
        return obj.bound(prefer, {
            "usable": (min(usable), max(usable)), "model_score": own_score(m),
            "restricted_licence": restricted_licence(m),
            "context_tokens": (0, min(ask.work.context_tokens, m.context_limit,
                                      context_cap(ask, obj) or ask.work.context_tokens)),
            "parameters": params,
            "good_quality": (min(classes) <= obj.good_class and max(classes) <= obj.good_class,
                             min(classes) <= obj.good_class),
            # a plan may rank in the band of one up to band_tolerance faster (Planner.best)
            "speed_band": (obj.speed_band(slow), obj.speed_band(fast * obj.band_tolerance)),
            "fast_band": (obj.fast_band(slow), obj.fast_band(fast * obj.band_tolerance)),
            "quality_class": (min(classes), max(classes)),
            "quality_loss_pct": (min(losses), max(losses)),
            "decode_tokens_per_s": (slow, fast * obj.band_tolerance),
            "usd_per_million_tokens": (min(mtoks), max(mtoks)) if mtoks else None,
            "usd_per_hour": (min(hours), max(hours)) if hours else None,
            "gpu_count": (min(ks), max(ks)),
            "added_gpus": (0, max(ks)),
            "nodes": (-(-min(ks) // c.GPUS_PER_NODE), -(-max(ks) // c.GPUS_PER_NODE)),
            "levers": (0, math.inf), "spilled_slower": (False, True)})

    def _rent(self, ask: Ask, prune: bool = False) -> list[Plan]:
        """Rented plans do not depend on the card the user has (renting is a change even of the
        same card), so they are memoised for every question about the model and workload."""
        key = (id(ask.model), ask.precision.name, ask.runtime if ask.runtime_asked else None,
               ask.runtime_asked, ask.work, ask.prefer, ask.repo, ask.utilization_asked,
               ask.ollama_name, ask.ollama_precision, ask.gguf_repo, prune)
        hit = self._rented.get(key)
        if hit is not None and hit[0] is ask.model:
            return hit[1]
        out = self._walk(((grp, counts) for g, counts, groups in cands.rent(ask, self.kb)
                          for grp in groups), ask, prune)
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
