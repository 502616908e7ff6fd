"""vLLM's decode step and serving at a batch (advisor.sizing.vllm_speed, advisor.sizing.serving):
invariants over the KB, and the published serving runs of benchmarks/data/vllm_serving.csv."""
from __future__ import annotations

import json
import statistics

import pytest

from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.serving import serving_at_batch, serving_capacity
from advisor.sizing.speed import active_weight_bytes, decode_roofline_tokens_per_s
from advisor.sizing.vllm_speed import batch_speed, distinct_experts, vllm_step
from advisor.sizing.workload import Workload
from benchmarks.fit_vllm import measured, predict, rows
from benchmarks.vllm_speed_accuracy import categories


BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CASES = [("llama-3.1-8b", "h100-80gb", "bf16", 1), ("llama-3.1-70b", "h100-80gb", "fp8", 4),
         ("qwen3-30b-a3b", "h100-80gb", "bf16", 1), ("deepseek-r1", "h200", "fp8", 8),
         ("mistral-7b-v0.3", "rtx-4090", "awq", 1), ("qwen3-235b-a22b", "a100-80gb", "bf16", 8),
         ("llama-3.1-405b", "h100-80gb", "fp8", 16)]


def test_distinct_experts_bounds():
    assert distinct_experts(256, 8, 1) == pytest.approx(8)
    assert distinct_experts(256, 8, 0) == 0
    last = 0.0
    for b in BATCHES:
        d = distinct_experts(256, 8, b)
        assert last <= d <= 256 and d <= 8 * b
        last = d
    assert distinct_experts(256, 8, 10_000) == pytest.approx(256)


@pytest.mark.parametrize("model,gpu,prec,n", CASES)
def test_total_rises_and_per_sequence_falls_with_batch(kb, model, gpu, prec, n):
    """Total tokens/s never falls as the batch grows (it flattens once compute-bound); a
    sequence's tokens/s never rises; no step beats the bandwidth roofline of the weights read."""
    m, g, p = kb.model(model), kb.gpu(gpu), parse_precision(prec)
    a = m.architecture
    pl = place(m, g, p, Workload(context_tokens=4096, runtime="vllm"), n)
    tp, pp = pl.split.tensor_parallel, pl.split.pipeline_stages
    kv = kv_cache_bytes(a, 2048)
    prev = None
    layers_b, out_b = active_weight_bytes(a, p)
    for b in BATCHES:
        s = batch_speed(g, a, p, b, kv, tp, pp)
        if prev is not None:
            assert s.total_tokens_per_s >= prev.total_tokens_per_s * (1 - 1e-12), (model, b)
            assert s.tokens_per_s_per_sequence <= prev.tokens_per_s_per_sequence * (1 + 1e-12), (model, b)
        prev = s
    one = batch_speed(g, a, p, 1, kv, tp, pp)
    ceiling = decode_roofline_tokens_per_s(layers_b + out_b, g.bandwidth_gb_s * tp)
    assert one.tokens_per_s_per_sequence <= ceiling


def test_step_rejects_a_batch_below_one(kb):
    m, g = kb.model("llama-3.1-8b"), kb.gpu("h100-80gb")
    with pytest.raises(ValueError):
        vllm_step(g, m.architecture, parse_precision("bf16"), 0, 0)


def test_moe_step_reads_more_experts_at_a_larger_batch(kb):
    """The memory part of a MoE step grows with the experts the batch touches; a dense model's
    weight part does not grow at all."""
    r1, g = kb.model("deepseek-r1"), kb.gpu("h200")
    p = parse_precision("fp8")
    assert vllm_step(g, r1.architecture, p, 64, 0, 8).weights_s > 3 * vllm_step(g, r1.architecture, p, 1, 0, 8).weights_s
    d = kb.model("llama-3.1-8b").architecture
    assert vllm_step(g, d, p, 64, 0).weights_s == vllm_step(g, d, p, 1, 0).weights_s


