"""llama.cpp MoE decode (issue 15 item 2): the published rows of
benchmarks/data/llamacpp_moe_decode.csv within stated tolerances, the fitted constants reproduced
by benchmarks/fit_moe_speed.py, no MoE decode above its bandwidth roofline, and the MoE terms
leaving dense models and other runtimes alone."""
from __future__ import annotations

import dataclasses
import importlib.util
import statistics
from pathlib import Path

import pytest

from advisor.sizing import constants as c
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.speed import (
    decode_roofline_tokens_per_s,
    moe_decode_seconds,
    moe_layers,
)
from advisor.sizing.workload import Workload

ROOT = Path(__file__).resolve().parents[1]


def _fit():
    spec = importlib.util.spec_from_file_location("fit_moe_speed",
                                                  ROOT / "benchmarks" / "fit_moe_speed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_row_says_where_when_and_which_build(kb):
    rows = _fit().moe_rows()
    assert len(rows) >= 15
    assert len({r["gpu"] for r in rows}) >= 5
    for r in rows:
        assert r["source"].startswith("https://") or "https://" in r["source"], r
        assert r["build"] and r["build_date"] and r["runtime"] == "llama.cpp", r
        assert r["era"] in ("current", "2025-01") and r["use"] in ("fit", "era", "check"), r
        assert (r["use"] in ("era", "check")) == (r["era"] != "current"), r
        assert kb.model(r["model"]).architecture.experts_total, r["model"]
        kb.gpu(r["gpu"])
        assert float(r["tokens_per_sec"]) > 0


def test_current_builds_follow_their_rows(kb):
    """Each current-build row within 30% (the RTX 4090's gpt-oss-20b row is the widest, +26%;
    DeepSeek-V2-Lite's MLA rows are within it since the MLA term); median within 10%."""
    fit = _fit()
    errs = []
    for r in fit.moe_rows(use="fit"):
        e = fit.error(kb, r)
        errs.append(abs(e))
        assert abs(e) <= 0.30, (r["gpu"], r["model"], r["test"], e)
    assert statistics.median(errs) <= 0.10


def test_deepseek_r1_iq1_s_on_two_h100_is_a_held_out_check(kb):
    """Issue 15's targets (DeepSeek R1 UD-IQ1_S on 2 x H100, early-2025 builds: 11.89 tok/s in
    unsloth issue 1591, about 14 in unsloth's blog) are never fitted: the era fit sees only the
    other rows, and with it both come out within 40%. The current profile predicts far more:
    those builds ran each routed expert as its own kernels behind a host synchronisation
    (llama.cpp PR 13014 removed it in April 2025)."""
    fit = _fit()
    checks = fit.moe_rows(use="check")
    assert {r["tokens_per_sec"] for r in checks} == {"11.89", "14.0"}
    fitted = fit.moe_rows(use="era") + fit.moe_rows(use="fit")
    assert not any(r["gpu"] == "h100-80gb" and r["model"] == "deepseek-r1" for r in fitted)
    with fit.profile("2025-01", fit.fit(kb, fit.moe_rows(use="era"), "2025-01")):
        for r in checks:
            assert abs(fit.error(kb, r)) <= 0.40, (r["test"], fit.error(kb, r))
            assert fit.predict(kb, r, "current") > 3 * fit.predict(kb, r)


def test_moe_profile_terms_are_never_negative():
    """Every per-layer and per-expert time of every era is a time: never below zero."""
    for era, prof in c.MOE_DECODE_PROFILES.items():
        for k in ("moe_layer_seconds", "routed_expert_seconds", "mla_layer_seconds"):
            assert prof[k] >= 0.0, (era, k)


def test_mla_term_only_for_latent_attention(kb):
    """The MLA time is added for models with kv_lora_rank only, once a layer on the GPUs."""
    r1 = kb.model("deepseek-r1").architecture
    plain = dataclasses.replace(r1, kv_lora_rank=None, q_lora_rank=None, qk_rope_head_dim=None,
                                qk_nope_head_dim=None, v_head_dim=None, mla_per_head_cache=False)
    mla = c.MOE_DECODE_PROFILES["current"]["mla_layer_seconds"]
    assert moe_decode_seconds(r1) - moe_decode_seconds(plain) == pytest.approx(r1.layers * mla)
    assert (moe_decode_seconds(r1, None, 10, 10) - moe_decode_seconds(plain, None, 10, 10)
            == pytest.approx(10 * mla))
    assert moe_decode_seconds(r1, "2025-01") == moe_decode_seconds(plain, "2025-01")


def test_fitted_constants_are_what_the_fit_gives(kb):
    """constants.MOE_DECODE_PROFILES holds benchmarks/fit_moe_speed.py's result (within 2%)."""
    fit = _fit()
    for era, use in (("current", "fit"), ("2025-01", "era")):
        got = fit.fit(kb, fit.moe_rows(use=use), era)
        for k, v in got.items():
            assert v == pytest.approx(c.MOE_DECODE_PROFILES[era][k], rel=0.02), (era, k, v)


def test_no_moe_decode_above_its_roofline(kb):
    """Every MoE model of the KB, on cards of several kinds, one and two GPUs, in every build
    era: never faster than the card's bandwidth over the bytes a token reads."""
    moes = [m for m in kb.all_models() if m.architecture.experts_total]
    assert len(moes) >= 20
    for m in moes:
        for gid in ("rtx-4090", "h100-80gb", "dgx-spark"):
            g = kb.gpu(gid)
            for q in ("Q4_K_M", "IQ1_S"):
                p = parse_precision(q)
                for n in (1, 2):
                    pl = place(m, g, p, Workload(context_tokens=4096), n, detail=False)
                    for era in c.LLAMACPP_ERAS:
                        for ctx in (0, 4096):
                            bytes_ = (pl.decode_bytes_per_token_empty if ctx == 0
                                      else pl.decode_bytes_per_token_full)
                            roof = decode_roofline_tokens_per_s(bytes_, g.bandwidth_gb_s)
                            tps = 1 / pl.decode_seconds_per_token(ctx, era)
                            assert tps <= roof, (m.id, gid, q, n, era, ctx, tps, roof)


def test_moe_terms_leave_dense_models_and_other_runtimes_alone(kb):
    """A dense model has no MoE layers; the 2024-05 profile has no MoE terms, and vLLM's decode
    is its own step model; more routed experts a token cost more time."""
    dense = kb.model("llama-3.1-8b").architecture
    assert moe_layers(dense) == 0
    assert moe_decode_seconds(dense) == 0.0
    r1 = kb.model("deepseek-r1").architecture
    assert moe_layers(r1) == r1.layers - r1.dense_layers == 58
    assert moe_decode_seconds(r1, "2024-05") == 0.0
    assert 0 < moe_decode_seconds(r1) < moe_decode_seconds(r1, "2025-01")
    more = dataclasses.replace(r1, experts_active=16)
    assert moe_decode_seconds(more) > moe_decode_seconds(r1)
    m, g, p = kb.model("qwen3-30b-a3b"), kb.gpu("h100-80gb"), parse_precision("fp8")
    v = place(m, g, p, Workload(runtime="vllm"), 1)
    from advisor.sizing.vllm_speed import vllm_step  # vLLM: its own step model, no llama.cpp term

    assert v.decode_seconds_per_token(0) == vllm_step(g, m.architecture, p, 1, 0).seconds


def test_moe_decode_is_deterministic(kb):
    m, g, p = kb.model("deepseek-r1"), kb.gpu("h100-80gb"), parse_precision("IQ1_S")
    a = place(m, g, p, Workload(), 2, detail=False).decode_seconds_per_token(0)
    b = place(m, g, p, Workload(), 2, detail=False).decode_seconds_per_token(0)
    assert a == b
