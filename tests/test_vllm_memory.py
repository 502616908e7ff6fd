"""vLLM's per-rank memory model (advisor/sizing/vllm_memory.py) against vLLM's own logs.

Two profiling methods: "v1" (V1 engine, vLLM >= 0.8, the default) and "0.5" (V0 engine of
v0.5.3.post1-0.5.x), each checked against logs of that version.

Calibration points (activation peak and non-torch memory as vLLM prints them, GiB a rank):
llm-d-benchmark's H100 V1 logs,
https://github.com/llm-d/llm-d-benchmark/blob/main/config_explorer/empirical-vllm-memory-results.md
(max-model-len 16000, `vllm serve` defaults on an H100: 8192 batched tokens, 1024 sequences),
and two V0 logs at their own batch sizes.
"""
import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.sizing.context import max_context_tokens
from advisor.sizing.kv_cache import kv_cache_bytes_per_token
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.errors import AdvisorError
from advisor.sizing.runtime import runtime_assumptions
from advisor.sizing.vllm_memory import (VllmBatch, check_vllm_version, unreported_memory_bytes,
                                        vllm_activation_peak_bytes, vllm_default_batch,
                                        vllm_non_torch_bytes, vllm_profile_batch,
                                        vllm_rank_overhead, vllm_v0_batch)
from advisor.sizing.weights import weights_bytes
from advisor.sizing.workload import Workload

GIB = 1 << 30
LLMD = "https://github.com/llm-d/llm-d-benchmark (config_explorer/empirical-vllm-memory-results.md)"

# (model, tensor parallel, batched tokens, sequences, activation peak GiB, tolerance, source)
ACTIVATION = [
    ("llama-3.1-8b", 1, 8192, 1024, 4.76, 0.03, LLMD),
    ("qwen3-0.6b", 1, 8192, 1024, 5.56, 0.03, LLMD),
    ("qwen3-32b", 1, 8192, 1024, 5.64, 0.03, LLMD),
    ("gpt-oss-20b", 1, 8192, 1024, 7.38, 0.03, LLMD),
    ("llama-3.3-70b", 2, 8192, 1024, 4.84, 0.03, LLMD),
    # V0 (v0.6 dev), max_model_len 8192 without chunked prefill: 8192 tokens, 256 sequences
    ("llama-3.1-8b", 1, 8192, 256, 1.26, 0.05, "https://github.com/vllm-project/vllm/pull/10511"),
    # V0 (v0.6.4) on an RTX 3090, max_model_len 20000 and 29000 without chunked prefill:
    # peak_torch_memory 17.06 and 17.98 GiB less 14.99 GiB of weights (the eager forward pass)
    ("llama-3.1-8b", 1, 20000, 256, 2.07, 0.10, "https://github.com/vllm-project/vllm/issues/10517"),
    ("llama-3.1-8b", 1, 29000, 256, 2.99, 0.10, "https://github.com/vllm-project/vllm/issues/10517"),
]


@pytest.mark.parametrize("model,tp,tokens,seqs,measured,tol,source", ACTIVATION,
                         ids=[f"{r[0]}-tp{r[1]}-{r[2]}x{r[3]}" for r in ACTIVATION])
def test_activation_peak_matches_the_log(kb, model, tp, tokens, seqs, measured, tol, source):
    a = kb.model(model).architecture
    got = vllm_activation_peak_bytes(a, tp, VllmBatch(tokens, seqs)) / GIB
    assert got == pytest.approx(measured, rel=tol), source


def test_non_torch_matches_the_v1_logs():
    """llm-d V1 logs: 0.13-0.14 GiB at TP=1, 0.55 GiB a rank at TP=2 (Llama-3.3-70B-FP8)."""
    assert vllm_non_torch_bytes(1) / GIB == pytest.approx(0.13, abs=0.01)
    assert vllm_non_torch_bytes(2) / GIB == pytest.approx(0.55, abs=0.01)


# (model, precision, tensor parallel, weights GiB as logged, available KV GiB as logged)
KV_BUDGET = [("llama-3.1-8b", "bf16", 1, 14.99, 51.38), ("qwen3-0.6b", "bf16", 1, 1.12, 64.45),
             ("qwen3-32b", "bf16", 1, 61.03, 4.45), ("llama-3.3-70b", "fp8", 2, 33.88, 32.00)]


