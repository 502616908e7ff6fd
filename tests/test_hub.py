"""Models read from the Hugging Face Hub by repo id (advisor.files.hub), against a stand-in Hub on
127.0.0.1 (tests/hub_standin.py) that HF_ENDPOINT points at: config.json into the Hugging Face
cache, safetensors and GGUF headers by range requests, kept so the same question is answered
offline; gated, missing, config-less repos, a Hub that is down, busy or hostile: one line, exit 2."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.file_helpers import LLAMA_CONFIG, REPO, llama_gguf, llama_safetensors, safetensors_bytes
from tests.hub_standin import File, Repo, StandIn

# meta-llama/Llama-3.1-8B's config.json (https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json)
LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": False, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": True, "vocab_size": 128256}


def virtual_safetensors(tensors: dict) -> File:
    """A safetensors file of `tensors` {name: (dtype, shape)}: its header bytes, claiming the
    size the data would take (the stand-in holds no data)."""
    entries, off = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = 2
        for d in shape:
            n *= d
        entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    header = json.dumps(entries).encode()
    return File(struct.pack("<Q", len(header)) + header, size=8 + len(header) + off)


def llama_31_repo(shards: int = 4) -> Repo:
    """Llama 3.1 8B's config and its 291 BF16 tensors in `shards` safetensors files and an index."""
    ts = llama_safetensors(layers=32, hidden=4096, kv=1024, ffn=14336, vocab=128256)
    names = list(ts)
    per = -(-len(names) // shards)
    files, wmap = {"config.json": File(json.dumps(LLAMA_31_8B).encode())}, {}
    for i in range(shards):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: ts[n] for n in names[i * per:(i + 1) * per]}
        files[fname] = virtual_safetensors(part)
        wmap.update({n: fname for n in part})
    files["model.safetensors.index.json"] = File(json.dumps({"metadata": {}, "weight_map": wmap}).encode())
    files["README.md"] = File(b"# a model\n")
    return Repo(files)


@pytest.fixture
def hub(tmp_path):
    s = StandIn()
    s.url = s.start()
    yield s
    try:
        s.stop()
    except Exception:  # noqa: BLE001 - a test stopped it already
        pass


def env(tmp_path, hub=None, **over) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    e.update(HF_HOME=str(tmp_path / "hf"), ADVISOR_CACHE_DIR=str(tmp_path / "cache"),
             PYTHONPATH=str(REPO), HF_HUB_DISABLE_TELEMETRY="1")
    if hub is not None:
        e["HF_ENDPOINT"] = hub.url
    e.update(over)
    return e


def advisor(e: dict, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor", *args], env=e, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("advisor: error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_llama_shaped_repo_from_the_hub_then_offline(tmp_path, hub):
    hub.repos["someone/renamed-8b"] = llama_31_repo()
    e = env(tmp_path, hub)
    r = advisor(e, "explain", "someone/renamed-8b", "rtx-4090", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["model"]["parameters"] == 8_030_261_248
    assert d["workload"]["precision"] == "bf16"
    weights = sum(2 * __import__("math").prod(s) for _, s in
                  llama_safetensors(layers=32, hidden=4096, kv=1024, ffn=14336, vocab=128256).values())
    assert d["memory"]["weights_bytes"] == weights  # the headers' exact tensors
    # no weights were read: only the headers' first bytes, by range
    gets = [(p, rng) for m, p, rng, _ in hub.log if m == "GET" and p.endswith(".safetensors")]
    assert gets and all(rng and rng.startswith("bytes=") for _, rng in gets)
    # config.json lies in the standard Hugging Face cache, pinned to the commit
    snap = tmp_path / "hf" / "hub" / "models--someone--renamed-8b" / "snapshots" / hub.repos["someone/renamed-8b"].commit
    assert json.loads((snap / "config.json").read_text())["hidden_size"] == 4096

    hub.stop()
    r2 = advisor(env(tmp_path, hub, HF_HUB_OFFLINE="1"), "explain", "someone/renamed-8b", "rtx-4090",
                 "--format", "json")
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == r.stdout  # the same answer, from the caches
