"""Invariants of the rulebook over the whole knowledge base.

Every model x precision on GPUs rotating through the KB at the default workload, and hypothesis-drawn
contexts, batches and GPU counts beside it. Every option an advisory recommends is recomputed
with the sizing core (advisor.sizing) and must really fit; a fit never hides a deficit; every
advisory has exactly one verdict and at least one next step.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.facts import ALWAYS, FACTS, TOGETHER
from advisor.kb.formats import native_formats
from advisor.kb import load_kb
from advisor.render import render_json, render_markdown
from advisor.sizing.plan import place
from advisor.sizing.precision import all_precisions, parse_precision
from advisor.sizing.weights import format_mismatch
from advisor.sizing.workload import Workload

KB = load_kb()
MODELS = [m.id for m in KB.all_models()]
GPUS = [g.id for g in KB.all_gpus()]
# MLX's formats are asked of Apple GPUs only: on any other GPU the question is refused (exit 2,
# tests/test_mlx_runtime.py), so they are left out of the grids that rotate over every GPU
PRECISIONS = [p.name for p in all_precisions() if p.family != "mlx"]
# Every model at every precision, each on one GPU that rotates through the KB (so every GPU
# meets many models and precisions): the full product (over 1,000,000 questions at 212 models)
# would take many hours; every model x GPU pair is explained in tests/test_kb_all_pairs.py.
GRID = [(m, GPUS[k % len(GPUS)], p)
        for i, m in enumerate(MODELS) for j, p in enumerate(PRECISIONS)
        if not format_mismatch(KB.model(m).architecture, parse_precision(p), KB.model(m).gguf_repos)
        for k in [i * len(PRECISIONS) + j]]
GRID += [("deepseek-r1", "a100-80gb", "Q4_K_M")]  # a distilled model (rare in the rotation)


def check_advisory(advisor, kb, m_id, g_id, p_name, context=8192, batch=1, gpus=1):
    context = min(context, kb.model(m_id).architecture.max_context)
    adv = advisor.explain(m_id, g_id, p_name, context, batch, gpus)
    # the model as the question runs it: a latent-attention model keeps its KV layout per runtime
    # (per head under transformers), which the advisory sizes and so must the check
    model, gpu, prec = adv.situation.model, kb.gpu(g_id), parse_precision(p_name)
    assert model.id == m_id
    work = Workload(context, batch, runtime=adv.situation.work.runtime,
                    kv_cache_dtype=adv.situation.work.kv_cache_dtype,
                    prompt_tokens=adv.situation.work.prompt_tokens)  # cut to a shorter context
    pl = place(model, gpu, prec, work, gpus)
    where = (m_id, g_id, p_name, context, batch, gpus)

    # One verdict, and the one the numbers give; never "fits" with a deficit.
    assert adv.verdict == (pl.verdict if adv.cannot_run is None else "cannot-run"), where
    assert adv.verdict != "fits" or pl.headroom_bytes >= pl.margin_bytes, where
    assert sum(1 for r in adv.fired if advisor.rules[r].verdict) == 1, where

    facts = adv.situation.facts
    assert set(facts) <= set(FACTS), where
    assert ALWAYS <= set(facts), (where, ALWAYS - set(facts))
    for group in TOGETHER:
        present = group & set(facts)
        assert not present or present == group, (where, group - present)

    for rec in adv.recommendations:
        kind = rec["kind"]
        assert all(v is not None for k, v in rec.items()
                   if k not in advisor.rules[rec["rule"]].optional), (where, rec)
        if kind == "headroom":
            assert pl.fits, where
            mc, mb = rec["max_context_tokens"], rec["max_batch"]
            assert context <= mc <= model.context_limit, where
            w = replace(work, runtime=adv.situation.work.runtime)
            assert place(model, gpu, prec, replace(w, context_tokens=mc), gpus).fits, where
            if mc < model.context_limit:
                assert not place(model, gpu, prec, replace(w, context_tokens=mc + 1), gpus).fits, where
            assert mb >= batch and place(model, gpu, prec, replace(w, batch=mb), gpus).fits, where
        elif kind == "native-format":
            assert prec.name not in native_formats(gpu), where
            assert rec["alternative"] in native_formats(gpu) or parse_precision(
                rec["alternative"]).family == "gguf", where
        else:
            pytest.fail(f"no property check for recommendation kind {kind!r}: add one")
    # What to do: a plan whenever it does not run as asked; as asked when it fits, unless a plan
    # that keeps every choice the question made beats it (plan-better-than-asked: here the
    # format and the context are given, so it keeps both) or the question is below usable speed
    if adv.verdict == "fits":
        assert adv.plan is not None, where
        asked = next(p for p in adv.path_plans if p.path == "as-asked")
        rule = adv.offered[0][1]
        assert adv.plan.path == "as-asked" or rule == "plan-better-than-asked" or not asked.usable, where
        if rule == "plan-better-than-asked":
            assert adv.plan.precision.name == prec.name and adv.plan.context_tokens >= min(
                context, model.context_limit), (where, adv.plan.to_json())
    else:
        assert adv.offered, where
    for plan, rule in adv.offered:
        assert advisor.rules[rule].scope == "plan", where
        if plan.path == "as-asked":
            assert plan.precision.name == prec.name and plan.context_tokens == context, where
        if plan.owned and getattr(plan, "task", "inference") == "inference":
            assert plan.gpu.id == gpu.id and plan.gpu_count <= gpus, (where, plan.to_json())
    return adv


def test_every_model_gpu_precision_in_the_kb(advisor, kb):
    kinds = set()
    for m, g, p in GRID:
        kinds |= {r["kind"] for r in check_advisory(advisor, kb, m, g, p).recommendations}
    assert len(GRID) >= 300
    # The grid exercises every inference kind a template exists for (fine-tuning's: test_finetune_rules).
    from advisor.advise import recommendation_kinds
    assert kinds == {k for k in recommendation_kinds() if k != "plan"}


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.sampled_from(MODELS), g=st.sampled_from(GPUS), p=st.sampled_from(PRECISIONS),
       context=st.one_of(st.sampled_from([1, 512, 4096, 8192, 32768, 131072]),
                         st.integers(1, 131072)),
       batch=st.integers(1, 16), gpus=st.sampled_from([1, 2, 3, 4, 8, 16]))
def test_random_workloads(advisor, m, g, p, context, batch, gpus):
    kb = advisor.kb  # not a test argument: hypothesis prints its arguments, the KB runs to MBs
    assume(not format_mismatch(kb.model(m).architecture, parse_precision(p), kb.model(m).gguf_repos))
    # several unified-memory machines (Macs, Jetsons) are refused, not pooled (test_hostile_fifth)
    assume(gpus == 1 or not kb.gpu(g).unified_memory)
    check_advisory(advisor, kb, m, g, p, context, batch, gpus)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.sampled_from(MODELS), g=st.sampled_from(GPUS), p=st.sampled_from(PRECISIONS),
       context=st.integers(1, 131072))
def test_same_question_same_bytes(advisor, m, g, p, context):
    assume(not format_mismatch(advisor.kb.model(m).architecture, parse_precision(p),
                                advisor.kb.model(m).gguf_repos))
    context = min(context, advisor.kb.model(m).architecture.max_context)
    a, b = advisor.explain(m, g, p, context), advisor.explain(m, g, p, context)
    assert render_markdown(a) == render_markdown(b) and render_json(a) == render_json(b)