@pytest.mark.parametrize("model,prec,tp,weights,kv", KV_BUDGET, ids=[r[0] for r in KV_BUDGET])
def test_kv_budget_from_the_logged_weights(kb, model, prec, tp, weights, kv):
    """79.18 GiB x 0.9 - weights (as logged) - the model's non-torch and activation peak gives
    the KV memory vLLM logs, within 0.1 GiB (llm-d H100 V1 logs)."""
    a = kb.model(model).architecture
    rank = vllm_rank_overhead(a, tp, vllm_default_batch(kb.gpu("h100-80gb")))
    assert 0.9 * 79.18 - weights - sum(rank.values()) / GIB == pytest.approx(kv, abs=0.1)


def test_weights_of_the_logged_runs(kb):
    """The sizing's own weights are within 1% of what vLLM logged for the llm-d runs."""
    for model, prec, tp, logged, _ in KV_BUDGET:
        w = weights_bytes(kb.model(model).architecture, parse_precision(prec)) / tp / GIB
        assert w == pytest.approx(logged, rel=0.01), model


def test_defaults_follow_the_gpu(kb):
    """vllm/engine/arg_utils.py get_batch_defaults (OPENAI_API_SERVER): >= 70 GiB and not an
    A100: 8192 tokens, 1024 sequences; otherwise 2048 and 256."""
    assert vllm_default_batch(kb.gpu("h100-80gb")) == VllmBatch(8192, 1024)
    assert vllm_default_batch(kb.gpu("a100-80gb")) == VllmBatch(2048, 256)
    assert vllm_default_batch(kb.gpu("rtx-4090")) == VllmBatch(2048, 256)


def _max_context(kb, model, gpu, n, prec, version="v1"):
    """The largest context the tool answers (`explain`'s max_context_tokens): vLLM keeps no fit
    margin beyond its own share (overhead.fit_margin_bytes by runtime), and a card's memory the
    driver does not report is an overhead part (GPU.reported_memory_bytes)."""
    m, g = kb.model(model), kb.gpu(gpu)
    return max_context_tokens(m, parse_precision(prec), Workload(runtime="vllm", vllm_version=version),
                              n, g.usable_memory_bytes * n, fit_margin_bytes(n, "vllm"), gpu=g)


def test_70b_bf16_on_four_a6000_reaches_80k(kb):
    """https://github.com/huggingface/text-generation-inference/issues/2301: Llama 3.1 70B on
    4 x RTX A6000 reached about 80k tokens of context under vLLM."""
    assert _max_context(kb, "llama-3.1-70b", "rtx-a6000", 4, "bf16") >= 72_000


def test_70b_awq_on_two_4090_fits_a_few_thousand_tokens(kb):
    """hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4 is served on two 24 GB cards with
    --tensor-parallel-size 2 at a few thousand tokens: it fits, with a short context."""
    most = _max_context(kb, "llama-3.1-70b", "rtx-4090", 2, "awq")
    assert 2048 <= most < 16384
    pl = place(kb.model("llama-3.1-70b"), kb.gpu("rtx-4090"), parse_precision("awq"),
               Workload(runtime="vllm", context_tokens=2048), 2)
    assert pl.verdict == "fits"


def test_405b_fp8_on_eight_h100_at_v1_defaults(kb):
    """Llama 3.1 405B FP8 (Meta's recipe) on 8 x H100 at `vllm serve`'s V1 defaults: weights
    56.7 GiB, non-torch 0.55 and activation peak 4.95 GiB a rank (the sampler's 1024 x 128256
    logits); the whole 131,072-token context fits in this model."""
    a = kb.model("llama-3.1-405b").architecture
    rank = vllm_rank_overhead(a, 8, vllm_default_batch(kb.gpu("h100-80gb")))
    assert rank["activation_peak"] / GIB == pytest.approx(4.95, abs=0.05)
    assert _max_context(kb, "llama-3.1-405b", "h100-80gb", 8, "fp8-ffn") == 131072


