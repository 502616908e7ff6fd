"""CPU offload speed against published partial-offload runs (issue 15 item 5).

benchmarks/data/llamacpp_offload_decode.csv holds published llama.cpp single-stream decode runs
with part of the model in system RAM (-ngl N, --n-cpu-moe N), each with the host's RAM bandwidth
and how it was derived; benchmarks/fit_offload_speed.py fits the CPU terms
(constants.CPU_BANDWIDTH_FRACTION, CPU_LAYER_SECONDS) on them.
"""
import math
import re
import statistics

import pytest

from advisor.sizing import constants as c
from advisor.sizing.offload import (
    expert_offload_decode_seconds,
    llamacpp_cpu_moe_layers,
    offload_decode_seconds,
    plan_expert_offload,
    plan_offload,
)
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload
from benchmarks import fit_offload_speed as off

ROWS = off.offload_rows()


def test_every_row_is_sourced_and_states_its_ram(kb):
    assert len(ROWS) >= 10
    assert len({r["setup"] for r in ROWS}) >= 2
    for r in ROWS:
        assert re.match(r"https://github\.com/[\w.-]+/[\w.-]+/(pull|issues)/\d+", r["source"]), r
        assert re.match(r"\d{4}-\d{2}-\d{2}$", r["date"]), r
        assert float(r["ram_bandwidth_gb_s"]) > 0 and r["ram_bandwidth_basis"] and r["ram"], r
        assert r["cpu"] and r["build"] and r["measure"], r
        kb.gpu(r["gpu"]), kb.model(r["model"]), parse_precision(r["quant"])
        assert r["offload"] in ("ngl", "n_cpu_moe")
        if r["offload"] == "ngl":  # whole layers in RAM: fewer on the GPU than the model has
            assert 0 <= int(r["gpu_layers"]) < kb.model(r["model"]).architecture.layers
        else:
            assert kb.model(r["model"]).architecture.experts_total and int(r["n_cpu_moe"]) > 0


def test_rows_within_their_tolerance(kb):
    """Each published run within 25% with the fitted constants; the median within 12%."""
    errs = [off.error(kb, r) for r in ROWS]
    for r, e in zip(ROWS, errs):
        assert abs(e) <= 0.25, (r["model"], r["gpu"], f"{e:+.1%}")
    assert statistics.median(abs(e) for e in errs) <= 0.12


def test_fitted_constants_are_the_fit(kb):
    """constants.CPU_LAYER_SECONDS is what the script fits with the fraction kept (within 5%),
    and it fits the rows better than the former unfitted constants (0.6, no layer cost)."""
    got = off.fit(kb, ROWS, ("CPU_LAYER_SECONDS",))
    assert got["CPU_LAYER_SECONDS"] == pytest.approx(c.CPU_LAYER_SECONDS, rel=0.05)
    now = off.loss(kb, ROWS, {"CPU_BANDWIDTH_FRACTION": c.CPU_BANDWIDTH_FRACTION,
                              "CPU_LAYER_SECONDS": c.CPU_LAYER_SECONDS})
    before = off.loss(kb, ROWS, {"CPU_BANDWIDTH_FRACTION": 0.6, "CPU_LAYER_SECONDS": 0.0})
    assert now < 0.5 * before


def test_never_above_the_roofline(kb):
    """No published row is predicted above its roofline (GPU's share at its full bandwidth, the
    CPU's at the full RAM bandwidth), and neither is any -ngl split of a plan."""
    for r in ROWS:
        assert off.predict(kb, r) <= off.roofline(kb, r), r["model"]
    model, gpu = kb.model("llama-3.1-70b"), kb.gpu("rtx-4090")
    prec = parse_precision("Q4_K_M")
    for n in (0, 20, 40, 79, 80):
        pl = plan_offload(model, gpu, prec, Workload(context_tokens=4096), gpu_layers=n)
        assert 0 < pl.decode_tokens_per_s <= pl.decode_roofline_tokens_per_s, n


def test_more_in_ram_is_slower(kb):
    model, gpu = kb.model("mixtral-8x7b"), kb.gpu("rtx-3090")
    prec = parse_precision("Q4_0")
    secs = [offload_decode_seconds(model, gpu, prec, "fp16", n, 1024, 76.8) for n in range(0, 33, 4)]
    assert secs == sorted(secs, reverse=True)
    moe = [expert_offload_decode_seconds(model, gpu, prec, n, 76.8) for n in range(0, 33, 4)]
    assert moe == sorted(moe)


def test_n_cpu_moe_counts_blocks(kb):
    """--n-cpu-moe N matches blocks 0..N-1: a leading dense block holds no experts; N past the
    last block means every MoE layer; a dense model has none."""
    lite = kb.model("deepseek-coder-v2-lite")
    assert lite.architecture.dense_layers == 1
    assert llamacpp_cpu_moe_layers(lite, 16) == 15
    assert llamacpp_cpu_moe_layers(lite, 999) == lite.architecture.layers - 1
    assert llamacpp_cpu_moe_layers(kb.model("gpt-oss-20b"), 12) == 12
    assert llamacpp_cpu_moe_layers(kb.model("llama-3.1-8b"), 8) == 0


def test_expert_offload_bad_input(kb):
    gpu, prec = kb.gpu("rtx-3090"), parse_precision("Q4_K_M")
    with pytest.raises(ValueError):
        expert_offload_decode_seconds(kb.model("llama-3.1-8b"), gpu, prec, 1, 76.8)
    with pytest.raises(ValueError):
        expert_offload_decode_seconds(kb.model("mixtral-8x7b"), gpu, prec, 33, 76.8)


def test_plan_expert_offload_times_its_split(kb):
    """The plan's speed is expert_offload_decode_seconds at the split it chose."""
    model, gpu = kb.model("qwen3-30b-a3b"), kb.gpu("rtx-4060-ti-16gb")
    prec = parse_precision("Q8_0")
    work = Workload(context_tokens=8192)
    pl = plan_expert_offload(model, gpu, prec, work)
    assert pl is not None and 0 < pl.cpu_moe_layers <= pl.moe_layers
    secs = expert_offload_decode_seconds(model, gpu, prec, pl.cpu_moe_layers, work.ram_bandwidth_gb_s)
    assert pl.decode_tokens_per_s == pytest.approx(1 / secs)


def test_deterministic(kb):
    a = [off.predict(kb, r) for r in ROWS]
    b = [off.predict(kb, r) for r in ROWS]
    assert a == b and all(math.isfinite(x) and x > 0 for x in a)
    assert off.fit(kb, ROWS, ("CPU_LAYER_SECONDS",)) == off.fit(kb, ROWS, ("CPU_LAYER_SECONDS",))
