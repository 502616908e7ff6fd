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


# -- what the help says of a reasoning model's default -----------------------------------------------

def test_the_help_says_a_reasoning_models_default_as_it_is_sized(kb):
    """--context's help in explain, fit, gpus and generate, and generate's index, said a reasoning
    model's default holds "a 512-token prompt and the output its publisher recommends"; since the
    prompt was dropped from the default (R1 and Qwen3 at 32,768, not 40,960), that is not what
    is sized: a user reading it would add nothing for a prompt when there is no room for one."""
    from advisor.sizing.workload import default_context_tokens
    assert default_context_tokens(kb.model("qwen3-32b")) == 32768
    for cmd in ("explain", "fit", "gpus", "generate"):
        r = run(cmd, "--help")
        text = " ".join(r.output.split())
        assert "512-token prompt" not in text and "a prompt and the output" not in text, cmd
        assert "holds the output its publisher recommends" in text, cmd


# -- the bulk index gives no speed for what cannot run --------------------------------------------

def test_the_bulk_index_gives_no_speed_where_the_page_cannot_run(tmp_path):
    """generate's index promises "speed is decode at an empty context at the page's precision,
    when it runs as asked", but its rows for pages that cannot run gave one: fp8 on a T4 (no FP8
    math, 33.0 tokens/s), awq on an M4 Max (57.1), Q4_K_M over 17 RTX 3090s (llama.cpp drives 16,
    36.9), beside the verdict "cannot run". explain leaves its Speed section and JSON throughput
    out there; the index leaves the cell empty."""
    import re
    out = tmp_path / "site"
    r = run("generate", "-o", str(out), "-m", "llama-3.1-8b", "-g", "t4,m4-max-64gb",
            "-p", "fp8,awq,Q4_K_M", "-j", "1")
    assert r.exit_code == 0, r.output
    rows = [line for line in (out / "index.md").read_text().splitlines() if "](llama-3.1-8b/" in line]
    assert len(rows) == 6
    for row in rows:
        speed = row.rstrip(" |").rsplit("|", 1)[1]
        if "| cannot run |" in row:
            assert not re.search(r"\d", speed), row
        else:
            assert "tokens/s" in speed, row
    r = run("generate", "-o", str(tmp_path / "html"), "-m", "llama-3.1-8b", "-g", "t4", "-p", "fp8",
            "-j", "1", "--format", "html")
    assert r.exit_code == 0, r.output
    page = (tmp_path / "html" / "index.html").read_text()
    assert "cannot run" in page and "33.0 tokens/s" not in page


# -- a machine reporting more GPUs than any question takes ------------------------------------------

