"""llama.cpp's CPU layers on a Mac (advisor.sizing.offload on unified memory): the GPU's layers
within Metal's working set, the rest on the CPU in the same memory, both together within the
memory less macOS's reserve (advisor.sizing.wired.macos_split_reserve_bytes)."""
from __future__ import annotations

import pytest

from advisor.sizing import constants as c
from advisor.sizing.memory import memory_total_bytes
from advisor.sizing.offload import mac_cpu_bandwidth_gb_s, plan_offload
from advisor.sizing.ollama import auto_gpu_layers
from advisor.sizing.precision import parse_precision
from advisor.sizing.speed import cpu_decode_seconds
from advisor.sizing.wired import (macos_reserve_bytes, macos_split_reserve_bytes,
                                  raised_wired_limit_mb, with_wired_limit)
from advisor.sizing.workload import Workload

GIB = 2**30
OSS = dict(model="gpt-oss-20b", precision="MXFP4_MOE")


def _plans(adv) -> list:
    """Every plan an advisory holds: those offered and each path's best."""
    return [p for p, _ in adv.offered] + [p for p in adv.path_plans if p is not None]


def _total(off) -> int:
    return off.gpu_bytes + off.ram_bytes


def test_gpt_oss_20b_on_a_16_gb_m4_is_split_and_leaves_macos_its_reserve(kb):
    """What Ollama's llama-server does by itself on a 16 GB M4: most layers on the GPU, a few
    on the CPU; together within the memory less macOS's 3 GiB (a split's CPU part is pageable:
    constants.MACOS_SPLIT_RESERVE_MIN_BYTES, measured on a 16 GB M4 Mac mini), so a plan offers
    it, as llama.cpp's maintainers run it on a 16 GB Mac (review4 fault 1: it was "rent a 3090")."""
    m, g = kb.model(OSS["model"]), kb.gpu("m4-16gb")
    p = parse_precision(OSS["precision"])
    work = Workload(context_tokens=4096, runtime="ollama")
    off = plan_offload(m, g, p, work)
    assert off is not None and 0 < off.cpu_layers < m.architecture.layers
    assert off.gpu_layers + off.cpu_layers == m.architecture.layers
    assert off.gpu_bytes <= g.usable_memory_bytes - c.FIT_MARGIN_BYTES_PER_GPU
    assert macos_reserve_bytes(g) == 4 * GIB and macos_split_reserve_bytes(g) == 3 * GIB
    assert g.memory_bytes - _total(off) > 3 * GIB and off.ram_fits
    assert auto_gpu_layers(m, g, p, work) == off.gpu_layers  # Ollama's own fit, on Metal too
    # the raised limit moves layers to the GPU; the one memory is no larger
    raised = with_wired_limit(g, raised_wired_limit_mb(g))
    more = plan_offload(m, raised, p, work)
    assert more.gpu_layers > off.gpu_layers and _total(more) == _total(off) and more.ram_fits


def test_explain_gpt_oss_20b_on_m4_16gb_says_what_happens_on_the_mac(advisor):
    from advisor.render import render_markdown

    adv = advisor.explain("gpt-oss:20b", "m4-16gb")
    md = render_markdown(adv)
    tried = md.split("## What happens if you try anyway", 1)[1].split("##", 1)[0]
    assert "discrete GPU" not in tried
    assert "on the CPU, from the same memory" in tried and "to macOS and your apps" in tried
    assert "tokens/s" in tried and "less than the" not in tried
    # every plan on the Mac itself leaves macOS its reserve, and What to do runs it there
    mac = [plan for plan in _plans(adv) if plan.gpu.id == "m4-16gb" and plan.offload]
    assert mac
    for plan in mac:
        assert plan.total_bytes + plan.ram_bytes <= plan.gpu.memory_bytes - 3 * GIB
    assert adv.offered[0][0].gpu.id == "m4-16gb" and adv.offered[0][0].offload


