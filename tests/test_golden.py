"""Golden advisories, reviewed like code. Regenerate with ADVISOR_UPDATE_GOLDEN=1 pytest."""
import json
from pathlib import Path

import pytest

from advisor.render import render_json, render_markdown
from tests.golden_files import check_golden

GOLDEN = Path(__file__).parent / "golden"
# (model, gpu, precision, context, gpus): each a situation a careful engineer meets.
CASES = [
    ("llama-3.1-8b", "h100-80gb", "fp16", 8192, 1),        # fits easily: vLLM command, headroom
    ("llama-3.1-8b", "rtx-4090", "Q4_K_M", 8192, 1),       # fits: llama.cpp command
    ("llama-3.1-8b", "rtx-4090", "fp16", 65536, 1),        # tight
    ("llama-3.3-70b", "a100-80gb", "fp16", 8192, 1),       # quantize to Q8_0
    ("llama-3.1-70b", "a100-40gb", "fp16", 8192, 1),       # quantize below 4 bits, shard, rent
    ("llama-3.1-70b", "rtx-4090", "Q4_K_M", 8192, 1),      # shard over PCIe, offload
    ("llama-3.1-70b", "rtx-4090", "fp8", 8192, 1),         # FP8 on Ada: no llama.cpp offload
    ("llama-3.1-405b", "a100-40gb", "Q4_K_M", 8192, 1),    # shard in one node
    ("llama-3.1-405b", "a100-40gb", "fp16", 8192, 1),      # several nodes
    ("llama-3.1-405b", "l40s", "Q2_K", 8192, 1),           # nothing lower: shard or rent
    ("llama-3.1-70b", "a100-40gb", "fp16", 8192, 4),       # fits on the 4 GPUs asked for
    ("llama-3.1-8b", "a100-40gb", "fp8", 8192, 1),         # FP8 not native on Ampere
    ("llama-3.1-70b", "mi300x", "fp16", 8192, 1),          # AMD, one card
    ("deepseek-r1", "a100-80gb", "Q4_K_M", 8192, 1),       # MoE with MLA: shard, distilled model
    ("qwen3-30b-a3b", "rtx-4060-ti-16gb", "Q8_0", 8192, 1),  # MoE: experts offloaded to RAM
    ("llama-3.1-8b", "m4-max-64gb", "bf16", 8192, 1),      # Apple unified memory: llama.cpp, no vLLM
    ("llama-3.1-70b", "m3-max-64gb", "Q8_0", 8192, 1),     # Apple, too small at Q8_0
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-x{c[4]}" for c in CASES])
def test_golden(case, advisor):
    m, g, p, ctx, n = case
    adv = advisor.explain(m, g, p, ctx, 1, n)
    check_golden(adv, GOLDEN / (f"{m}__{g}__{p}__{ctx}" + (f"__x{n}" if n > 1 else "")))


def test_published_case_70b_fp16_a100_40gb(advisor):
    d = advisor.explain("llama-3.1-70b", "a100-40gb", "fp16").to_json()
    assert round(d["memory"]["weights_bytes"] / 1e9, 1) == 141.1
    assert d["verdict"] == "does-not-fit"
    kinds = [r["kind"] for r in d["recommendations"]]
    for k in ("quantize", "shard", "rent"):
        assert k in kinds


def test_published_case_405b_q4_a100_40gb(advisor):
    d = advisor.explain("llama-3.1-405b", "a100-40gb", "Q4_K_M").to_json()
    assert 240e9 < d["memory"]["weights_bytes"] < 250e9
    assert d["verdict"] == "does-not-fit"
    shard = next(r for r in d["recommendations"] if r["kind"] == "shard")
    assert shard["gpu_count"] == 8


def test_published_case_33_70b_fp16_a100_80gb(advisor):
    d = advisor.explain("llama-3.3-70b", "a100-80gb", "fp16").to_json()
    assert d["verdict"] == "does-not-fit"
    q = next(r for r in d["recommendations"] if r["kind"] == "quantize")
    assert q["precision"] == "Q8_0"


def test_fit_reads_as_fit(advisor):
    adv = advisor.explain("llama-3.1-8b", "h100-80gb", "fp16")
    d = adv.to_json()
    assert d["verdict"] == "fits" and d["memory"]["headroom_bytes"] > 60e9
    assert d["throughput"]["decode_tokens_per_s"] > 50
    md = render_markdown(adv)
    assert "**Verdict: fits.**" in md and "headroom" in md and "tokens/s" in md


def test_json_contract(advisor):
    d = json.loads(render_json(advisor.explain("llama-3.1-70b", "a100-40gb", "fp16")))
    assert set(d["model"]) >= {"id", "name", "parameters"}
    assert set(d["gpu"]) >= {"id", "name", "memory_bytes", "count"}
    assert set(d["workload"]) >= {"task", "precision", "context_tokens", "batch"}
    assert set(d["memory"]) >= {"weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes",
                                "available_bytes", "headroom_bytes"}
    assert d["verdict"] in ("fits", "tight", "does-not-fit")
    assert all({"kind", "rule"} <= set(r) for r in d["recommendations"])
    assert "decode_tokens_per_s" in d["throughput"]