def test_serving_at_batch_only_for_vllm_and_batch_above_one(kb):
    m, g, p = kb.model("llama-3.1-8b"), kb.gpu("h100-80gb"), parse_precision("bf16")
    assert serving_at_batch(place(m, g, p, Workload(runtime="vllm", batch=1)), 1) is None
    assert serving_at_batch(place(m, g, p, Workload(runtime="llama.cpp", batch=8)), 8) is None
    at = serving_at_batch(place(m, g, p, Workload(runtime="vllm", batch=8)), 8)
    assert at.total_tokens_per_s == pytest.approx(8 * at.tokens_per_s_per_sequence)


def test_capacity_is_the_largest_batch_and_at_least_the_batch_asked(kb):
    """Capacity is the batch speed at the largest batch that fits: never below a smaller batch."""
    m, g, p = kb.model("deepseek-r1"), kb.gpu("h200"), parse_precision("fp8")
    pl = place(m, g, p, Workload(runtime="vllm", batch=64), 8)
    cap = serving_capacity(pl)
    at = serving_at_batch(pl, 64)
    assert cap.sequences > 64
    assert cap.total_tokens_per_s >= at.total_tokens_per_s
    assert cap.tokens_per_s_per_sequence <= at.tokens_per_s_per_sequence


# --- the published runs (benchmarks/data/vllm_serving.csv, each row with its source)

def test_every_published_row_is_sourced_and_predictable(kb):
    data = rows()
    assert len(data) >= 20
    for r in data:
        assert r["source_url"].startswith("https://"), r
        assert r["date"] and r["engine_version"] and r["fit"] in ("yes", "no")
        kind, value = measured(r)
        assert value > 0
        assert predict(kb, r) > 0


def test_published_rows_category_medians(kb):
    """Issue 15's target: MoE, multi-GPU and serving-at-concurrency medians within 25% over the
    fitted rows; dense and single stream too."""
    by: dict[str, list[float]] = {}
    for r in rows():
        if r["fit"] != "yes":
            continue
        e = abs(predict(kb, r) / measured(r)[1] - 1)
        for cat in categories(kb, r) + ["all"]:
            by.setdefault(cat, []).append(e)
    for cat, errs in by.items():
        assert statistics.median(errs) <= 0.25, (cat, statistics.median(errs))


@pytest.mark.parametrize("url_part,concurrency,tolerance", [
    # SemiAnalysis InferenceX: DeepSeek R1 FP8 on 8 x H200, 1k in / 1k out (SGLang 0.5.7, 2026:
    # its step at 8 sequences is faster than vLLM's July-2025 single stream below, and the
    # profile has one figure for both, so concurrency 8 comes out about 30% slow)
    ("InferenceX/issues/870", 64, 0.40), ("InferenceX/issues/870", 8, 0.35),
    # tt-inference-server: DeepSeek R1 AWQ on 8 x H100 under vLLM, one stream (July 2025)
    ("tt-inference-server/issues/356", 1, 0.25),
    # Llama 3.1 8B on one H100 and one A100 40GB, single stream
    ("yobitelcomm", 1, 0.20), ("johnmusgrave", 1, 0.20),
    # Mistral 7B on an RTX 4090, concurrency 4 to 48
    ("mushfiqrahman", 4, 0.15), ("mushfiqrahman", 48, 0.15),
])
def test_published_rows_within_tolerance(kb, url_part, concurrency, tolerance):
    row = next(r for r in rows() if url_part in r["source_url"] and int(r["concurrency"]) == concurrency)
    assert abs(predict(kb, row) / measured(row)[1] - 1) <= tolerance, row["source_url"]


def test_advisory_r1_at_batch_64_against_inferencex(kb):
    """The advisory's own figure (decode only, half of the default 8,192-token context cached)
    for DeepSeek R1 FP8 on 8 x H200 at --batch 64 is within 40% of the published 1,788.8 tokens/s
    (InferenceX issue 870, SGLang 0.5.7, concurrency 64)."""
    out = json.loads(explain_json(kb, "deepseek-r1", "h200", 8, 64))
    t = out["throughput"]
    assert abs(t["batch_total_tokens_per_s"] / 1788.8 - 1) <= 0.40
    assert t["batch_tokens_per_s_per_sequence"] * 64 == pytest.approx(t["batch_total_tokens_per_s"], rel=1e-3)
    assert t["serving_max_sequences"] > 64
    assert "batch_total_tokens_per_s" not in json.loads(explain_json(kb, "deepseek-r1", "h200", 8, 1))["throughput"]


