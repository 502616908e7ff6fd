"""vLLM data parallel and expert parallel (--data-parallel-size, --enable-expert-parallel).

The measurement: vllm-project/recipes pull request 12, "[Qwen3-Coder-480B-A35B] update
max-model-len for fp8" (https://github.com/vllm-project/recipes/pull/12), vLLM
v0.10.1.dev101, 8 GPUs of one node, `vllm serve Qwen3-Coder-480B-A35B-Instruct-FP8 -dp=8
--enable-expert-parallel`:

    gpu_memory_utilization 0.9:  "62.00 GiB KV cache is needed, which is larger than the
        available KV cache memory (48.66 GiB) ... the estimated maximum model length is 205728"
    gpu_memory_utilization 0.95: "... available KV cache memory (55.65 GiB) ... 235296"

The author calls the machine "H20 8 nodes"; the recipe it edits serves "on 8xH200 (or H20) GPUs
(141GB x 8)". The two logs say which H20: 0.05 of the card is 55.65 - 48.66 = 6.99 GiB, so the
card has 139.8 GiB, which is what PyTorch reports for the 141 GB (143,771 MiB) HBM3e parts, not
the 96 GB H20 (kb/gpus/h20.yaml, 95.6 GiB). The KB has no entry for the 141 GB H20; the H200
(kb/gpus/h200.yaml, 143,771 MiB) has the same memory and the same vLLM scheduler defaults
(8192 tokens, 1024 sequences on a card of at least 70 GiB), which is all the memory sizing
reads, so it stands in here.

The model is the KB's entry (kb/models/qwen3-coder-480b-a35b.yaml, read from the Hugging Face
config.json of Qwen/Qwen3-Coder-480B-A35B-Instruct; the FP8 checkpoint has the same config) at
fp8.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.plans.flags import check_command
from advisor.sizing.context import max_context_tokens
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.vllm_parallel import (expert_weight_bytes, layout_problem, rank_weight_bytes,
                                          vllm_layout)
from advisor.sizing.workload import Workload

GIB = 2**30
MODEL, GPU = "qwen3-coder-480b-a35b", "h200"
FP8 = parse_precision("fp8")
# (gpu_memory_utilization, largest context vLLM logged)
LOGGED = [(0.9, 205_728), (0.95, 235_296)]


def _work(u: float = 0.9, context: int = 262_144, dp: int = 8, ep: bool = True) -> Workload:
    return Workload(context_tokens=context, runtime="vllm", data_parallel=dp, expert_parallel=ep,
                    gpu_memory_utilization=u)


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("u,logged", LOGGED)
def test_recipe_dp8_ep_does_not_fit_full_context_and_largest_context_matches_the_log(kb, u, logged):
    m, g = kb.model(MODEL), kb.gpu(GPU)
    pl = place(m, g, FP8, _work(u), 8)
    assert pl.verdict == "does-not-fit"
    lay = pl.parts.breakdown["vllm_layout"]
    # each DP rank (TP 1) holds every KV head of its sequence's 262,144 tokens: vLLM's 62.00 GiB
    assert round(lay["per_gpu_kv_cache_bytes"] / GIB, 2) == 62.00
    most = max_context_tokens(m, FP8, _work(u), 8, g.usable_memory_bytes * 8, fit_margin_bytes(8),
                              "fp16", g)
    assert most < 262_144
    assert abs(most - logged) / logged <= 0.15, (most, logged)


def test_layout_what_each_gpu_holds(kb):
    """Attention, dense layers and embeddings a whole copy a DP rank (TP 1 here), the routed
    experts one eighth a GPU: 20 of 160 whole experts with EP, a slice of each without (the same
    bytes, as vLLM flattens DP into the MoE layer's TP)."""
    m = kb.model(MODEL)
    a = m.architecture
    w = place(m, kb.gpu(GPU), FP8, _work(), 8).parts
    lay = w.breakdown["vllm_layout"]
    assert (lay["data_parallel"], lay["tensor_parallel"], lay["expert_shards"],
            lay["experts_per_gpu"]) == (8, 1, 8, 20)
    total = w.embedding_bytes + w.output_bytes + w.layers_bytes
    experts = expert_weight_bytes(a, FP8, total)
    assert 0 < experts < total
    assert lay["per_gpu_replicated_weights_bytes"] == total - experts
    assert lay["per_gpu_expert_weights_bytes"] == -(-experts // 8)
    ep, no_ep = (rank_weight_bytes(vllm_layout(a, 8, 8, e), a, total, experts) for e in (True, False))
    assert ep == no_ep == lay["per_gpu_weights_bytes"]
    # the sum over the GPUs counts the replicated part 8 times
    assert w.weights_bytes == 8 * lay["per_gpu_weights_bytes"] > total
    # DP 2 x TP 4: the replicated part split over 4, experts still over all 8
    lay24 = vllm_layout(a, 8, 2, True)
    assert (lay24.data_parallel, lay24.tensor_parallel, lay24.experts_per_gpu) == (2, 4, 20)
    assert rank_weight_bytes(lay24, a, total, experts) == -(-(total - experts) // 4) + -(-experts // 8)


def test_data_parallel_does_not_lengthen_the_context_but_tensor_parallel_does(kb):
    """Every DP rank must hold max_model_len of KV itself; TP 8 splits one sequence's KV heads
    over 8 GPUs, so the same 8 cards hold a longer context under TP than under DP."""
    m, g = kb.model(MODEL), kb.gpu(GPU)
    room, margin = g.usable_memory_bytes * 8, fit_margin_bytes(8)
    dp = max_context_tokens(m, FP8, _work(), 8, room, margin, "fp16", g)
    tp = max_context_tokens(m, FP8, Workload(context_tokens=262_144, runtime="vllm"), 8, room,
                            margin, "fp16", g)
    assert dp < tp == 262_144
    dp16 = max_context_tokens(m, FP8, _work(dp=16), 16, room * 2, fit_margin_bytes(16), "fp16", g)
    assert dp16 > dp  # 16 GPUs: experts over 16, so more room a rank, the same KV a token


def test_batch_is_spread_over_the_data_parallel_ranks(kb):
    m, g = kb.model(MODEL), kb.gpu(GPU)
    one = place(m, g, FP8, _work(context=8192), 8).parts.breakdown["vllm_layout"]
    eight = place(m, g, FP8, Workload(context_tokens=8192, batch=8, runtime="vllm",
                                      data_parallel=8, expert_parallel=True), 8).parts
    nine = place(m, g, FP8, Workload(context_tokens=8192, batch=9, runtime="vllm",
                                     data_parallel=8, expert_parallel=True), 8).parts
    assert eight.breakdown["vllm_layout"]["sequences_per_data_parallel_rank"] == 1
    assert eight.breakdown["vllm_layout"]["per_gpu_kv_cache_bytes"] == one["per_gpu_kv_cache_bytes"]
    assert nine.breakdown["vllm_layout"]["sequences_per_data_parallel_rank"] == 2


def test_explain_carries_the_flags_and_the_layout_in_json():
    r = run("explain", MODEL, GPU, "--gpus", "8", "--precision", "fp8", "--context", "262144",
            "--data-parallel-size", "8", "--enable-expert-parallel", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["verdict"] == "does-not-fit"
    assert d["workload"]["data_parallel"] == 8 and d["workload"]["expert_parallel"] is True
    assert d["workload"]["gpu_memory_utilization"] == 0.9
    lay = d["placement"]["vllm_layout"]
    assert (lay["data_parallel"], lay["tensor_parallel"], lay["expert_parallel"]) == (8, 1, True)
    assert abs(d["memory"]["max_context_tokens"]["fp16"] - 205_728) / 205_728 <= 0.15
    assert d["plan"] is not None
    for p in d["plans"]:  # every plan keeps the layout asked, and its command says so
        assert p["runtime"] == "vllm" and p["data_parallel"] == 8 and p["expert_parallel"] is True
        assert " --data-parallel-size 8 --enable-expert-parallel " in p["command"]
        assert "--tensor-parallel-size" not in p["command"]
        assert check_command(p["command"]).ok, p["command"]


def test_explain_markdown_states_the_layout_and_the_utilization():
    r = run("explain", MODEL, GPU, "--gpus", "8", "--precision", "fp8", "--context", "200000",
            "--data-parallel-size", "8", "--enable-expert-parallel", "--gpu-memory-utilization",
            "0.95")
    assert r.exit_code == 0, r.output
    assert "Run it as asked" in r.output
    assert ("vllm serve Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8 --data-parallel-size 8 "
            "--enable-expert-parallel --max-model-len 200000 --gpu-memory-utilization 0.95") in r.output
    assert "data parallel 8 × tensor parallel 1" in r.output
    assert "20 of 160 routed experts" in r.output


def test_tensor_parallel_inside_each_data_parallel_rank():
    r = run("explain", MODEL, GPU, "--gpus", "8", "--precision", "fp8", "--data-parallel-size", "2",
            "--enable-expert-parallel", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["placement"]["vllm_layout"]["tensor_parallel"] == 4
    assert ("--tensor-parallel-size 4 --data-parallel-size 2 --enable-expert-parallel"
            in d["plan"]["command"])


@pytest.mark.parametrize("args,words", [
    (("--data-parallel-size", "3"), "--data-parallel-size 3 does not divide --gpus 8"),
    (("--data-parallel-size", "0"), "--data-parallel-size must be at least 1"),
    (("--data-parallel-size", "8", "--runtime", "llama.cpp"), "llama.cpp does not take it"),
    (("--enable-expert-parallel", "--runtime", "transformers"), "transformers does not take it"),
    (("--data-parallel-size", "8", "--task", "finetune"), "applies to inference"),
])
def test_bad_layouts_exit_2_in_one_line(args, words):
    r = run("explain", MODEL, GPU, "--gpus", "8", *args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.output
    assert "Traceback" not in r.output


def test_expert_parallel_needs_experts():
    r = run("explain", "llama-3.1-8b", "h100-80gb", "--gpus", "2", "--enable-expert-parallel")
    assert r.exit_code == 2
    assert "this model has none (dense)" in r.output and len(r.output.strip().splitlines()) == 1


def test_dense_model_data_parallel_replicates_everything(kb):
    m, g = kb.model("llama-3.1-8b"), kb.gpu("h100-80gb")
    bf16 = parse_precision("bf16")
    lay = place(m, g, bf16, Workload(runtime="vllm", data_parallel=2), 2).parts.breakdown["vllm_layout"]
    single = place(m, g, bf16, Workload(runtime="vllm"), 1)
    assert lay["per_gpu_expert_weights_bytes"] == 0
    assert lay["per_gpu_weights_bytes"] == single.weights_bytes


def test_layout_problems_in_words(kb):
    a = kb.model(MODEL).architecture
    assert layout_problem(a, 8, 8, True) is None
    assert "beyond one node" in layout_problem(a, 16, 1, True)
    assert "does not split" in layout_problem(a, 6, 1, False)  # TP 6 over 96 heads, 8 KV heads
    with pytest.raises(AdvisorError):
        vllm_layout(a, 8, 5, True)


def test_plain_question_unchanged(kb):
    """No layout asked: the tensor-parallel sizing and command as before."""
    r = run("explain", MODEL, GPU, "--gpus", "8", "--precision", "fp8", "--format", "json")
    d = json.loads(r.output)
    assert "vllm_layout" not in d["placement"]
    assert d["placement"]["data_parallel"] == 1 and d["placement"]["expert_parallel"] is False
    assert "--data-parallel-size" not in d["plan"]["command"]


@pytest.mark.parametrize("flags", [["--data-parallel-size", "2"], ["--enable-expert-parallel"]])
def test_data_or_expert_parallel_with_vllm_0_5_is_one_line(flags):
    """vLLM 0.5 had neither data nor expert parallelism: asked together, one line and exit 2."""
    from tests.cli_helpers import one_line_error

    r = CliRunner().invoke(main, ["explain", "qwen3-30b-a3b", "h100-80gb", "--gpus", "2",
                                  "--vllm-version", "0.5", *flags])
    one_line_error(r, "--vllm-version 0.5")
