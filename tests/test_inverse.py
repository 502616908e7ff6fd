"""advisor fit / advisor gpus, checked against the explain path."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from advisor.bulk.inverse import gpus_that_run, models_that_fit
from advisor.kb.schema import Price
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload
from advisor.bulk.inverse_finetune import METHODS_BEST_FIRST, models_to_finetune
from advisor.sizing.finetune import FinetuneSpec
from tests.bulk_helpers import advisor, kb, kb_of, run  # noqa: F401 (fixtures)

WORKLOADS = [Workload(8192, 1), Workload(32768, 1), Workload(4096, 4)]


@pytest.fixture(scope="module")
def planner(kb):
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    return Planner(kb, load_objective_file())


def _explain_plan(advisor, plan, context, batch):
    """explain with the plan's levers: the question it answers as asked."""
    return advisor.explain(plan.model.id, plan.gpu.id, plan.precision.name, context, batch,
                           plan.gpu_count, kv_cache=plan.kv_cache_dtype, runtime=plan.runtime,
                           gpu_memory_utilization=plan.gpu_memory_utilization)


@pytest.mark.parametrize("work", WORKLOADS, ids=lambda w: f"ctx{w.context_tokens}-b{w.batch}")
@pytest.mark.parametrize("count", [1, 2])
def test_every_model_fit_lists_explains_as_fitting(kb, advisor, planner, work, count):
    """A listed model runs as its row's plan says (explain with the plan's levers fits); a model
    left out has no usable plan on those GPUs in explain either."""
    gpus = kb.all_gpus()[::7] + [kb.gpu("rtx-4090"), kb.gpu("h100-80gb")]
    for g in gpus:
        rows = models_that_fit(planner, kb, g, work, count)
        listed = {r.model.id for r in rows}
        for r in rows:
            adv = _explain_plan(advisor, r.plan, work.context_tokens, work.batch)
            assert adv.verdict == "fits", (r.model.id, g.id, r.plan.precision.name)
            assert adv.plan.path == "as-asked"
            assert round(adv.plan.decode_tokens_per_s, 2) == round(r.plan.decode_tokens_per_s, 2)
        for m in kb.all_models()[::5]:
            if m.id in listed or m.context_limit < work.context_tokens:
                continue
            d = advisor.explain(m.id, g.id, None, work.context_tokens, work.batch, count).to_json()
            mine = [p for p in d["plans"] if p["path"] == "your-gpus"]
            assert not mine or not mine[0]["usable"] or mine[0]["context_tokens"] < work.context_tokens, \
                f"fit left out {m.id} on {g.id}"


def test_fit_by_size_is_largest_model_first(kb, planner):
    for g in kb.all_gpus()[::5]:
        rows = models_that_fit(planner, kb, g, Workload(), 1, rank="size")
        sizes = [-r.parameters for r in rows]
        assert sizes == sorted(sizes)


def test_fit_by_quality_puts_scored_models_first_best_first(kb, planner):
    """The default rank: models with their publisher's own MMLU-Pro figure, highest first, then
    models scored only by another evaluator, highest first (never ranked among publishers'
    figures), then the rest largest first; the same models as --rank size, in another order."""
    for g in [kb.gpu("rtx-4090"), kb.gpu("h100-80gb")]:
        rows = models_that_fit(planner, kb, g, Workload(), 1)
        scored = [r for r in rows if r.quality is not None]
        assert scored and rows[:len(scored)] == scored
        tiers = [0 if r.quality.self_reported else 1 for r in scored]
        assert tiers == sorted(tiers)
        for tier in (0, 1):
            scores = [r.quality.score for r, t in zip(scored, tiers) if t == tier]
            assert scores == sorted(scores, reverse=True)
        rest = [-r.parameters for r in rows[len(scored):]]
        assert rest == sorted(rest)
        by_size = models_that_fit(planner, kb, g, Workload(), 1, rank="size")
        assert {r.model.id for r in by_size} == {r.model.id for r in rows}
        d = rows[0].to_json()["quality"]
        assert d["benchmark"] == "mmlu-pro" and d["source"].startswith("https://")


def test_fit_table_names_who_measured(kb, planner):
    from advisor.bulk.tables import fit_grid
    rows = models_that_fit(planner, kb, kb.gpu("rtx-4090"), Workload(), 1)
    grid = fit_grid(rows)
    col = grid.headers.index("MMLU-Pro")
    for r, cells in zip(rows, grid.rows):
        q = r.quality
        if q is None:
            assert cells[col] == "–"
        else:
            assert cells[col].startswith(f"{q.score:g}")
            assert (q.evaluator in cells[col]) == (not q.self_reported)