def explain_json(kb, model, gpu, gpus, batch, context=8192):
    # at 8,192 tokens, the context the figures were compared at (DeepSeek R1's own default is
    # its 32,768-token thinking budget)
    from click.testing import CliRunner
    from advisor.cli import main
    r = CliRunner().invoke(main, ["explain", model, gpu, "--gpus", str(gpus), "--runtime", "vllm",
                                  "--batch", str(batch), "--context", str(context),
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    return r.output


def test_plans_at_a_batch_quote_the_batch_speed_the_speed_section_gives(advisor):
    """--batch B under vLLM: What to do and the options give each sequence's and the total
    speed at B, the figures of the Speed section (one sequence alone in brackets), not the
    single-stream speed alone."""
    from advisor.render import render_json, render_markdown

    adv = advisor.explain("llama-3.1-8b", "h100-80gb", runtime="vllm", batch=32)
    d = json.loads(render_json(adv))
    t, plan = d["throughput"], d["plan"]
    assert plan["batch_tokens_per_s_per_sequence"] == t["batch_tokens_per_s_per_sequence"]
    assert plan["batch_total_tokens_per_s"] == t["batch_total_tokens_per_s"]
    assert plan["batch_tokens_per_s_per_sequence"] < plan["decode_tokens_per_s"]
    md = render_markdown(adv).split("## What to do", 1)[1]
    assert f"{t['batch_tokens_per_s_per_sequence']:.1f} tokens/s** a sequence" in md


def test_vllm_profile_times_are_never_negative(kb):
    """Every fitted time of the vLLM profile (a step, a layer, a MoE layer, a ring step of an
    all-reduce) is a time; an all-reduce over NVLink takes 2(n - 1) ring steps, never below
    zero, and more GPUs take longer."""
    from advisor.sizing import constants as c
    from advisor.sizing.speed import allreduce_seconds
    prof = c.VLLM_DECODE_PROFILE
    for k in ("step_seconds", "layer_seconds", "moe_layer_seconds", "hop_seconds",
              "allreduce_hop_latency_s"):
        assert prof[k] >= 0.0, k
    g = kb.gpu("h200")
    assert allreduce_seconds(g, 0, 8, prof["allreduce_hop_latency_s"]) == pytest.approx(
        14 * prof["allreduce_hop_latency_s"])
    assert (allreduce_seconds(g, 0, 2, prof["allreduce_hop_latency_s"])
            < allreduce_seconds(g, 0, 8, prof["allreduce_hop_latency_s"]))
    assert allreduce_seconds(g, 0, 8, -1.0) == c.ALLREDUCE_LATENCY_S["nvlink"]
    assert allreduce_seconds(g, 14336, 1, prof["allreduce_hop_latency_s"]) == 0.0


def test_tensor_parallel_single_stream_below_its_roofline(kb):
    """DeepSeek R1 and Llama 3.1 405B on 8 GPUs, one stream: never faster than the 8 cards'
    bandwidth over the bytes a GPU reads a token."""
    from advisor.sizing.weights import weight_summary
    for mid, prec, gid in (("deepseek-r1", "fp8", "h200"), ("llama-3.1-405b", "fp8", "h100-80gb")):
        m, g, p = kb.model(mid), kb.gpu(gid), parse_precision(prec)
        w = weight_summary(m.architecture, p)
        step = vllm_step(g, m.architecture, p, 1, 0, 8)
        floor = (w.active_layers + w.output) / 8 / (g.bandwidth_gb_s * 1e9)
        assert step.seconds >= floor, (mid, step.seconds, floor)