@pytest.mark.parametrize("gpu", ["m4-16gb", "m4-pro-24gb", "m3-max-64gb", "m1-8gb"])
@pytest.mark.parametrize("model, precision", [("qwen3-32b", "Q4_K_M"), ("llama-3.1-8b", "Q8_0"),
                                              ("llama-3.1-70b", "Q4_K_M"), ("gpt-oss-20b", "MXFP4_MOE")])
def test_a_mac_split_never_counts_the_memory_twice(kb, gpu, model, precision):
    """Where a split runs (ram_fits), the GPU's part and the CPU's together leave macOS its
    reserve; the GPU's part stays within its working set less llama.cpp's margin."""
    m, g, p = kb.model(model), kb.gpu(gpu), parse_precision(precision)
    for gg in filter(None, (g, raised_wired_limit_mb(g) and with_wired_limit(g, raised_wired_limit_mb(g)))):
        off = plan_offload(m, gg, p, Workload(context_tokens=8192))
        if off is None:
            continue
        assert off.gpu_bytes <= gg.usable_memory_bytes - c.FIT_MARGIN_BYTES_PER_GPU
        assert off.ram_fits == (_total(off) <= g.memory_bytes - macos_split_reserve_bytes(g))


def test_a_model_that_fits_on_the_mac_gpu_gets_no_cpu_layers(kb, advisor):
    m, g, p = kb.model("llama-3.1-8b"), kb.gpu("m4-pro-24gb"), parse_precision("Q4_K_M")
    work = Workload(context_tokens=8192)
    assert memory_total_bytes(m, p, work, 1, 8192, "fp16", g) < g.usable_memory_bytes
    assert plan_offload(m, g, p, work) is None
    adv = advisor.explain("llama-3.1-8b", "m4-pro-24gb", precision="Q4_K_M")
    assert adv.verdict == "fits"
    assert not any(plan.offload for plan in _plans(adv) if plan.gpu.unified_memory)


def test_a_70b_on_an_8_gb_mac_still_does_not_run_there(advisor):
    adv = advisor.explain("llama-3.1-70b", "m1-8gb", precision="Q4_K_M")
    assert adv.verdict == "does-not-fit"
    # the 70B itself runs on no Mac plan (rent; a smaller model may run on the Mac)
    assert not any(plan.gpu.unified_memory and plan.model.id == "llama-3.1-70b" for plan in _plans(adv))
    m = advisor.kb.model("llama-3.1-70b")
    g = advisor.kb.gpu("m1-8gb")
    off = plan_offload(m, g, parse_precision("Q4_K_M"), Workload(context_tokens=8192))
    assert off is None or not off.ram_fits


def test_the_planner_offers_the_mac_split_with_its_command(advisor):
    """Qwen3 32B at Q4_K_M on a 24 GB M4 Pro at 8,192 tokens (its reasoning default, 32,768, does
    not fit at Q4_K_M within the Mac's memory): beyond the GPU's working set, within the memory
    less macOS's reserve: a plan with -ngl N on the Mac, leaving macOS at least its 3 GiB."""
    adv = advisor.explain("qwen3-32b", "m4-pro-24gb", precision="Q4_K_M", context_tokens=8192)
    mac = [pl for pl in _plans(adv) if pl.gpu.id == "m4-pro-24gb" and pl.offload]
    assert mac
    for pl in mac:
        assert pl.n_gpu_layers is not None and 0 < pl.cpu_offload_layers
        assert f"-ngl {pl.n_gpu_layers}" in pl.command
        assert pl.total_bytes + pl.ram_bytes <= pl.gpu.memory_bytes - macos_split_reserve_bytes(pl.gpu)
        assert pl.moe_cpu_layers == 0


