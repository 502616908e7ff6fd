"""Hostile-input findings, eleventh round (issue 14; the findings in full:
/work/notes/hostile11.md): what landed with reasoning models' default context, the KV pool,
driver-reported memory, CPU layers on Macs, plans that keep asked choices and GPU sets. Each
test is one kind of fault the pass found, checked through the command line."""
from __future__ import annotations

import json

from click.testing import CliRunner

from advisor.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


# -- flash attention off, kept by plans, quantizes no V cache -------------------------------------

def test_plans_that_keep_flash_attention_off_use_no_quantized_kv_cache():
    """`explain qwen3-32b rtx-4090 --flash-attn off` (a reasoning model: its 32,768-token
    default) and `explain qwen3:32b rtx-4090 --flash-attn off` ended in a ValueError traceback:
    the plans keep -fa off, and the planner tried q8_0 and q4_0 caches for them, which llama.cpp
    (and Ollama) quantize only with flash attention, so writing the command raised. Plans that
    keep flash attention off try the 16-bit cache only."""
    for model, gpus in (("qwen3-32b", "rtx-4090"), ("qwen3:32b", "rtx-4090"),
                        ("qwen3-32b", "rtx-3090,rtx-3060-12gb"), ("qwen3-32b", "m4-pro-24gb")):
        r = run("explain", model, gpus, "--flash-attn", "off", "--format", "json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        for p in out["plans"]:
            cmd = p.get("command") or ""
            if p["runtime"] == "llama.cpp" and p["owned"]:
                assert "-fa off" in cmd and "-ctv" not in cmd, cmd
            if p["runtime"] == "ollama":
                assert "OLLAMA_KV_CACHE_TYPE" not in json.dumps(p), p
