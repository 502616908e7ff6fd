"""Streaming multiprocessors by architecture (speed.compute_units): Volta and Turing have 8 tensor
cores and 64 FP32 lanes an SM, Ampere and later 4 tensor cores an SM, so their SMs are not the
tensor cores / 4 the code once took (which doubled every Volta and Turing card's SMs)."""
import dataclasses

import pytest

from advisor.sizing import constants as c
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.speed import compute_units, current_decode_rates, effective_bandwidth_gb_s
from advisor.sizing.workload import Workload

# SMs as NVIDIA's whitepapers state them (constants.TENSOR_CORES_PER_SM's sources): Volta V100
# 80, Turing T4 40 and RTX 2080 Ti 68 (TU102) and RTX 2080 46 (TU104), Ampere A100 108 (GA100) and
# RTX 3090 82 (GA102), Ada RTX 4090 128, Hopper H100 SXM5 132, Blackwell RTX 5090 170, Pascal
# Tesla P40 30 (no tensor cores: counted by its 128-lane SMs); and as TechPowerUp's database lists
# them for cards NVIDIA's whitepapers do not tabulate: H100 NVL 132, B200 148, A10G 72; L4 58, the
# SMs its datasheet's 30.3 TFLOPS FP32 at 2,040 MHz implies (kb/gpus/l4.yaml: 60 is the full AD104)
SPEC_SMS = {"v100-sxm2-32gb": 80, "v100-pcie-16gb": 80, "t4": 40, "rtx-2080-ti": 68,
            "rtx-2080": 46, "a100-80gb": 108, "rtx-3090": 82, "rtx-4090": 128, "h100-80gb": 132,
            "rtx-5090": 170, "tesla-p40": 30, "h100-nvl": 132, "b200": 148, "a10g": 72, "l4": 58}
# NVIDIA cards whose KB entry gives no core count, so no SM count (decode is timed by bandwidth
# alone, likely too fast where the SMs would bound it): no source for their cores was found.
# GH200: its GPU is an H100, but no source states its cores; H20: one source states 78 SMs
# (Geekbench), none its cores; B300: sources disagree (148 or 160 SMs); GB200: no source.
WITHOUT_SMS = {"gh200", "h20", "b300", "gb200"}


@pytest.mark.parametrize("gpu_id,sms", sorted(SPEC_SMS.items()))
def test_sm_count_is_the_vendors(kb, gpu_id, sms):
    assert compute_units(kb.gpu(gpu_id)) == sms


def test_every_nvidia_card_has_an_sm_count_but_the_known_few(kb):
    """A new NVIDIA card without core counts would silently lose the SM side of its decode: it
    must be added with them, or named here with the reason."""
    missing = {g.id for g in kb.all_gpus() if g.vendor == "nvidia" and compute_units(g) is None}
    assert missing == WITHOUT_SMS


def test_every_nvidia_card_splits_into_whole_sms_of_its_architecture(kb):
    """Each NVIDIA card with both core counts: its tensor cores and its CUDA cores give the same
    SMs, at 64 FP32 lanes an SM (Volta, Turing, GA100) or 128 (the rest): a KB core count copied
    wrong, or an architecture's tensor cores an SM, would show as another lane count."""
    checked = 0
    for g in kb.all_gpus():
        if g.vendor != "nvidia" or not (g.tensor_cores and g.shader_cores):
            continue
        sms = compute_units(g)
        assert sms and g.tensor_cores == sms * c.TENSOR_CORES_PER_SM[g.architecture], g.id
        assert g.shader_cores / sms in (64, 128), (g.id, g.shader_cores / sms)
        if g.architecture in ("volta", "turing"):
            assert g.shader_cores / sms == 64, g.id
        checked += 1
    assert checked >= 60


def test_cards_without_tensor_cores_are_counted_by_their_lanes(kb):
    """A GTX 16xx (TU116: Turing, 64 lanes an SM, no tensor cores; the GTX 1660 Ti has 1,536 CUDA
    cores in 24 SMs) and a card of an architecture the tables do not know get no count, not a
    guess."""
    gtx = dataclasses.replace(kb.gpu("t4"), id="gtx-1660-ti", tensor_cores=None, shader_cores=1536)
    assert compute_units(gtx) == 24
    unknown = dataclasses.replace(kb.gpu("rtx-4090"), architecture="unknown")
    assert compute_units(unknown) is None


def test_volta_and_turing_decode_is_timed_with_their_real_sms(kb):
    """Halving the SMs that had been counted on Volta and Turing slows their decode where the SMs
    bound it: the May-2024 profile's bytes in flight (what transformers is timed with) and the
    current profile's dot-product rate, which an 8B at IQ2_XS on a V100 now reaches (80 SMs x
    22.8 G weights a second: 1.83 T, below the 0.885 x 900 GB/s its 2.4 bits a weight would
    allow). Ampere and later are unchanged."""
    v100 = kb.gpu("v100-sxm2-32gb")
    nv = c.DECODE_PROFILES["nvidia"]
    assert effective_bandwidth_gb_s(v100) == pytest.approx(
        1 / (1 / (nv["bandwidth_fraction"] * 900) + 1 / (80 * nv["unit_gb_s"])))
    cur = c.DECODE_PROFILES_CURRENT["nvidia"]
    w_rate, kv_rate = current_decode_rates(v100, cur)
    assert w_rate == pytest.approx(80 * cur["weights_per_s_unit"])
    assert kv_rate == pytest.approx(80 * cur["kv_elements_per_s_unit"])

    m, p = kb.model("llama-3.1-8b"), parse_precision("IQ2_XS")

    def tok_s(gpu, era):
        return 1 / place(m, gpu, p, Workload(), 1, detail=False).decode_seconds_per_token(0, era)

    doubled = dataclasses.replace(v100, id="v100-doubled", tensor_cores=1280, shader_cores=10240)
    assert compute_units(doubled) == 160
    for era in ("current", "2024-05"):
        assert tok_s(v100, era) < 0.97 * tok_s(doubled, era), era
    # the T4 at the May-2024 profile: 40 SMs of 48.1 GB/s in series with 320 GB/s
    t4 = kb.gpu("t4")
    assert effective_bandwidth_gb_s(t4) == pytest.approx(1 / (1 / 320 + 1 / (40 * nv["unit_gb_s"])))
