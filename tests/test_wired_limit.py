"""macOS's GPU wired-memory limit as a plan lever on Macs you own (advisor.sizing.wired)."""
from __future__ import annotations

import json

import pytest

from advisor.sizing import constants as c
from advisor.sizing.wired import raised_wired_limit_mb, with_wired_limit


@pytest.mark.parametrize("gpu, want", [
    ("m4-pro-24gb", 20 * 1024),     # 24 GiB less 4: default 16 GiB (two thirds)
    ("m4-max-64gb", 56 * 1024),     # less an eighth: default 48 (three quarters)
    ("m3-ultra-512gb", 448 * 1024),
    ("m4-16gb", 12 * 1024),         # default 10.7
    ("m1-8gb", None),               # 4 GiB left is below the default 5.3: nothing to raise
    ("rtx-4090", None), ("h100-80gb", None),
])
def test_the_raised_limit_leaves_an_eighth_and_at_least_4_gib(kb, gpu, want):
    assert raised_wired_limit_mb(kb.gpu(gpu)) == want


def test_every_raised_limit_is_above_the_default_and_below_memory(kb):
    for g in kb.all_gpus():
        mb = raised_wired_limit_mb(g)
        if mb is None:
            continue
        assert g.unified_memory and g.usable_memory_bytes < mb * c.MIB < g.memory_bytes
        raised = with_wired_limit(g, mb)
        assert raised.usable_memory_bytes == mb * c.MIB and raised.id == g.id
        assert with_wired_limit(g, mb) is raised        # one object: plans memoised on it
        assert g.usable_memory_bytes < raised.usable_memory_bytes  # the KB entry is untouched


def test_a_discrete_gpu_has_no_wired_limit(kb):
    with pytest.raises(ValueError):
        with_wired_limit(kb.gpu("rtx-4090"), 20480)


def test_the_tag_runs_on_a_24_gb_mac_with_the_limit_raised(advisor):
    """gemma3:27b (Q4_K_M, 17 GB) does not fit the 16 GiB an M4 Pro 24 GB gives its GPU by
    default; an expert raises the limit rather than pull a 3-bit file: the tag runs as asked."""
    adv = advisor.explain("gemma3:27b", "m4-pro-24gb")
    plan = adv.plan
    assert plan.wired_limit_mb == 20480 and plan.precision.name == "Q4_K_M"
    assert plan.available_bytes == 20 * c.GIB and plan.total_bytes <= plan.available_bytes
    assert "macOS's GPU memory limit to 20,480 MB" in plan.changes
    assert any("sudo sysctl iogpu.wired_limit_mb=20480" in n for n in plan.notes)
    assert plan.to_json()["wired_limit_mb"] == 20480


def test_only_owned_macs_raise_the_limit(advisor):
    for model, gpu in [("qwen2.5-32b", "m4-pro-24gb"), ("llama-3.1-70b", "m4-max-64gb"),
                       ("llama-3.1-70b", "rtx-4090"), ("qwen2.5-72b", "m3-max-64gb")]:
        adv = advisor.explain(model, gpu)
        for p, _ in adv.offered:
            if p.wired_limit_mb is not None:
                assert p.gpu.unified_memory and p.owned and p.path != "rent"
                assert p.total_bytes <= p.wired_limit_mb * c.MIB
            else:
                assert "wired_limit_mb" not in p.to_json()
        assert "wired_limit_mb" not in json.dumps(adv.plan.to_json()) or adv.plan.gpu.unified_memory