def test_a_thousand_detected_gpus_are_refused_by_every_command(tmp_path, monkeypatch):
    """With no GPU named, `fit` answered for 1,000 RTX 3090s that a stand-in nvidia-smi reported
    (vLLM over 125 nodes), while `explain` refused them as "--gpus must be at most 512", an
    option the user never gave, and `fit -n 1000` refused too. The detected count is held to
    the limit of a count given, in one line naming where it came from; -n N still asks about N
    of them."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "out").write_text("NVIDIA GeForce RTX 3090, 24576, 8.6\n" * 1000)
    (folder / "nvidia-smi").write_text(f"#!/bin/sh\n/bin/cat '{folder / 'out'}'\n")
    (folder / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("ADVISOR_NO_NVML", "1")
    for args in (("fit",), ("explain", "llama-3.1-8b"),
                 ("generate", "--this-machine", "-o", str(tmp_path / "out"), "-m", "llama-3.1-8b",
                  "-p", "Q4_K_M")):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "detected on this machine" in r.output and "512" in r.output, r.output
        assert "--gpus must" not in r.output
    r = run("fit", "-n", "4", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["count"] == 4


# -- vLLM's settings with an Ollama name ----------------------------------------------------------

def test_vllm_settings_with_an_ollama_name_are_refused_not_dropped():
    """`explain qwen3:32b rtx-4090 --gpu-memory-utilization 0.5` (or --vllm-version 0.5) answered
    as if the option had not been given: an Ollama name is sized as Ollama runs it and every
    plan stays on Ollama, so vLLM's share and profiling sized nothing, without a word (the same
    options with --runtime sglang or llama.cpp are refused). One line, exit 2; the model's id
    with --runtime vllm still takes them."""
    # 0.8: a share that holds Qwen3 32B's weights at 4 bits on a 4090 (0.5 holds none of its
    # formats, which is refused in one line: test_hostile_thirteenth_formats)
    for opt in (("--gpu-memory-utilization", "0.8"), ("--vllm-version", "0.5")):
        for name in ("qwen3:32b", "hf.co/Qwen/Qwen3-32B-GGUF:Q4_K_M"):
            r = run("explain", name, "rtx-4090", *opt)
            assert r.exit_code == 2, r.output
            assert opt[0] in r.output and "Ollama name" in r.output
            assert len(r.output.strip().splitlines()) == 1
        r = run("explain", "qwen3-32b", "rtx-4090", "--runtime", "vllm", *opt, "--format", "json")
        assert r.exit_code == 0, r.output
    out = json.loads(run("explain", "qwen3:32b", "rtx-4090", "--format", "json").output)
    assert {p["runtime"] for p in out["plans"]} == {"ollama"}


# -- a user KB's odd recommended output -----------------------------------------------------------

def _qwen3_with(tmp_path, **fields):
    import yaml
    from tests.file_helpers import REPO
    entry = yaml.safe_load((REPO / "kb" / "models" / "qwen3-32b.yaml").read_text())
    entry.update(fields)
    (tmp_path / "models").mkdir(parents=True, exist_ok=True)
    (tmp_path / "models" / "qwen3-32b.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    return str(tmp_path)


def test_a_recommended_output_of_one_token_is_singular(tmp_path):
    """A user KB entry with recommended_output_tokens: 1 (valid: above 0) read "its publisher
    recommends up to 1 output tokens" (the sixth pass made one token singular elsewhere)."""
    kb = _qwen3_with(tmp_path, recommended_output_tokens=1)
    out = json.loads(run("explain", "qwen3-32b", "h100-80gb", "--kb", kb, "--format", "json").output)
    assert "up to 1 output token," in out["workload"]["context_reason"]
    assert out["workload"]["context_tokens"] == 8192


# -- vLLM's default share on a card too small for it ------------------------------------------------

def _four_gib_card(root):
    import yaml
    from tests.file_helpers import REPO
    e = yaml.safe_load((REPO / "kb" / "gpus" / "rtx-3050.yaml").read_text())
    e.update(id="four-gib", name="Four GiB Card", aliases=[], memory_bytes=4 * 2**30,
             architecture="turing", prices=[])
    for key in ("reported_memory_bytes", "rental", "bf16_tflops", "fp8_tflops"):
        e.pop(key, None)
    for s in e["sources"]:
        s["fields"] = [f for f in s["fields"]
                       if f not in ("rental", "reported_memory_bytes", "bf16_tflops", "fp8_tflops")]
    e["sources"] = [s for s in e["sources"] if s["fields"]]
    (root / "gpus").mkdir(parents=True)
    (root / "gpus" / "four-gib.yaml").write_text(yaml.safe_dump(e, sort_keys=False))
    return str(root)


def test_vllms_default_share_on_a_small_card_is_a_verdict_not_an_option_error(tmp_path):
    """On a 4 GiB card (a GTX 1650, an RTX 3050 laptop, a detected card the KB lacks), vLLM's
    default 0.9 asks more than is free once its CUDA context is up. `explain llama-3.2-1b CARD
    --runtime vllm` (or -p awq, whose runtime is vLLM) exited 2 with "--gpu-memory-utilization
    0.9 asks vLLM for 3.60 GiB ...", an option never given, and no advisory. It is the verdict:
    cannot run, saying it is vLLM's default and which share starts, with plans; a share the user
    gives is still checked in one line."""
    kb = _four_gib_card(tmp_path / "kb")
    for extra in (("--runtime", "vllm"), ("-p", "awq")):
        r = run("explain", "llama-3.2-1b", "four-gib", *extra, "--kb", kb, "--format", "json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["verdict"] == "cannot-run"
        assert out["cannot_run"].startswith("vLLM's default --gpu-memory-utilization 0.9")
        assert out["plan"] is not None
    r = run("explain", "llama-3.2-1b", "four-gib", "--runtime", "vllm", "--kb", kb,
            "--gpu-memory-utilization", "0.95")
    assert r.exit_code == 2 and "--gpu-memory-utilization 0.95 asks vLLM" in r.output
    r = run("explain", "llama-3.2-1b", "four-gib", "--runtime", "vllm", "--kb", kb,
            "--gpu-memory-utilization", "0.8", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["verdict"] != "cannot-run"
