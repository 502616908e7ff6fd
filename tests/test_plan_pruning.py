"""Pruning in the planner (Planner(prune=True), the default): a lever set of the rent path (the
bound is checked on more-cards lever sets too) whose lower bound of the objective key (Planner._bound, Objective.bound) is above the
key of a plan already found is not sized. It must never change a path's best plan.

- the bound is at most the key of every plan its lever set gives, at every count, for every
  preference and a batch above one (rented speed then depends on the batch);
- every path's best plan is the same with and without pruning over a rotating sample of the KB,
  for each preference, one and two cards, batch 1 and 8;
- an objective ordering by a term the bound does not cover is not pruned.
"""
from __future__ import annotations

import datetime
import math
from dataclasses import replace

import pytest

from advisor.advise import load_objective_file
from advisor.kb import load_kb
from advisor.plans import candidates as cands
from advisor.plans.evaluate import Ask
from advisor.plans.planner import Planner
from advisor.sizing import constants as c
from advisor.sizing.workload import Workload

KB = load_kb()
OBJ = load_objective_file()


def _sample(count: int):
    models, gpus = KB.all_models(), KB.all_gpus()
    day = datetime.date.today().toordinal()
    return [(models[(day + 13 * i) % len(models)], gpus[(day * 3 + 17 * i) % len(gpus)]) for i in range(count)]


def _summary(ps) -> dict:
    return {path: (p.identity, p.changes, p.levers, p.usd_per_million_tokens, p.gpu_memory_utilization)
            for path, p in ps.best.items()}


@pytest.mark.parametrize("prefer", ["quality", "speed", "cost"])
def test_the_bound_is_below_every_plan_of_its_lever_set(prefer):
    planner = Planner(KB, OBJ, prune=False)
    checked = 0
    for m, g in _sample(6) + [(KB.model("llama-3.1-405b"), KB.gpu("a100-40gb"))]:
        for batch in (1, 8):
            ask = Ask.of(m, g, 1, Workload(batch=batch), prefer=prefer)
            groups = [(grp, counts) for _, counts, groups in cands.rent(ask, KB) for grp in groups]
            groups += [(grp, range(2, c.GPUS_PER_NODE + 1)) for grp in cands.more_cards(ask)]
            for grp, counts in groups:
                bound = planner._bound(grp, ask, counts)
                assert bound is not None
                for k in cands.card_counts(m, grp[0].runtime, counts):
                    for cand in grp:
                        s = planner.size(replace(cand, gpu_count=k), ask)
                        if s is not None:
                            assert bound <= OBJ.key(s, prefer), (m.id, cand, k)
                            checked += 1
    assert checked


@pytest.mark.parametrize("prefer", ["quality", "speed", "cost"])
def test_pruning_never_changes_a_best_plan(prefer):
    pruned, full = Planner(KB, OBJ), Planner(KB, OBJ, prune=False)
    for i, (m, g) in enumerate(_sample(12)):
        for batch in (1, 8):
            ask = Ask.of(m, g, 1 + i % 2, Workload(batch=batch), prefer=prefer)
            try:
                want = full.plans(ask)
            except Exception as exc:  # noqa: BLE001 - a question the planner refuses: both refuse it
                with pytest.raises(type(exc)):
                    pruned.plans(ask)
                continue
            got = pruned.plans(ask)
            assert _summary(got) == _summary(want), (m.id, g.id, prefer, batch)
            assert got.considered <= want.considered


def test_an_objective_term_without_a_bound_turns_pruning_off():
    obj = replace(OBJ, order={**OBJ.order, "quality": (("prefill_tokens_per_s", True),) + OBJ.order["quality"]})
    assert obj.bound("quality", {"usable": True}) is None
    ask = Ask.of(KB.model("llama-3.1-8b"), KB.gpu("h100-80gb"), 1, Workload())
    grp = next(iter(cands.more_cards(ask)))
    assert Planner(KB, obj)._bound(grp, ask, range(2, 9)) is None


def test_bound_of_ranges():
    assert OBJ.bound("quality", {}) is None
    values = {a: (0, 1) for a, _ in OBJ.order["quality"]}
    b = OBJ.bound("quality", values)
    # descending terms bound at minus their high end, ascending ones at their low end
    assert b == tuple(-1 if down else 0 for _, down in OBJ.order["quality"])
    values = {a: None for a, _ in OBJ.order["quality"]}
    assert OBJ.bound("quality", values) == tuple(math.inf for _ in OBJ.order["quality"])
