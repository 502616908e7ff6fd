"""llama.cpp's memory as the current build allocates it, against the logs measured on an H200:
benchmarks/measured/h200-llamacpp-2026-11-30/memory_logs.txt (llama.cpp 0c1e570, 2026-10-01,
CUDA 13.0, driver 580.159.04; Llama 3.1 8B and 3.2 3B shapes with random weights, Q4_K_M, all
layers on the GPU, -c 8192/32768/131072, -fa on/off). nvidia-smi measured 6,276 MiB for the
8B process at 8,192 tokens with flash attention on."""
from __future__ import annotations

import pytest

from advisor.kb import load_kb
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.memory import memory_parts
from advisor.sizing.precision import parse_precision
from advisor.sizing.runtime import llamacpp_compute_buffer_bytes, llamacpp_compute_phases
from advisor.sizing.workload import Workload

MIB = c.MIB
# (context, flash attention) -> CUDA0 compute buffer MiB, as sched_reserve logs it
COMPUTE_MIB = {(8192, True): 258.50, (32768, True): 258.50, (131072, True): 258.50,
               (8192, False): 564.01, (32768, False): 2148.01, (131072, False): 8484.01}
KV_MIB = {8192: 1024.00, 32768: 4096.00, 131072: 16384.00}
NVIDIA_SMI_PROCESS_MIB = 6276      # 8B Q4_K_M, -c 8192, -fa on


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.mark.parametrize("ctx", sorted(KV_MIB))
def test_kv_cache_is_exact(kb, ctx):
    a = kb.model("llama-3.1-8b").architecture
    assert kv_cache_bytes(a, ctx, 1, "fp16", "llama.cpp") == KV_MIB[ctx] * MIB


@pytest.mark.parametrize("ctx,fa", sorted(COMPUTE_MIB))
def test_compute_buffer_within_a_percent(kb, ctx, fa):
    a = kb.model("llama-3.1-8b").architecture
    got = llamacpp_compute_buffer_bytes(a, ctx, fa) / MIB
    assert got == pytest.approx(COMPUTE_MIB[(ctx, fa)], rel=0.01)


def test_compute_buffer_is_the_largest_phase_not_a_sum(kb):
    a = kb.model("llama-3.1-8b").architecture
    on = llamacpp_compute_phases(a, 131072, True)
    # the f16 mask (128 MiB at 131K cells) does not add to the logits: 258.50 MiB was logged
    assert llamacpp_compute_buffer_bytes(a, 131072, True) == on["output"] < sum(on.values())
    off = llamacpp_compute_phases(a, 8192, False)
    assert llamacpp_compute_buffer_bytes(a, 8192, False) == off["attention"]
    # the scores grow with the context; the output phase does not
    assert llamacpp_compute_phases(a, 32768, False)["attention"] > 3.5 * off["attention"]


def test_gpu_weights_leave_the_token_embedding_in_ram(kb):
    """CPU_Mapped 281.81 MiB (token_embd, Q4_K) and CUDA0 4403.49 MiB of a 4685.30 MiB file."""
    m, g = kb.model("llama-3.1-8b"), kb.gpu("h200")
    p = memory_parts(m, parse_precision("Q4_K_M"), Workload(context_tokens=8192), 1, "nvidia", True, g)
    assert p.weights_bytes / MIB == pytest.approx(4403.49, rel=0.005)
    assert p.breakdown["weights_host_ram"] / MIB == pytest.approx(281.81, rel=0.005)
    assert any("system RAM" in n for n in p.assumptions)
    # other runtimes load the whole file onto the GPU
    v = memory_parts(m, parse_precision("Q4_K_M"), Workload(runtime="vllm"), 1, "nvidia", True, g)
    assert v.weights_bytes == p.weights_bytes + p.breakdown["weights_host_ram"]


def test_tied_embeddings_keep_the_whole_file_on_the_gpu(kb):
    """3B (tied): the output layer is token_embd loaded again on the GPU: 1918.35 MiB there,
    token_embd mapped in RAM as well."""
    m, g = kb.model("llama-3.2-3b"), kb.gpu("h200")
    p = memory_parts(m, parse_precision("Q4_K_M"), Workload(context_tokens=8192), 1, "nvidia", True, g)
    assert p.weights_bytes / MIB == pytest.approx(1918.35, rel=0.005)
    assert p.breakdown["weights_host_ram"] == p.embedding_bytes > 0


@pytest.mark.parametrize("ctx,fa", sorted(COMPUTE_MIB))
def test_total_is_not_under_the_process(kb, ctx, fa):
    """Model + KV + compute + the 598 MiB llama.cpp counts as unaccounted (CUDA context and
    libraries): the total is within 2% of the logged self + unaccounted and never under it by
    more than 1% (an under-estimate is an out-of-memory error for the user)."""
    m, g = kb.model("llama-3.1-8b"), kb.gpu("h200")
    p = memory_parts(m, parse_precision("Q4_K_M"), Workload(context_tokens=ctx, flash_attn=fa),
                     1, "nvidia", True, g)
    logged = 4403.49 + KV_MIB[ctx] + COMPUTE_MIB[(ctx, fa)] + 598
    assert p.total_bytes / MIB == pytest.approx(logged, rel=0.02)
    assert p.total_bytes / MIB >= 0.99 * logged
    if (ctx, fa) == (8192, True):
        assert p.total_bytes / MIB >= 0.99 * NVIDIA_SMI_PROCESS_MIB


def test_device_context_follows_the_gpu(kb):
    from advisor.sizing.runtime import llamacpp_device_context_bytes

    assert llamacpp_device_context_bytes(kb.gpu("h200")) == 598 * MIB
    assert llamacpp_device_context_bytes(kb.gpu("rtx-4090")) == c.RUNTIME_RESERVED_BYTES_PER_GPU
    assert llamacpp_device_context_bytes(None) == c.RUNTIME_RESERVED_BYTES_PER_GPU