# vLLM 0.5.3 on 8 x H100 (https://github.com/vllm-project/vllm/issues/6746): weights 57.752 GiB a
# rank as logged, KV room for 79,392 tokens (4,962 blocks of 16). The checkpoint then had 16 KV
# heads (Hugging Face fixed it to 8 in August 2024: vLLM issue 6689; SGLang PR 723 overrode it):
# 2 a rank, 129,024 bytes of KV a token a rank.
V053_WEIGHTS_GIB = 57.752
V053_KV_BYTES_PER_TOKEN = 129_024
V053_KV_GIB = 79_392 * V053_KV_BYTES_PER_TOKEN / GIB


def _july_2024_405b(kb):
    """meta-llama/Meta-Llama-3.1-405B-Instruct-FP8 as first published: the 405B with 16 KV heads
    in its config.json (the KB's entry is the repository as fixed, 8)."""
    from dataclasses import replace

    m = kb.model("llama-3.1-405b")
    return replace(m, architecture=replace(m.architecture, kv_heads=16))


def _max_context_of(m, kb, gpu, n, prec, version="v1"):
    g = kb.gpu(gpu)
    return max_context_tokens(m, parse_precision(prec), Workload(runtime="vllm", vllm_version=version),
                              n, g.usable_memory_bytes * n, fit_margin_bytes(n, "vllm"), gpu=g)
H100_CUDA_TOTAL_GIB = 79.18  # total_gpu_memory vLLM logs for an H100 80GB (llm-d logs above)


def test_kb_h100_total_is_the_one_vllm_logs(kb):
    """The KB's driver-reported total for the H100 80GB is the 79.18 GiB vLLM logs (llm-d), and
    vLLM's budget is taken of it, not of the marketed 80 GiB: the other 0.82 GiB a GPU is an
    overhead part of its own."""
    h100 = kb.gpu("h100-80gb")
    assert h100.driver_total_bytes / GIB == pytest.approx(H100_CUDA_TOTAL_GIB, abs=0.005)
    assert h100.usable_memory_bytes - h100.driver_total_bytes == unreported_memory_bytes(h100)
    assert unreported_memory_bytes(h100) / GIB == pytest.approx(0.82, abs=0.01)
    assert unreported_memory_bytes(kb.gpu("rtx-a6000")) == 0  # no sourced total: marketed
    assert unreported_memory_bytes(None) == 0


def test_v0_batch_follows_the_context():
    """V0 (0.5.x) profiles 256 sequences over max(max_model_len, 2048) tokens, or 512 with the
    chunked prefill it turns on above 32K (vllm/config.py SchedulerConfig; PR 6666)."""
    assert vllm_v0_batch(1024) == VllmBatch(2048, 256)
    assert vllm_v0_batch(20000) == VllmBatch(20000, 256)
    assert vllm_v0_batch(32768) == VllmBatch(32768, 256)
    assert vllm_v0_batch(32769) == VllmBatch(512, 256)
    assert vllm_profile_batch(None, 131072, "0.5") == VllmBatch(512, 256)
    assert vllm_profile_batch(None, 131072, "v1") == VllmBatch(2048, 256)


def test_v0_non_torch_grows_with_the_group():
    """V0 counts NCCL's buffers: 0.35 GiB at TP=1 (issue 10517's v0.6.4 logs), 1.79 GiB more at
    TP=2 (PR 10511's log) and 2.43 GiB more at TP=8 (issue 6746, the 16-KV-head checkpoint);
    V1 keeps its own figures."""
    assert vllm_non_torch_bytes(1, "0.5") / GIB == pytest.approx(0.35, abs=0.01)
    assert vllm_non_torch_bytes(2, "0.5") / GIB == pytest.approx(0.35 + 1.79, abs=0.01)
    assert vllm_non_torch_bytes(8, "0.5") / GIB == pytest.approx(0.35 + 2.43, abs=0.01)
    assert vllm_non_torch_bytes(8, "0.5") > vllm_non_torch_bytes(2, "0.5") > vllm_non_torch_bytes(1, "0.5")
    assert vllm_non_torch_bytes(8) == vllm_non_torch_bytes(2)


def test_unknown_vllm_version_is_one_clear_error():
    with pytest.raises(AdvisorError, match="unknown vLLM version '0.4'"):
        check_vllm_version("0.4")