def test_fit_with_ram_counts_offload_plans(kb, planner):
    g = kb.gpu("rtx-4090")
    on_card = {r.model.id for r in models_that_fit(planner, kb, g, Workload(), 1)}
    with_ram = models_that_fit(planner, kb, g, Workload(), 1, offload=True)
    assert on_card < {r.model.id for r in with_ram}
    r = next(r for r in with_ram if r.model.id == "llama-3.1-70b")
    assert r.plan.offload and r.plan.ram_bytes <= Workload().ram_bytes and r.plan.usable


def test_max_context_is_the_longest_that_fits(kb, advisor, planner):
    checked = 0
    for g in kb.all_gpus()[::6]:
        for r in models_that_fit(planner, kb, g, Workload(), 1):
            n = r.max_context_tokens
            assert _explain_plan(advisor, r.plan, n, 1).verdict == "fits"
            if n < r.model.context_limit:
                assert _explain_plan(advisor, r.plan, n + 1, 1).verdict != "fits"
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("precision", [None, "fp16", "Q4_K_M"])
def test_every_gpu_set_listed_explains_as_fitting_and_is_smallest(kb, advisor, planner, precision):
    from advisor.plans.candidates import card_counts

    work = Workload()
    p = parse_precision(precision) if precision else None
    for m in kb.all_models()[::6]:
        rows = gpus_that_run(planner, kb, m, work, p, max_gpus=8)
        for r in rows:
            adv = _explain_plan(advisor, r.plan, 8192, 1)
            assert adv.verdict == "fits", (m.id, r.gpu.id, r.count, r.plan.precision.name)
            assert r.plan.usable or p is not None
            if p is not None:
                assert r.plan.precision.name == p.name
                for n in card_counts(m, r.plan.runtime, range(1, r.count)):
                    smaller = advisor.explain(m.id, r.gpu.id, p.name, 8192, 1, n,
                                              runtime=r.plan.runtime)
                    assert smaller.verdict != "fits", (m.id, r.gpu.id, n)
        by_gpu: dict = {}
        for r in rows:
            by_gpu.setdefault(r.gpu.id, []).append(r.plan)
        for gid, plans in by_gpu.items():
            # one set a card with a precision; without, the smallest and at most one bigger set
            # that runs a better quality class or reaches a higher speed band
            assert len(plans) <= (1 if p is not None else 2), (m.id, gid)
            if len(plans) == 2:
                small, big = sorted(plans, key=lambda x: x.gpu_count)
                obj = planner.objective
                assert small.gpu_count < big.gpu_count, (m.id, gid)
                assert (big.quality_class < small.quality_class
                        or obj.speed_band(big.decode_tokens_per_s) > obj.speed_band(small.decode_tokens_per_s)), (m.id, gid)


def test_gpus_cheapest_first_then_smallest(kb, planner):
    h = kb.gpu("h100-80gb")
    a = kb.gpu("a100-80gb")
    def at(usd):
        return [Price(provider="test", usd_per_hour=usd, kind="on-demand", gpus=1, per="gpu",
                      date="2025-01", source="https://example.invalid/test")]

    priced = kb_of([kb.model("llama-3.1-70b")],
                   [replace(h, prices=at(3.0)), replace(a, prices=at(1.0)),
                    *[replace(kb.gpu(g), prices=[]) for g in ("rtx-4090", "mi300x")]])
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    rows = gpus_that_run(Planner(priced, load_objective_file()), priced,
                         priced.model("llama-3.1-70b"), Workload(), parse_precision("fp16"))
    assert [(r.gpu.id, r.count) for r in rows] == [
        ("a100-80gb", 2), ("h100-80gb", 2), ("rtx-4090", 6), ("mi300x", 1)]  # unpriced: smaller first
    # (6 x 4090: llama.cpp keeps the 2 GiB token_embd of the fp16 70B in RAM, as build 0c1e570 does)
    assert rows[0].price_usd_per_hour == 2.0 and rows[1].price_usd_per_hour == 6.0
    assert rows[2].price_usd_per_hour is None and rows[3].price_usd_per_hour is None


def test_fit_cli_table_and_json():
    r = run("fit", "rtx-4090")
    assert r.exit_code == 0 and "llama-3.1-8b" in r.output and "bf16" in r.output
    assert "llama-3.1-70b" not in r.output
    assert "llama-3.1-70b" in run("fit", "rtx-4090", "--ram-gb", "64").output
    d = json.loads(run("fit", "h200", "--format", "json", "--rank", "size").output)
    assert d["gpu"] == "h200" and d["count"] == 1 and d["rank"] == "size"
    sizes = [m["parameters"] for m in d["models"]]
    assert sizes == sorted(sizes, reverse=True) and "llama-3.1-70b" in [m["model"] for m in d["models"]]
    assert all({"model", "precision", "max_context_tokens", "decode_tokens_per_s"} <= set(m)
               for m in d["models"])
    d4 = json.loads(run("fit", "a100-40gb", "--gpus", "8", "--format", "json").output)
    assert "llama-3.1-405b" in [m["model"] for m in d4["models"]]


