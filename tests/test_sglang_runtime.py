"""SGLang (python -m sglang.launch_server) as a runtime (issue 12, item 2): its memory model
(--mem-fraction-static and the KV token pool), a published start-up log, its commands against
its flags, where it does not run, and one runtime per advisory."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from advisor.errors import AdvisorError
from advisor.plans.flags import check_command
from advisor.plans.runtimes import cannot_run, runs_on
from advisor.render import render_json
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.precision import parse_precision
from advisor.sizing.sglang_memory import (check_sglang_tensor_parallel, sglang_cell_bytes,
                                          sglang_default_mem_fraction, sglang_gpu_defaults,
                                          sglang_max_total_num_tokens, sglang_overhead_parts,
                                          sglang_mem_fraction, sglang_reserved_mib,
                                          sglang_start_free_bytes)
from advisor.sizing.weights import weights_bytes
from advisor.sizing.workload import Workload


def test_default_mem_fraction_follows_the_heuristic_by_card_and_tp(kb):
    h100 = kb.gpu("h100-80gb")  # 81,920 MiB: chunked prefill 8192, graphs 256 (TP < 4), 512 (TP >= 4)
    assert sglang_gpu_defaults(81920, 1) == (8192, 256)
    assert sglang_gpu_defaults(81920, 8) == (8192, 512)
    # 512 + 1.5 x 8192 + 2 x 256 + 1/8 x 1024 = 13,440 MiB
    assert sglang_reserved_mib(81920, 1) == 13440
    assert sglang_default_mem_fraction(h100, 1) == round((81920 - 13440) / 81920, 3) == 0.836
    # TP 8: 512 + 12,288 + 1,024 + 1,024 = 14,848 MiB
    assert sglang_default_mem_fraction(h100, 8) == round((81920 - 14848) / 81920, 3)
    # a 24 GB card: 2048-token chunks, 24 graphs, and no 10 GiB floor (it is not above 60 GiB)
    rtx = kb.gpu("rtx-4090")
    mib = rtx.usable_memory_bytes / c.MIB
    assert sglang_reserved_mib(mib, 1) == 512 + 1.5 * 2048 + 2 * 24 + 128
    # a card above 60 GiB keeps at least 10 GiB outside the fraction
    assert sglang_reserved_mib(200 * 1024, 1) >= 10 * 1024
    assert sglang_default_mem_fraction(None) == 0.88


def test_cell_size_is_kv_heads_per_rank_by_head_dims_by_layers():
    from advisor.kb.store import load_kb

    a = load_kb().model("llama-3.1-8b").architecture  # 32 layers, 8 KV heads of 128
    assert sglang_cell_bytes(a, "bf16", 1) == 8 * (128 + 128) * 32 * 2
    assert sglang_cell_bytes(a, "fp8", 1) == 8 * (128 + 128) * 32
    assert sglang_cell_bytes(a, "bf16", 4) == 2 * (128 + 128) * 32 * 2
    # more ranks than KV heads: one head a rank (replicated), never fewer
    assert sglang_cell_bytes(a, "bf16", 16) == 1 * (128 + 128) * 32 * 2


def test_mla_caches_one_latent_row_on_every_rank(kb):
    a = kb.model("deepseek-v3").architecture  # kv_lora_rank 512 + rope 64, 61 layers
    one = (a.kv_lora_rank + a.qk_rope_head_dim) * a.layers * 2
    assert sglang_cell_bytes(a, "bf16", 1) == one
    assert sglang_cell_bytes(a, "bf16", 8) == one  # not split by heads
    # the advisory's KV bytes over 8 GPUs are 8 copies of one rank's
    assert kv_cache_bytes(a, 1000, 1, "fp16", "sglang", 8) == 8 * 1000 * one


def test_weights_and_pool_fill_the_fraction_of_what_is_free_at_start(kb):
    a, g = kb.model("llama-3.1-8b").architecture, kb.gpu("h100-80gb")
    w = weights_bytes(a, parse_precision("bf16"))
    f = 0.8
    n = sglang_max_total_num_tokens(a, g, w, "bf16", 1, 1, f)
    total = sglang_start_free_bytes(g, 1)
    rest = total * f - w
    assert n == int(rest) // sglang_cell_bytes(a, "bf16", 1)
    # the overhead parts make "weights + KV <= f x free" the same test as "everything fits"
    parts = sglang_overhead_parts(g, 1, 1, 1, f)
    kv = n * sglang_cell_bytes(a, "bf16", 1)
    assert w + kv + sum(parts.values()) <= g.usable_memory_bytes
    assert w + kv + sglang_cell_bytes(a, "bf16", 1) * 64 + sum(parts.values()) > g.usable_memory_bytes
    # a larger fraction, a larger pool; weights beyond the fraction, none (SGLang: "Not enough memory")
    assert sglang_max_total_num_tokens(a, g, w, "bf16", 1, 1, 0.9) > n
    assert sglang_max_total_num_tokens(a, g, int(total * 0.95), "bf16", 1, 1, 0.9) <= 0


def test_published_log_qwen3_235b_fp8_on_4_h100():
    """vLLM issue 21348 (https://github.com/vllm-project/vllm/issues/21348, July 2025): SGLang
    serving Qwen/Qwen3-235B-A22B-FP8 with `--tp 4 --mem-fraction-static 0.93` on 4 x H100 logged
    "KV Cache is allocated. #tokens: 367404, K size: 8.23 GB, V size: 8.23 GB". The model here
    gives 395,152 (+7.6%) from the 79.18 GiB the driver reports for an H100 80GB
    (GPU.reported_memory_bytes; 412,166, +12.2%, from the marketed 80 GiB); what SGLang
    allocates besides the weights before it profiles is not counted. Tolerance: 15%."""
    from advisor.kb.store import load_kb

    kb = load_kb()
    a, g = kb.model("qwen3-235b-a22b").architecture, kb.gpu("h100-80gb")
    # the logged cell: 1 KV head a rank x (128 + 128) x 94 layers x 2 bytes = 48,128 bytes,
    # 367,404 of them = 16.47 GiB = K 8.23 + V 8.23 "GB" (SGLang's GB are GiB)
    assert sglang_cell_bytes(a, "bf16", 4) == 48128
    assert abs(367404 * 48128 / 2**30 / 2 - 8.23) < 0.01
    w = weights_bytes(a, parse_precision("fp8"))
    n = sglang_max_total_num_tokens(a, g, -(-w // 4), "bf16", 4, 1, 0.93)
    assert abs(n / 367404 - 1) <= 0.15, n
    # the pool starts from the driver's total: 0.93 x the 0.82 GiB the driver keeps, fewer slots
    marketed = dataclasses.replace(g, reported_memory_bytes=None)
    more = sglang_max_total_num_tokens(a, marketed, -(-w // 4), "bf16", 4, 1, 0.93)
    assert (more - n) * 48128 == pytest.approx(0.93 * (g.memory_bytes - g.driver_total_bytes),
                                               abs=2 * 48128)


def test_driver_total_sets_the_start_free_memory_and_is_an_overhead_part(kb):
    """total_gpu_memory starts from what the driver reports (79.18 GiB on an H100 80GB); the
    rest of the card is its own overhead part, so weights + KV + parts fit the marketed
    memory exactly when weights + KV fit the fraction of the reported one. The default
    fraction keeps reading the card's memory (nvidia-smi's figure on NVIDIA, which the KB
    does not hold): 0.836 at TP 1 on an H100."""
    g = kb.gpu("h100-80gb")
    hidden = g.memory_bytes - g.driver_total_bytes
    assert sglang_start_free_bytes(g, 1) == g.driver_total_bytes - c.RUNTIME_RESERVED_BYTES_PER_GPU
    parts = sglang_overhead_parts(g, 4, 4, 1)
    assert parts["not_reported_by_driver"] == 4 * hidden
    assert "not_reported_by_driver" not in sglang_overhead_parts(kb.gpu("rtx-a6000"), 1)
    assert sglang_mem_fraction(g) == 0.836


def test_a_tp_size_that_does_not_split_the_heads_is_refused(kb):
    a = kb.model("llama-3.1-70b").architecture  # 64 heads, 8 KV heads
    check_sglang_tensor_parallel(a, 8)
    check_sglang_tensor_parallel(a, 16)  # 16 divides 64; KV heads replicated twice
    with pytest.raises(AdvisorError, match="--tp-size 3 does not split the 64 attention heads"):
        check_sglang_tensor_parallel(a, 3)
    with pytest.raises(AdvisorError, match="--tp-size 6"):
        sglang_max_total_num_tokens(a, kb.gpu("h100-80gb"), 10 * c.GIB, "bf16", 6)
    a14 = kb.model("qwen2.5-14b").architecture  # 40 heads, 8 KV heads
    with pytest.raises(AdvisorError):
        check_sglang_tensor_parallel(a14, 16)


def test_where_sglang_runs(kb):
    bf16, fp8, awq = parse_precision("bf16"), parse_precision("fp8"), parse_precision("awq")
    mac = kb.gpu("m3-max-128gb")
    why = cannot_run("sglang", bf16, mac)
    assert why.startswith("SGLang runs on NVIDIA (CUDA) and AMD (ROCm) GPUs, not on Apple GPUs")
    assert not runs_on("sglang", mac)
    assert cannot_run("sglang", bf16, kb.gpu("h100-80gb")) is None
    assert cannot_run("sglang", fp8, kb.gpu("mi300x")) is None  # ROCm, CDNA3
    assert "MI300X" in cannot_run("sglang", bf16, kb.gpu("mi250"))  # CDNA2: not in its ROCm builds
    assert "compute capability 7.5" in cannot_run("sglang", awq, kb.gpu("v100-sxm2-32gb"))
    assert cannot_run("sglang", awq, kb.gpu("t4")) is None
    assert "no FP8 tensor math" in cannot_run("sglang", fp8, kb.gpu("rtx-2080-ti"))
    assert cannot_run("sglang", fp8, kb.gpu("a100-80gb")) is None  # weight-only, as vLLM
    assert "GGUF" in cannot_run("sglang", parse_precision("Q4_K_M"), kb.gpu("h100-80gb"))


def _doc(adv):
    return json.loads(render_json(adv))


def _plans(doc):
    return ([doc["plan"]] if doc["plan"] else []) + doc["plans"]


@pytest.mark.parametrize("model,gpu,gpus,precision,kv", [
    ("llama-3.1-70b", "h100-80gb", 2, None, None),
    ("qwen2.5-7b", "rtx-4090", 1, "awq", "fp8"),
    ("llama-3.1-8b", "mi300x", 1, None, None),
    ("qwen3-32b", "a100-80gb", 1, None, None),
])
def test_one_runtime_an_advisory_and_every_command_parses(advisor, model, gpu, gpus, precision, kv):
    adv = advisor.explain(model, gpu, gpus=gpus, precision=precision, kv_cache=kv, runtime="sglang")
    doc = _doc(adv)
    plans = _plans(doc)
    assert plans
    for p in plans:
        assert p["runtime"] == "sglang", p
        if p.get("command"):
            assert p["command"].startswith("python -m sglang.launch_server --model-path "), p["command"]
            result = check_command(p["command"])
            assert result.runtime == "sglang" and result.ok, (p["command"], result.problems)
    assert doc["workload"]["runtime"] == "sglang" and doc["workload"]["gpu_memory_utilization"] is None
    assert doc["workload"]["mem_fraction_static"] is None  # SGLang's own default
    assert doc["memory"]["breakdown"]["runtime"] == "sglang"


def test_the_memory_table_and_assumptions_speak_sglang(advisor):
    from advisor.render import render_markdown

    md = render_markdown(advisor.explain("llama-3.1-8b", "h100-80gb", runtime="sglang"))
    assert "as SGLang allocates it" in md
    assert "--mem-fraction-static 0.836" in md
    assert "vllm serve" not in md and "llama-server" not in md and "gpu_memory_utilization" not in md
    # speeds: vLLM's step model, labelled as uncalibrated for SGLang
    assert "uncalibrated for SGLang decode and serving" in md


def test_sglang_on_a_mac_says_so_in_one_line(advisor):
    from advisor.render import render_markdown

    md = render_markdown(advisor.explain("llama-3.1-8b", "m3-max-128gb", runtime="sglang"))
    assert "**Verdict: cannot run.** SGLang runs on NVIDIA (CUDA) and AMD (ROCm) GPUs, not on Apple GPUs" in md
    assert "CUDA out of memory" not in md


def test_multi_node_commands_name_the_nodes(advisor):
    adv = advisor.explain("llama-3.1-405b", "h100-80gb", gpus=16, runtime="sglang", precision="fp8")
    plans = [p for p in _plans(_doc(adv)) if p.get("command") and p["nodes"] > 1]
    assert plans
    for p in plans:
        assert "--nnodes 2 --node-rank 0 --dist-init-addr NODE0_IP:50000" in p["command"]
        assert check_command(p["command"]).ok
        assert any("--node-rank 0 on the first and 1" in n for n in p["notes"]), p["notes"]


def test_questions_without_sglang_never_plan_it(advisor):
    for m, g, n in (("llama-3.1-70b", "h100-80gb", 2), ("qwen2.5-7b", "rtx-4090", 1)):
        doc = _doc(advisor.explain(m, g, gpus=n))
        assert all(p["runtime"] != "sglang" for p in _plans(doc))


def test_a_longer_context_than_the_config_carries_the_card_rope_and_the_switch(advisor):
    adv = advisor.explain("qwen3-8b", "h100-80gb", runtime="sglang", context_tokens=131072)
    doc = _doc(adv)
    p = doc["plan"]
    assert "--json-model-override-args" in p["command"] and '"rope_type": "yarn"' in p["command"]
    assert check_command(p["command"]).ok
    assert any("SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1" in n for n in p["notes"])


def test_mem_fraction_static_is_sglangs_and_every_plan_keeps_it():
    from click.testing import CliRunner

    from advisor.cli import main
    from tests.cli_helpers import one_line_error

    r = CliRunner().invoke(main, ["explain", "llama-3.1-70b", "h100-80gb", "--gpus", "2",
                                  "--runtime", "sglang", "--mem-fraction-static", "0.92",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["verdict"] == "fits"  # 0.834 by default does not hold 2 x 70 GB and 8K of KV
    for p in _plans(doc):
        if p.get("command"):
            assert "--mem-fraction-static 0.92" in p["command"] and check_command(p["command"]).ok
    for args, word in ((["--mem-fraction-static", "0.9"], "--runtime sglang"),
                       (["--runtime", "vllm", "--mem-fraction-static", "0.9"], "--runtime sglang"),
                       (["--runtime", "sglang", "--mem-fraction-static", "1.5"], "at most 1"),
                       (["--runtime", "sglang", "--mem-fraction-static", "nan"], "at most 1")):
        r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "h100-80gb", *args])
        one_line_error(r, word)


def test_the_advisory_gives_max_total_num_tokens_as_sglang_would_log_it(advisor, kb):
    from advisor.render import render_markdown

    # 70B bf16 on 2 x H100 at --mem-fraction-static 0.845: a pool of a few hundred slots (at
    # SGLang's default 0.834 the 65.7 GiB of weights a GPU leave none of the 79.18 GiB the driver
    # reports: "Not enough memory")
    work = Workload(runtime="sglang", context_tokens=8192, mem_fraction_static=0.845)
    md = render_markdown(advisor.explain("llama-3.1-70b", "h100-80gb", gpus=2, work=work,
                                         runtime="sglang"))
    m = re.search(r"SGLang's KV pool: max_total_num_tokens ([\d,]+) a GPU", md)
    assert m
    a, g = kb.model("llama-3.1-70b").architecture, kb.gpu("h100-80gb")
    w = weights_bytes(a, parse_precision("bf16"))
    assert int(m.group(1).replace(",", "")) == sglang_max_total_num_tokens(
        a, g, -(-w // 2), "fp16", 2, mem_fraction_static=0.845) > 0
    default = render_markdown(advisor.explain("llama-3.1-70b", "h100-80gb", gpus=2, runtime="sglang"))
    assert "SGLang's KV pool: none" in default
    assert "is shorter than the 8,192 tokens asked" in md  # so the verdict is does-not-fit
    assert "**Verdict: does not fit.**" in md


def test_dp_attention_reserves_what_sglang_reserves(kb):
    h200 = kb.gpu("h200")
    mib = h200.usable_memory_bytes / c.MIB  # < 160 GiB: chunked prefill 8192, 512 graphs at TP 8
    plain = sglang_reserved_mib(mib, 8)
    # 3 MiB a graph batch a DP rank, and 1.5 more above 300 graph batches
    assert sglang_reserved_mib(mib, 8, 1, 8) == plain + 512 * 8 * 3 + 512 * 8 * 1.5
    assert sglang_default_mem_fraction(h200, 8, 1, 8) < sglang_default_mem_fraction(h200, 8)


def test_sglang_data_and_expert_parallel_launch_as_sglang_does(advisor, kb):
    """A MoE model under DP + EP runs DP attention over all the GPUs, the experts expert-parallel
    (`--tp-size 8 --dp-size 8 --enable-dp-attention --ep-size 8`, the DeepSeek/Qwen3 recipes'
    form); a dense model runs DP replicas of GPUS / DP. Both parse against SGLang's flags, and
    the KV pool is per DP rank (attention TP = GPUS / DP)."""
    adv = advisor.explain("qwen3-coder-480b-a35b", "h200", gpus=8, runtime="sglang",
                          precision="fp8", data_parallel=8, expert_parallel=True,
                          context_tokens=262144)
    doc = _doc(adv)
    for p in _plans(doc):
        assert p["runtime"] == "sglang"
        if p.get("command") and p["gpu_count"] == 8:
            assert "--tp-size 8 --dp-size 8 --enable-dp-attention --ep-size 8" in p["command"]
            assert check_command(p["command"]).ok
    a = kb.model("qwen3-coder-480b-a35b").architecture
    # attention TP 1 (8 GPUs / DP 8): every DP rank caches all 8 KV heads
    assert sglang_cell_bytes(a, "bf16", 1) == 8 * 256 * a.layers * 2
    dense = _doc(advisor.explain("llama-3.1-8b", "h100-80gb", gpus=4, runtime="sglang",
                                 data_parallel=2))
    cmd = dense["plan"]["command"]
    assert "--tp-size 2 --dp-size 2 " in cmd and "--enable-dp-attention" not in cmd
    assert check_command(cmd).ok


def test_data_parallel_with_another_runtime_named_is_refused():
    from click.testing import CliRunner

    from advisor.cli import main
    from tests.cli_helpers import one_line_error

    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "h100-80gb", "--gpus", "4",
                                  "--runtime", "llama.cpp", "--data-parallel-size", "2"])
    one_line_error(r, "--runtime vllm or sglang")


def test_a_share_that_leaves_sglang_nothing_outside_its_pool_is_refused(kb):
    """Issue 14: --mem-fraction-static 1 (or 0.99999) was answered "fits". SGLang sizes its pool
    to fill the share and keeps nothing back; its CUDA graphs, attention buffers and prefill
    activations come from the (1 - f) x total left, so at such a share it stops at start. The
    question is refused in one line naming the largest share that leaves room, and that share
    runs."""
    from click.testing import CliRunner

    from advisor.cli import main
    from advisor.sizing.memory import share_problem
    from advisor.sizing.sglang_memory import (sglang_max_mem_fraction, sglang_outside_pool_bytes,
                                              sglang_share_problem)
    from tests.cli_helpers import one_line_error

    base = ["explain", "llama-3.1-8b", "h100-80gb", "--runtime", "sglang"]
    for f in ("1", "0.99999"):
        one_line_error(CliRunner().invoke(main, [*base, "--mem-fraction-static", f]),
                       "outside SGLang's static pool", "use at most", "Capture cuda graph failed")
    a, h100 = kb.model("llama-3.1-8b").architecture, kb.gpu("h100-80gb")
    best = sglang_max_mem_fraction(a, h100)
    # what is left at the largest share holds what SGLang needs there; 0.001 more does not
    total = sglang_start_free_bytes(h100)
    assert (1 - best) * total >= sglang_outside_pool_bytes(a, h100) > (1 - best - 0.001) * total
    assert 0.9 < best < 1 and sglang_share_problem(a, h100, best) is None
    assert sglang_share_problem(a, h100, round(best + 0.001, 3)) is not None
    r = CliRunner().invoke(main, [*base, "--mem-fraction-static", f"{best:g}", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["verdict"] == "fits", r.output
    # no share asked: SGLang's default keeps its own reserve, never refused
    assert sglang_share_problem(a, h100, None) is None
    assert sglang_share_problem(a, h100, sglang_default_mem_fraction(h100)) is None
    # the need follows the card and the model: a share fine on an H100 for 8B is not on a
    # 24 GB card, nor for a 70B model's larger prefill activations (plans on other cards and
    # models are checked the same way: advisor.plans.evaluate)
    work = Workload(runtime="sglang", context_tokens=8192, mem_fraction_static=best)
    assert share_problem(a, h100, 1, work) is None
    assert share_problem(a, kb.gpu("rtx-4090"), 1, work) is not None
    assert share_problem(kb.model("llama-3.1-70b").architecture, h100, 1, work) is not None
    assert share_problem(a, h100, 1, dataclasses.replace(work, runtime="vllm")) is None


def test_a_vllm_share_beyond_what_is_free_at_start_is_refused_too(kb):
    """The same kind of fault under vLLM: --gpu-memory-utilization 1 was answered "fits", but
    V1 reads the free memory once its CUDA context is up and refuses a share larger than that
    ("Free memory on device ... on startup is less than desired GPU memory utilization"). The
    question is refused in one line, also when vLLM is not the question's runtime (every vLLM
    plan keeps the share); the largest share it names runs."""
    from click.testing import CliRunner

    from advisor.cli import main
    from advisor.sizing.vllm_memory import vllm_max_utilization, vllm_utilization_problem
    from tests.cli_helpers import one_line_error

    for args in (["--runtime", "vllm", "--gpu-memory-utilization", "1"],
                 ["--runtime", "vllm", "--gpu-memory-utilization", "0.995"],
                 ["--gpu-memory-utilization", "1"]):
        one_line_error(CliRunner().invoke(main, ["explain", "llama-3.1-8b", "h100-80gb", *args]),
                       "Free memory on device", "use at most 0.99")
    h100 = kb.gpu("h100-80gb")
    assert vllm_utilization_problem(h100, 0.99) is None
    assert vllm_utilization_problem(h100, vllm_max_utilization(h100)) is None  # plans' raised share
    assert vllm_utilization_problem(h100, 1, "0.5") is None  # V0 has no such check
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "h100-80gb", "--runtime", "vllm",
                                  "--gpu-memory-utilization", "0.99", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["verdict"] == "fits", r.output