def test_405b_kv_budget_as_vllm_0_5_3_logged(kb):
    """The calibration point of the V0 communication term, kept as a regression check: with the
    weights vLLM 0.5.3 logged, 0.9 x the H100's 79.18 GiB less the 0.5 profile's non-torch and
    activation peak (512 chunked tokens, the driver's sampler over 256 x 128,256 logits) leaves
    the 4.77 GiB of KV it had (https://github.com/vllm-project/vllm/issues/6746)."""
    a = kb.model("llama-3.1-405b").architecture
    rank = vllm_rank_overhead(a, 8, vllm_v0_batch(131072), version="0.5")
    assert rank["activation_peak"] / GIB == pytest.approx(1.19, abs=0.01)
    total = kb.gpu("h100-80gb").driver_total_bytes / GIB  # the KB's reported total, 79.18
    kv = 0.9 * total - V053_WEIGHTS_GIB - sum(rank.values()) / GIB
    assert kv == pytest.approx(V053_KV_GIB, abs=0.05)
    # the checkpoint's 16 KV heads: 2 a rank, and 0.98 GiB of bf16 attention weights a rank
    # more than the 8-head model, which is the weights vLLM logged
    july = _july_2024_405b(kb).architecture
    assert kv_cache_bytes_per_token(july) // 8 == V053_KV_BYTES_PER_TOKEN
    sized = weights_bytes(july, parse_precision("fp8-ffn")) / 8 / GIB
    assert sized == pytest.approx(V053_WEIGHTS_GIB, abs=0.1)


def test_405b_fp8_as_fixed_fits_131072_under_vllm_0_5(kb):
    """With the repository as fixed (8 KV heads, the KB's entry), vLLM's maintainers said the
    405B FP8 launches with default arguments on 8 x H100 (issue 6689, 2024-08-16): the 0.5
    profile holds 131,072 tokens; 8 KV heads hold twice the tokens of 16 in the same memory."""
    assert _max_context(kb, "llama-3.1-405b", "h100-80gb", 8, "fp8-ffn", "0.5") == 131072


def test_each_advisory_names_the_version_it_assumes(kb):
    a = kb.model("llama-3.1-405b").architecture
    h100 = kb.gpu("h100-80gb")
    v1 = runtime_assumptions("vllm", 8, "nvidia", a, h100)
    v0 = runtime_assumptions("vllm", 8, "nvidia", a, h100, vllm_version="0.5", context_tokens=131072)
    assert "V1 engine, releases since 0.8" in v1[0] and "8192 batched tokens" in v1[0]
    assert "0.5.3.post1" in v0[0] and "512 batched tokens" in v0[0] and "chunked prefill" in v0[0]
    assert "non-torch 2.78 GiB" in v0[1]


def test_405b_fp8_on_eight_h100_as_vllm_0_5_3_reported(kb):
    """https://github.com/vllm-project/vllm/issues/6746: meta-llama/Llama-3.1-405B-Instruct-FP8
    as published in July 2024 (16 KV heads), TP=8 on 8 x H100 80GB, max_model_len 131072: vLLM
    had KV room for 79,392 tokens, so 131,072 did not fit."""
    most = _max_context_of(_july_2024_405b(kb), kb, "h100-80gb", 8, "fp8-ffn", "0.5")
    assert most < 131072
    assert most == pytest.approx(79_392, rel=0.15)


def test_cli_sizes_vllm_by_the_version_asked(tmp_path):
    """`explain --vllm-version 0.5` reproduces issue 6746's verdict (131,072 tokens of the July
    2024 405B FP8, 16 KV heads, do not fit on 8 x H100 under vLLM 0.5.3: asked as a user KB
    entry with its config's kv_heads) where the repository as fixed fits them under both
    profiles; the advisory names the version it assumes, and the option is refused for another
    runtime."""
    import yaml

    from tests.file_helpers import REPO

    entry = yaml.safe_load((REPO / "kb" / "models" / "llama-3.1-405b.yaml").read_text())
    entry.update(id="llama-3.1-405b-july-2024", name="Llama 3.1 405B (July 2024 FP8 config)",
                 aliases=[], siblings=[])
    entry["architecture"]["kv_heads"] = 16
    for k in ("published_parameters", "published_parameters_exact"):  # the 8-head count
        entry.pop(k, None)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "llama-3.1-405b-july-2024.yaml").write_text(
        yaml.safe_dump(entry, sort_keys=False))
    args = ["h100-80gb", "--gpus", "8", "--precision", "fp8-ffn", "--runtime", "vllm",
            "--context", "131072", "--format", "json"]
    v1 = CliRunner().invoke(main, ["explain", "llama-3.1-405b", *args])
    v0 = CliRunner().invoke(main, ["explain", "llama-3.1-405b", *args, "--vllm-version", "0.5"])
    july = CliRunner().invoke(main, ["explain", "llama-3.1-405b-july-2024", *args, "--vllm-version",
                                     "0.5", "--kb", str(tmp_path)])
    assert v1.exit_code == 0 and v0.exit_code == 0 and july.exit_code == 0, (
        v1.output, v0.output, july.output)
    j1, j0 = json.loads(v1.output), json.loads(v0.output)
    assert j1["verdict"] == "fits" and j0["verdict"] == "fits"
    assert json.loads(july.output)["verdict"] == "does-not-fit"
    assert "V1 engine, releases since 0.8" in v1.output
    assert "V0 engine as in 0.5.3.post1-0.5.x" in v0.output
    bad = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "--runtime", "llama.cpp",
                                    "--vllm-version", "0.5"])
    assert bad.exit_code == 2 and "--vllm-version" in bad.output