def test_gpus_cli_table_and_json():
    r = run("gpus", "llama-3.1-405b", "-p", "q4_k_m")
    assert r.exit_code == 0 and "Q4_K_M" in r.output and "h200" in r.output
    d = json.loads(run("gpus", "llama-3.1-8b", "--format", "json").output)
    assert d["model"] == "llama-3.1-8b" and d["gpus"][0]["count"] == 1
    priced = [g["price_usd_per_hour"] for g in d["gpus"] if g["price_usd_per_hour"] is not None]
    unpriced = [g["memory_bytes"] for g in d["gpus"] if g["price_usd_per_hour"] is None]
    n = len(priced)  # priced sets first, cheapest first; then the rest, smallest first
    assert priced == sorted(priced) and unpriced == sorted(unpriced)
    assert all(g["price_usd_per_hour"] is not None for g in d["gpus"][:n])


@pytest.mark.parametrize("args, message", [
    (["fit", "a100"], "unknown gpu 'a100'"),
    (["fit", "h200", "--gpus", "0"], "--gpus must be at least 1"),
    (["gpus", "llama-9"], "unknown model 'llama-9'"),
    (["gpus", "llama-3.1-8b", "-p", "q4km"], "unknown precision 'q4km'"),
    (["gpus", "llama-3.1-8b", "--max-gpus", "0"], "--max-gpus must be at least 1"),
])
def test_inverse_bad_input_exits_2(args, message):
    r = run(*args)
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output


def test_default_context_is_capped_at_the_model_maximum_and_a_chosen_one_is_not(kb):
    m = kb.model("llama-3.1-8b")
    short = replace(m, architecture=replace(m.architecture, max_context=4096),
                    id="short-8b", name="Short 8B", aliases=[], siblings=[])
    skb = kb_of([short, kb.model("llama-3.1-70b")], [kb.gpu("h200")])
    g = skb.gpu("h200")
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    pl = Planner(skb, load_objective_file())
    capped = models_that_fit(pl, skb, g, Workload(8192), 1, cap_context=True)
    assert {r.model.id: r.plan.context_tokens for r in capped}["short-8b"] == 4096
    assert next(r for r in capped if r.model.id == "short-8b").max_context_tokens == 4096
    chosen = models_that_fit(pl, skb, g, Workload(8192), 1, cap_context=False)
    assert "short-8b" not in {r.model.id for r in chosen}


def test_gpus_cli_context_beyond_the_model_maximum_exits_2():
    r = run("gpus", "llama-3.1-8b", "--context", "200000")
    assert r.exit_code == 2 and "beyond Llama 3.1 8B's maximum of 131,072 tokens" in r.output


@pytest.mark.parametrize("gpus, base, any_method", [
    (1, FinetuneSpec(), True),
    (1, FinetuneSpec(method="qlora", seq_len=4096), False),
    (8, FinetuneSpec(method="full", sharding="zero3"), False),
])
def test_every_model_fit_lists_for_finetuning_explains_as_fitting(kb, advisor, gpus, base, any_method):
    for g in kb.all_gpus():
        rows = models_to_finetune(kb, g, base, gpus, any_method)
        listed = {r.model.id for r in rows}
        for r in rows:
            adv = advisor.explain(r.model.id, g.id, gpus=gpus, finetune=r.spec)
            assert adv.verdict == "fits", (g.id, r.model.id, r.spec.method)
            assert adv.situation.facts["finetune_per_gpu_bytes"] == r.memory.per_gpu_bytes
            if any_method:  # nothing more thorough fits
                for better in METHODS_BEST_FIRST[:METHODS_BEST_FIRST.index(r.spec.method)]:
                    s = FinetuneSpec(method=better)
                    assert advisor.explain(r.model.id, g.id, gpus=gpus, finetune=s).verdict != "fits"
        for m in kb.all_models():  # a model left out does not fit with the methods tried
            if m.id not in listed:
                for method in (METHODS_BEST_FIRST if any_method else (base.method,)):
                    s = FinetuneSpec(method=method, seq_len=base.seq_len, sharding=base.sharding)
                    assert advisor.explain(m.id, g.id, gpus=gpus, finetune=s).verdict != "fits"


def test_fit_finetune_cli_table_and_json():
    r = run("fit", "rtx-4090", "--task", "finetune")
    assert r.exit_code == 0 and "qlora" in r.output and "fine-tuned" in r.output
    d = json.loads(run("fit", "h100-80gb", "--task", "finetune", "--method", "lora",
                       "--format", "json").output)
    assert d["task"] == "finetune" and d["method"] == "lora"
    assert d["models"] and all(m["method"] == "lora" for m in d["models"])
    sizes = [m["parameters"] for m in d["models"]]
    assert sizes == sorted(sizes, reverse=True)
    bad = run("fit", "h100-80gb", "--task", "finetune", "--context", "5")
    assert bad.exit_code == 2 and "--seq-len" in bad.output
