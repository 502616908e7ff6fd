"""vLLM's per-rank memory model (advisor/sizing/vllm_memory.py) against vLLM's own logs.

Calibration points (activation peak and non-torch memory as vLLM prints them, GiB a rank):
llm-d-benchmark's H100 V1 logs,
https://github.com/llm-d/llm-d-benchmark/blob/main/config_explorer/empirical-vllm-memory-results.md
(max-model-len 16000, `vllm serve` defaults on an H100: 8192 batched tokens, 1024 sequences),
and two V0 logs at their own batch sizes.
"""
import pytest

from advisor.sizing.context import max_context_tokens
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.vllm_memory import (VllmBatch, vllm_activation_peak_bytes, vllm_default_batch,
                                        vllm_non_torch_bytes, vllm_rank_overhead)
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


def _max_context(kb, model, gpu, n, prec):
    m, g = kb.model(model), kb.gpu(gpu)
    return max_context_tokens(m, parse_precision(prec), Workload(runtime="vllm"), n,
                              g.usable_memory_bytes * n, fit_margin_bytes(n), gpu=g)


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


@pytest.mark.xfail(strict=True, reason=(
    "vLLM 0.5.3 (V0, July 2024) left 4.77 GiB a rank for KV; its profiler charged about 8.8 GiB "
    "outside weights and KV, which this V1 model (0.55 + 4.95 GiB) does not reproduce: neither "
    "V0 profile (512 chunked tokens, or 131,072 tokens unchunked: ~13 GiB) gives 8.8 GiB"))
def test_405b_fp8_on_eight_h100_as_vllm_0_5_3_reported(kb):
    """https://github.com/vllm-project/vllm/issues/6746: meta-llama/Llama-3.1-405B-Instruct-FP8,
    TP=8 on 8 x H100 80GB, max_model_len 131072: vLLM had KV room for 79,392 tokens."""
    most = _max_context(kb, "llama-3.1-405b", "h100-80gb", 8, "fp8-ffn")
    assert most < 131072
    assert most == pytest.approx(79_392, rel=0.15)