def _gpu_with(kb, gpu_id, **changes):
    """A KB card's entry with fields changed, validated from its mapping as a YAML entry is."""
    from advisor.kb.schema import GPU
    from advisor.kb.validate import dump, validate

    return validate(GPU, {**dump(kb.gpu(gpu_id)), **changes})


@pytest.mark.parametrize("gpu_id,reported,why", [
    ("h100-80gb", 80 * GIB, "must be below memory_bytes"),
    ("h100-80gb", 60 * GIB, "below the 85%"),          # GB read for GiB twice over: refused
    ("m3-max-128gb", 90 * GIB, "an Apple part gives gpu_memory_share"),
    ("dgx-spark", 60 * GIB, "between what is free for the GPU"),
])
def test_reported_memory_is_validated(kb, gpu_id, reported, why):
    """reported_memory_bytes: below the card's memory, at least 85% of it, discrete cards only."""
    from pydantic import ValidationError

    with pytest.raises((ValidationError, ValueError), match=why):
        _gpu_with(kb, gpu_id, reported_memory_bytes=reported)
    if gpu_id == "h100-80gb":  # the same entry with a plausible figure validates
        assert _gpu_with(kb, gpu_id, reported_memory_bytes=int(79.2 * GIB)).driver_total_bytes \
            == int(79.2 * GIB)


def test_reported_memory_needs_a_source(kb):
    from pydantic import ValidationError

    g = kb.gpu("rtx-a6000")
    with pytest.raises((ValidationError, ValueError), match="without a source: reported_memory_bytes"):
        _gpu_with(kb, "rtx-a6000", reported_memory_bytes=int(47.5 * GIB))
    assert g.driver_total_bytes == g.memory_bytes  # unset: the marketed figure


def test_vllm_budgets_from_the_reported_total(kb):
    """A card with a reported total: the same question needs exactly its unreported memory more
    (the overhead part), and the advisory says which total it used; one without says it assumed
    the marketed figure."""
    import dataclasses

    from advisor.sizing.memory import memory_parts

    m, h100 = kb.model("llama-3.1-8b"), kb.gpu("h100-80gb")
    work = Workload(runtime="vllm", context_tokens=8192)
    with_r = memory_parts(m, parse_precision("bf16"), work, 1, gpu=h100)
    without = memory_parts(m, parse_precision("bf16"), work, 1,
                           gpu=dataclasses.replace(h100, reported_memory_bytes=None))
    hidden = h100.memory_bytes - h100.reported_memory_bytes
    assert with_r.breakdown["overhead_not_reported_by_driver"] == hidden
    assert "overhead_not_reported_by_driver" not in without.breakdown
    # the utilization reserve is taken of what vLLM uses, unchanged; the part comes on top
    assert with_r.overhead_bytes - without.overhead_bytes == hidden
    assert any("79.18 GiB the CUDA driver reports" in a for a in with_r.breakdown["assumptions"])
    a6000 = memory_parts(m, parse_precision("bf16"), work, 1, gpu=kb.gpu("rtx-a6000"))
    assert any("does not have for this card" in a and "48.00 GiB are assumed" in a
               for a in a6000.breakdown["assumptions"])
