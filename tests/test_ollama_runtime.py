"""Ollama's runtime profile (advisor/sizing/ollama.py): its default context by VRAM, flash
attention and KV type through its environment variables, and partial offload instead of
out-of-memory (Ollama 0.33 runs llama-server, which fits the layers the GPU holds)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.kb import load_kb
from advisor.sizing.ollama import default_context, flash_attention_default

KB = load_kb()


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("gpu, count, trained, want", [
    ("rtx-3060-12gb", 1, 131072, 4096),      # 12 GiB: under 23
    ("rtx-4090", 1, 131072, 32768),          # 24 GiB: 23-47
    ("rtx-3060-12gb", 2, 131072, 32768),     # 2 x 12 GiB summed
    ("h100-80gb", 1, 131072, 131072),        # 256K tier, capped at the trained context
    ("h100-80gb", 1, 300000, 262144),
    ("rtx-4090", 1, 8192, 8192),             # a short model: its own context
])
def test_default_context_by_vram(gpu, count, trained, want):
    assert default_context(KB.gpu(gpu), count, trained) == want


def test_flash_attention_is_on_for_every_kb_gpu_ollama_supports():
    assert flash_attention_default(KB.gpu("rtx-4090")) and flash_attention_default(KB.gpu("m3-max-128gb"))


def test_an_ollama_name_is_answered_under_ollama_with_its_default_context():
    r = run("explain", "llama3.1:8b", "rtx-4090", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["workload"]["runtime"] == "ollama"
    assert d["workload"]["context_tokens"] == 32768
    assert all(p["runtime"] == "ollama" for p in d["plans"] if p.get("runtime")), d["plans"]


def test_too_big_offloads_instead_of_failing():
    """llama3.1:70b (Q4_K_M, 40 GiB) on a 24 GiB card: Ollama keeps the layers that fit and
    runs the rest from RAM; the same question under llama.cpp with every layer asked does not fit."""
    d = json.loads(run("explain", "llama3.1:70b", "rtx-4090", "--format", "json").output)
    assert d["verdict"] == "fits"
    n = d["workload"]["n_gpu_layers"]
    assert 20 <= n < 80
    ll = json.loads(run("explain", "llama-3.1-70b", "rtx-4090", "--precision", "Q4_K_M",
                        "--context", "32768", "--runtime", "llama.cpp", "-ngl", "all",
                        "--format", "json").output)
    assert ll["verdict"] == "does-not-fit"


def test_a_quantized_kv_cache_needs_flash_attention():
    r = run("explain", "llama3.1:8b", "rtx-4090", "--kv-cache", "q8_0", "--flash-attn", "off")
    assert r.exit_code == 2
    assert "OLLAMA_FLASH_ATTENTION" in r.output and "Traceback" not in r.output
    r = run("explain", "llama3.1:8b", "rtx-4090", "--kv-cache", "fp8")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_runtime_ollama_for_a_kb_model_and_determinism():
    a = run("explain", "qwen2.5-32b", "rtx-4090", "--runtime", "ollama", "--precision", "Q4_K_M")
    b = run("explain", "qwen2.5-32b", "rtx-4090", "--runtime", "ollama", "--precision", "Q4_K_M")
    assert a.exit_code == 0, a.output
    assert a.output == b.output
    assert "CUDA" not in run("explain", "llama3.1:8b", "m3-max-128gb").output


def test_server_settings_are_a_parsed_ollama_serve_line():
    """Several sequences, a longer context and a q8_0 cache: `ollama run NAME` and, first, the
    server started with OLLAMA_NUM_PARALLEL, OLLAMA_CONTEXT_LENGTH, flash attention and the KV
    type; both parse against runtime_flags.yaml."""
    import re

    from advisor.plans.flags import check_command

    d = json.loads(run("explain", "llama3.1:8b", "rtx-3060-12gb", "--batch", "2", "--context", "16384",
                       "--kv-cache", "q8_0", "--format", "json").output)
    plan = d["plan"]
    assert plan["command"] == "ollama run llama3.1:8b"
    serve = [c for n in plan["notes"] for c in re.findall(r"`([^`]*ollama serve)`", n)]
    assert serve == ["OLLAMA_CONTEXT_LENGTH=16384 OLLAMA_NUM_PARALLEL=2 OLLAMA_FLASH_ATTENTION=1 "
                     "OLLAMA_KV_CACHE_TYPE=q8_0 ollama serve"]
    assert check_command(plan["command"]).ok and check_command(serve[0]).ok


def test_a_precision_without_a_known_tag_pulls_the_gguf_from_hugging_face():
    d = json.loads(run("explain", "llama3.1:70b", "h100-80gb", "--precision", "Q8_0", "--format", "json").output)
    assert d["plan"]["command"].startswith("ollama run hf.co/") and d["plan"]["command"].endswith(":Q8_0")


def test_automatic_batch_follows_the_context_and_the_room_left():
    """Ollama's num_batch: 512 at 4K, 1,024 at 32K, 2,048 above where its prediction leaves room,
    one step lower where it does not, and the compute buffer grows with it."""
    from advisor.sizing.ollama import automatic_ubatch
    from advisor.sizing.runtime import llamacpp_compute_buffer_bytes

    a = KB.model("llama-3.1-8b").architecture
    h100, r4090 = KB.gpu("h100-80gb"), KB.gpu("rtx-4090")
    gib = 1 << 30
    assert automatic_ubatch(a, 4096, 5 * gib, r4090, 1, True) == 512
    assert automatic_ubatch(a, 32768, 5 * gib, r4090, 1, True) == 1024
    assert automatic_ubatch(a, 131072, 5 * gib, h100, 1, True) == 2048
    assert automatic_ubatch(a, 131072, 40 * gib, h100, 1, True) == 1024   # over 60%: one step down
    assert automatic_ubatch(a, 32768, 16 * gib, r4090, 1, True) == 512    # over 75%
    assert automatic_ubatch(a, 32768, 5 * gib, r4090, 1, False) == 512    # CUDA without flash attention
    assert (llamacpp_compute_buffer_bytes(a, 131072, True, 2048)
            == 4 * llamacpp_compute_buffer_bytes(a, 131072, True, 512))


def test_a_local_gguf_under_ollama_is_imported_from_a_modelfile(tmp_path):

    from advisor.plans.flags import check_command
    from tests.file_helpers import llama_gguf

    path = tmp_path / "My Model.gguf"
    llama_gguf(path)
    d = json.loads(run("explain", str(path), "rtx-4090", "--runtime", "ollama", "--format", "json").output)
    plan = d["plans"][0] if d["plan"] is None else d["plan"]
    assert plan["command"] == "ollama run my-model", plan
    assert any(f"FROM {path}" in n and "ollama create my-model -f Modelfile" in n for n in plan["notes"])
    assert check_command(plan["command"]).ok
