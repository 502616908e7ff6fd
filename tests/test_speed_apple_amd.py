"""The current-build Apple Metal profile and the AMD checks (benchmarks/data/llamacpp_apple_current.csv,
llamacpp_amd_current.csv): invariants, not timings."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from advisor import speed_bands
from advisor.sizing import constants as c
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.speed import (active_weight_bytes, current_decode_rates,
                                  decode_roofline_tokens_per_s)
from advisor.sizing.speed_category import profile_era, speed_category
from advisor.sizing.workload import Workload

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
FILES = ("llamacpp_apple_current.csv", "llamacpp_amd_current.csv")


def _rows(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", FILES)
def test_every_row_says_where_when_and_which_build(name, kb):
    rows = _rows(name)
    assert rows
    for r in rows:
        assert r["source"].startswith("https://github.com/"), r
        assert r["build"] and r["build_date"] and r["measured"] and r["runtime"] == "llama.cpp"
        assert r["use"] in ("fit", "check")
        assert float(r["tokens_per_sec"]) > 0
        kb.gpu(r["gpu"]), kb.model(r["model"])  # both in the KB
        assert (int(r["n_gen"]) > 0) != (int(r["n_prompt"]) > 0)  # a tg or a pp row


def test_amd_rows_are_never_fitted():
    """One AMD card: scored as checks, never fitted, so `amd` cannot be calibrated from them."""
    assert {r["use"] for r in _rows("llamacpp_amd_current.csv")} == {"check"}
    assert "amd" not in c.DECODE_PROFILES_CURRENT and "amd" not in c.PREFILL_PROFILES_CURRENT
    b = speed_bands.band("amd")
    assert not b.calibrated and "never fitted" in b.reason and "rx-7900-xtx" in b.reason


def test_apple_categories_follow_the_current_profile():
    assert profile_era("decode", "llama.cpp", "apple") == "current"
    cat = speed_category("decode", "llama.cpp", "apple", "current", False, False, 1)
    assert cat == "decode-llamacpp-apple"
    b = speed_bands.band(cat)
    assert b.calibrated and b.basis == "leave-one-GPU-out" and b.gpus >= 2
    # four prefill rows: too few for a band, and it says so
    p = speed_bands.band(speed_category("prefill", "llama.cpp", "apple", "current", False, False, 1))
    assert not p.calibrated and p.reason


@pytest.mark.parametrize("gid", ["m1-8gb", "m1-max-64gb", "m2-ultra-192gb", "m3-pro-18gb",
                                 "m4-16gb", "m4-max-128gb", "m3-ultra-512gb"])
@pytest.mark.parametrize("model,prec", [("qwen3-0.6b", "Q8_0"), ("llama-3.1-8b", "Q4_K_M"),
                                        ("llama-3.1-8b", "fp16"), ("llama-3.2-1b", "Q4_0")])
def test_apple_decode_never_above_the_roofline(kb, gid, model, prec):
    """Weights and KV at most at the full bandwidth: every term of the current profile adds time,
    at any context (ALU-bound or not)."""
    g, m, p = kb.gpu(gid), kb.model(model), parse_precision(prec)
    for ctx in (0, 4096, 32768):
        pl = place(m, g, p, Workload(context_tokens=max(ctx, 512)), 1, detail=False)
        layers_b, out_b = active_weight_bytes(m.architecture, p)
        ceiling = decode_roofline_tokens_per_s(layers_b + out_b + pl._kv_bytes_at(ctx),
                                               g.bandwidth_gb_s)
        assert 1 / pl.decode_seconds_per_token(ctx, "current") < ceiling


def test_apple_alu_rate_follows_the_tflops(kb):
    """The ALU side of Apple decode is per FP16 TFLOPS; an M4 Max gets through more quantized
    weights a second than a base M4, and NVIDIA keeps its per-SM rate."""
    cur = c.DECODE_PROFILES_CURRENT["apple"]
    small, big = kb.gpu("m4-16gb"), kb.gpu("m4-max-128gb")
    assert current_decode_rates(big, cur)[0] > current_decode_rates(small, cur)[0] > 0
    assert current_decode_rates(small, cur)[1] is None  # KV read at the bandwidth share only
    w, kv = current_decode_rates(kb.gpu("rtx-4090"), c.DECODE_PROFILES_CURRENT["nvidia"])
    assert w and kv


def test_apple_decode_follows_its_fit_rows(kb):
    """Each fitted Apple decode row within 15% (the fit's worst row is 10.4%)."""
    from benchmarks.speed_accuracy import predict

    rows = [r for r in _rows("llamacpp_apple_current.csv")
            if r["use"] == "fit" and int(r["n_gen"]) > 0]
    assert len(rows) >= 5 and len({r["gpu"] for r in rows}) >= 2
    for r in rows:
        err = predict(kb, r, "current") / float(r["tokens_per_sec"]) - 1
        assert abs(err) <= 0.15, (r["gpu"], r["model"], r["test"], err)
