"""Hostile-input findings, tenth round (issue 14; the findings in full: /work/notes/hostile10.md):
what landed with GPU sets (-ts, fit over sets), SGLang, --vllm-version and the wired-memory
lever on Macs. Each test is one kind of fault the pass found, checked through the command
line."""
from __future__ import annotations

import json

from click.testing import CliRunner

from advisor.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def _asked(out):
    return next(p for p in out["plans"] if p["path"] == "as-asked")


# -- a share asked is the share the command sets --------------------------------------------------

def test_a_share_given_is_printed_as_sized_not_rounded():
    """--gpu-memory-utilization 0.954 was sized at 0.954 (fits at 54,208 tokens) and printed as
    `--gpu-memory-utilization 0.95`, at which the tool itself says the context does not fit: the
    command vLLM would run refuses the asked --max-model-len. SGLang's --mem-fraction-static
    0.99999999 was printed as 1. The command carries the number sized, exactly."""
    base = ("explain", "llama-3.1-8b", "rtx-4090", "--runtime", "vllm", "--format", "json")
    fits = json.loads(run(*base, "--gpu-memory-utilization", "0.954", "-c", "54208").output)
    assert fits["verdict"] in ("fits", "tight")
    assert "--gpu-memory-utilization 0.954" in _asked(fits)["command"]
    # the rounded share would not have held that context: the printed number must not be it
    rounded = json.loads(run(*base, "--gpu-memory-utilization", "0.95", "-c", "54208").output)
    assert rounded["verdict"] == "does-not-fit"
    r = run("explain", "llama-3.1-8b", "h100-80gb", "--runtime", "sglang", "--format", "json",
            "--mem-fraction-static", "0.99999999")
    assert r.exit_code == 0, r.output
    assert _asked(json.loads(r.output))["command"].endswith("--mem-fraction-static 0.99999999")