def test_ollama_plans_on_a_mac_set_num_gpu_only_where_its_own_fit_differs(advisor):
    adv = advisor.explain("qwen3:32b", "m4-pro-24gb")
    for pl in _plans(adv):
        if pl.gpu.unified_memory and pl.offload and pl.runtime == "ollama":
            auto = auto_gpu_layers(pl.model, pl.gpu if pl.wired_limit_mb is None
                                   else with_wired_limit(pl.gpu, pl.wired_limit_mb),
                                   pl.precision, Workload(context_tokens=pl.context_tokens,
                                                          runtime="ollama",
                                                          kv_cache_dtype=pl.kv_cache_dtype))
            said = any("num_gpu" in n for n in pl.notes)
            assert said == (auto != pl.n_gpu_layers)


def test_the_cpu_side_of_a_mac_is_its_bandwidth_capped(kb):
    assert mac_cpu_bandwidth_gb_s(kb.gpu("m4-16gb")) == 120
    assert mac_cpu_bandwidth_gb_s(kb.gpu("m1-pro-16gb")) == 200
    assert mac_cpu_bandwidth_gb_s(kb.gpu("m3-max-64gb")) == c.APPLE_CPU_BANDWIDTH_CAP_GB_S
    with pytest.raises(ValueError):
        mac_cpu_bandwidth_gb_s(kb.gpu("rtx-4090"))


# Published llama.cpp CPU-only runs on M-series chips (constants.APPLE_CPU_BANDWIDTH_CAP_GB_S):
# (gpu, file bytes, repeating layers, ms a token, source). File sizes: llama.cpp PR 4766's
# llama-bench table (LLaMA 7B Q4_0 3,822,520,893 bytes, F16 13,475,459,891), 13B Q4_0 scaled
# by the parameters (13.02 / 6.74 B).
CPU_RUNS = [
    ("m1-pro-16gb", 3_822_520_893, 32, 45.0, "https://github.com/ggml-org/llama.cpp/issues/1727"),
    ("m2-pro-16gb", 3_822_520_893, 32, 47.81,
     "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/issues/1"),
    ("m2-pro-16gb", int(3_822_520_893 * 13.02 / 6.74), 40, 73.38,
     "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/issues/1"),
    ("m2-pro-16gb", 13_475_459_891, 32, 117.84,
     "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/issues/1"),
]


@pytest.mark.parametrize("gpu, size, layers, ms, source", CPU_RUNS)
def test_the_mac_cpu_speed_against_published_cpu_only_runs(kb, gpu, size, layers, ms, source):
    predicted = 1000 * cpu_decode_seconds(size, 0, mac_cpu_bandwidth_gb_s(kb.gpu(gpu)), layers)
    assert abs(predicted / ms - 1) < 0.2, (predicted, ms, source)


def test_ngl_on_a_mac_is_refused_with_one_line(advisor):
    from advisor.errors import AdvisorError

    with pytest.raises(AdvisorError, match="not sized as a question"):
        advisor.explain("qwen3-32b", "m4-pro-24gb", precision="Q4_K_M", gpu_layers=40)


def test_gpt_oss_20b_on_a_16_gb_mac_runs_there_with_layers_on_the_cpu(advisor):
    """llama.cpp's maintainers run gpt-oss-20b on a 16 GB Mac with part of the model on the CPU
    (--n-cpu-moe 12, about 26 tokens/s measured on a 16 GB M4 Mac mini,
    https://github.com/ml-explore/mlx-lm/issues/644): What to do is that, not renting a card,
    at a speed near the measurement."""
    adv = advisor.explain("gpt-oss-20b", "m4-16gb")
    best = adv.offered[0][0]
    assert best.gpu.id == "m4-16gb" and best.offload and best.precision.name == "MXFP4_MOE"
    assert "ggml-org/gpt-oss-20b-GGUF" in best.command
    assert 20 <= best.decode_tokens_per_s <= 40


def test_the_split_reserve_is_an_eighth_at_least_3_gib(kb):
    for gid, gib in (("m1-8gb", 3), ("m4-16gb", 3), ("m4-pro-24gb", 3), ("m3-max-64gb", 8)):
        assert macos_split_reserve_bytes(kb.gpu(gid)) == gib * GIB
    assert macos_split_reserve_bytes(kb.gpu("rtx-3090")) == 0
