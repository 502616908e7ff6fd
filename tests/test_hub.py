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

from tests.file_helpers import (
    LLAMA_CONFIG,
    REPO,
    llama_safetensors,
    safetensors_bytes,
)
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
    # the headers' exact tensors: on the GPU all but token_embd, which llama.cpp keeps in RAM
    assert d["memory"]["weights_bytes"] + d["memory"]["breakdown"]["weights_host_ram"] == weights
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


# -- in-process: the same code, the environment set for each test ---------------------------------

@pytest.fixture
def online(tmp_path, monkeypatch, hub):
    """The stand-in Hub as HF_ENDPOINT, fresh Hugging Face and advisor caches, network allowed."""
    import huggingface_hub.constants as hf_constants

    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
              "HF_HUB_CACHE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # read when it was imported
    return hub


def go_offline(monkeypatch, hub):
    import huggingface_hub.constants as hf_constants

    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)


def cli(*args, seconds=60):
    from click.testing import CliRunner

    from advisor.cli import main
    from tests.file_helpers import time_limit

    with time_limit(seconds):
        return CliRunner().invoke(main, [str(a) for a in args])


def error_line(r, *words):
    """Exit 2, one line, no traceback, naming every word."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), r.exception
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def tiny_repo(tmp_path) -> tuple[Repo, Path]:
    """A tiny llama (config and one real safetensors file) as a repo, and as a local folder."""
    folder = tmp_path / "local-tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    (folder / "model.safetensors").write_bytes(safetensors_bytes(llama_safetensors()))
    return Repo({n: File((folder / n).read_bytes()) for n in ("config.json", "model.safetensors")}), folder


def test_hub_model_is_the_local_model(tmp_path, online, kb, monkeypatch):
    from advisor.files import load_path, resolve_model

    online.repos["acme/tiny"], folder = tiny_repo(tmp_path)
    m, prec = resolve_model(kb, "acme/tiny")
    local, local_prec = load_path(folder, label="acme/tiny")
    assert prec == local_prec == "bf16"
    assert m.architecture == local.architecture
    assert m.weights_inventory.tensors == local.weights_inventory.tensors
    assert m.weights_inventory.total_bytes == local.weights_inventory.total_bytes
    # one safetensors file: its header by range; the other answers are the Hub's API and config
    assert [r for _, p, r, _ in online.log if p.endswith("model.safetensors") and r] == ["bytes=0-100000"]
    n = len(online.log)
    assert resolve_model(kb, "acme/tiny")[0].weights_inventory.tensors == m.weights_inventory.tensors
    assert len(online.log) == n  # the second time from the caches: no request
    go_offline(monkeypatch, online)
    assert resolve_model(kb, "acme/tiny")[0].weights_inventory.tensors == m.weights_inventory.tensors


def test_gguf_quant_by_range_requests_then_offline(tmp_path, online, kb, monkeypatch):
    from advisor.files import hub, load_path, resolve_model
    from tests.test_files import write_gguf

    local = tmp_path / "local"
    local.mkdir()
    write_gguf(local / "tiny-Q4_K_M.gguf")
    write_gguf(local / "tiny-F16.gguf", ftype="F16")
    files = {p.name: File(p.read_bytes()) for p in local.iterdir()}
    files["mmproj-tiny-Q4_K_M.gguf"] = files["tiny-F16.gguf"]  # a vision projector: never picked
    files["README.md"] = File(b"# GGUF\n")
    online.repos["acme/tiny-GGUF"] = Repo(files)
    monkeypatch.setattr(hub, "BLOCK", 512)  # a header of several blocks
    m, prec = resolve_model(kb, "acme/tiny-GGUF:q4_k_m")
    want, want_prec = load_path(local / "tiny-Q4_K_M.gguf")
    assert prec == want_prec == "Q4_K_M"
    assert m.architecture == want.architecture
    assert m.weights_inventory.tensors == want.weights_inventory.tensors
    gets = [(p, r) for m_, p, r, _ in online.log if m_ == "GET" and p.endswith(".gguf")]
    assert len(gets) > 1 and all(p.endswith("/tiny-Q4_K_M.gguf") and r for p, r in gets)
    size = len(files["tiny-Q4_K_M.gguf"].data)
    assert len(gets) * 512 < size  # the header's blocks, not the tensor data
    f16, _ = resolve_model(kb, "acme/tiny-GGUF:F16")
    assert f16.weights_inventory.total_bytes > m.weights_inventory.total_bytes
    go_offline(monkeypatch, online)
    again, prec2 = resolve_model(kb, "acme/tiny-GGUF:Q4_K_M")
    assert prec2 == "Q4_K_M" and again.weights_inventory.tensors == m.weights_inventory.tensors
    with pytest.raises(Exception, match="HF_HUB_OFFLINE is set"):
        resolve_model(kb, "acme/tiny-GGUF:Q8_0")


def test_sizes_from_head_when_the_list_lacks_them(tmp_path, online, kb):
    from advisor.files import load_path, resolve_model
    from tests.test_files import write_gguf

    online.list_sizes = False
    online.repos["acme/tiny"], folder = tiny_repo(tmp_path)
    write_gguf(tmp_path / "t-Q4_K_M.gguf")
    online.repos["acme/t-GGUF"] = Repo({"t-Q4_K_M.gguf": File((tmp_path / "t-Q4_K_M.gguf").read_bytes())})
    m, _ = resolve_model(kb, "acme/tiny")
    assert m.weights_inventory.tensors == load_path(folder)[0].weights_inventory.tensors
    g, prec = resolve_model(kb, "acme/t-GGUF:Q4_K_M")
    assert prec == "Q4_K_M"
    assert g.weights_inventory.tensors == load_path(tmp_path / "t-Q4_K_M.gguf")[0].weights_inventory.tensors
    assert ("HEAD", "/acme/t-GGUF/resolve/" + Repo({}).commit + "/t-Q4_K_M.gguf") in \
        [(m_, p) for m_, p, *_ in online.log]


def test_split_gguf_from_the_hub(tmp_path, online, kb, monkeypatch):
    from advisor.files import load_path, resolve_model
    from tests.test_files import write_gguf

    local = tmp_path / "split"
    local.mkdir()
    write_gguf(local / "tiny-F16.gguf", ftype="F16", split_max_tensors=12)
    parts = sorted(local.glob("*.gguf"))
    assert len(parts) > 2
    online.repos["acme/split-GGUF"] = Repo({f"F16/{p.name}": File(p.read_bytes()) for p in parts})
    m, prec = resolve_model(kb, "acme/split-GGUF:F16")
    want, want_prec = load_path(parts[0])
    assert prec == want_prec == "fp16"
    assert m.weights_inventory.tensors == want.weights_inventory.tensors
    assert {p.rsplit("/", 1)[-1] for m_, p, *_ in online.log if m_ == "GET" and p.endswith(".gguf")} \
        == {p.name for p in parts}
    go_offline(monkeypatch, online)
    assert resolve_model(kb, "acme/split-GGUF:F16")[0].weights_inventory.tensors == m.weights_inventory.tensors


def test_pick_gguf():
    from advisor.errors import AdvisorError
    from advisor.files.hub import pick_gguf

    names = ["m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m-Q4_K.gguf", "mmproj-m-f16.gguf", "m-f16.gguf",
             "Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf", "IQ2/m-IQ2_M-00001-of-00002.gguf"]
    assert pick_gguf(names, "q4_k_m", "r") == ["m-Q4_K_M.gguf"]
    assert pick_gguf(names, "Q4_K", "r") == ["m-Q4_K.gguf"]  # between separators wins
    assert pick_gguf(names, "F16", "r") == ["m-f16.gguf"]  # not the projector
    assert pick_gguf(names, "Q8_0", "r") == ["Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf"]
    with pytest.raises(AdvisorError, match="has no GGUF file named like 'Q6_K'"):
        pick_gguf(names, "Q6_K", "r")
    with pytest.raises(AdvisorError, match="2 GGUF models .* named like 'Q4_K_'"):
        pick_gguf(names, "Q4_K_", "r")
    with pytest.raises(AdvisorError, match="lacks 1 of its 2 parts"):
        pick_gguf(names, "IQ2_M", "r")


def test_gated_repo_needs_the_token(tmp_path, online, monkeypatch):
    repo, _ = tiny_repo(tmp_path)
    repo.gated_token = "hf_secret"
    online.repos["acme/gated"] = repo
    error_line(cli("explain", "acme/gated", "rtx-4090"), "'acme/gated' is a gated repo", "401",
               "HF_TOKEN")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    r = cli("explain", "acme/gated", "rtx-4090", "--format", "json")
    assert r.exit_code == 0, r.output
    assert ("Bearer hf_secret" in {a for *_, a in online.log if a})


def test_missing_repo_no_config_no_network_offline(tmp_path, online, monkeypatch):
    line = error_line(cli("explain", "acme/absent", "rtx-4090"), "unknown model 'acme/absent'",
                      "has no model repo 'acme/absent'", "404")
    assert "HF_TOKEN" in line  # a private repo answers 404 too
    online.repos["acme/only-gguf"] = Repo({"README.md": File(b"x"), "m-Q4_K_M.gguf": File(b"GGUF")})
    error_line(cli("explain", "acme/only-gguf", "rtx-4090"), "has no config.json: a GGUF repo",
               "acme/only-gguf:Q4_K_M")
    online.repos["acme/no-files"] = Repo({"README.md": File(b"x")})
    error_line(cli("kb", "add", "--from", "acme/no-files", "--out", tmp_path / "kb"),
               "has no config.json", "not a transformers model repo")
    error_line(cli("explain", "acme/no-files:Q4_K_M", "rtx-4090"), "no GGUF file named like 'Q4_K_M'")
    online.stop()  # nothing listens there now
    error_line(cli("explain", "acme/absent", "rtx-4090"), "unknown model 'acme/absent'",
               f"the Hugging Face Hub at {online.url} cannot be reached")
    error_line(cli("kb", "add", "--from", "acme/absent"), f"cannot reach the Hugging Face Hub at {online.url}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    error_line(cli("explain", "acme/absent", "rtx-4090"), "unknown model 'acme/absent'",
               "nor is it in the local Hugging Face cache", "HF_HUB_OFFLINE is set")
    error_line(cli("explain", "acme/absent-GGUF:Q4_K_M", "rtx-4090"),
               "'acme/absent-GGUF' with a GGUF file named like 'Q4_K_M' is not in the local")


def test_busy_hub_is_not_waited_for(tmp_path, online):
    import time

    online.repos["acme/tiny"], _ = tiny_repo(tmp_path)
    online.status = 503  # with Retry-After: 3600, which huggingface_hub would sleep for
    t = time.monotonic()
    error_line(cli("explain", "acme/tiny", "rtx-4090", seconds=30), "answered 503", "busy")
    assert time.monotonic() - t < 20 and len(online.log) == 1


def test_hostile_hub_is_bounded(tmp_path, online, monkeypatch):
    from advisor.files import hub_session

    online.repos["acme/tiny"], _ = tiny_repo(tmp_path)
    online.endless = True  # config.json's body never ends
    monkeypatch.setattr(hub_session, "MAX_HUB_BYTES", 4 << 20)
    error_line(cli("explain", "acme/tiny", "rtx-4090", seconds=60), "sent more than 4,194,304 bytes")
    assert not list((tmp_path / "hf").rglob("config.json"))  # nothing half-written is kept
    online.endless, online.drip = False, 0.2  # a byte every 0.2 s: no read times out
    monkeypatch.setattr(hub_session, "HUB_DEADLINE_S", 3.0)
    error_line(cli("explain", "acme/tiny", "rtx-4090", seconds=60), "took longer than 3 s")
    online.drip = 0.0
    monkeypatch.setattr(hub_session, "MAX_HUB_REQUESTS", 2)
    error_line(cli("explain", "acme/tiny", "rtx-4090", seconds=60), "more than 2 requests")


def test_cached_config_without_weights(tmp_path, online, kb, monkeypatch):
    """A snapshot that holds config.json alone: online, the Hub gives the headers; when the Hub
    cannot answer, the config alone sizes the model (as it did before the Hub was read)."""
    from advisor.files import resolve_model

    online.repos["acme/tiny"], _ = tiny_repo(tmp_path)
    monkeypatch.setenv("ADVISOR_NO_HUB_CACHE", "1")  # nothing kept but config.json
    assert resolve_model(kb, "acme/tiny")[0].weights_inventory is not None
    assert resolve_model(kb, "acme/tiny")[0].weights_inventory is not None  # fetched again
    assert len([p for m, p, *_ in online.log if m == "GET" and p.startswith("/api/")]) == 2
    online.stop()
    m, prec = resolve_model(kb, "acme/tiny")
    assert m.weights_inventory is None and prec == "bf16" and m.architecture.hidden_size == 64


def test_tampered_cache_is_not_believed(tmp_path, online, kb, monkeypatch):
    from advisor.files import resolve_model

    online.repos["acme/tiny"], _ = tiny_repo(tmp_path)
    resolve_model(kb, "acme/tiny")
    blobs = list((tmp_path / "cache" / "hub" / "blobs").iterdir())
    assert len(blobs) == 1
    blobs[0].write_bytes(blobs[0].read_bytes().replace(b'"BF16"', b'"F32" '))
    go_offline(monkeypatch, online)
    m, prec = resolve_model(kb, "acme/tiny")  # a snapshot without its header: config alone
    assert m.weights_inventory is None and prec == "bf16"


def test_kb_add_from_a_hub_repo(tmp_path, online):
    import yaml

    online.repos["acme/Tiny-Llama"], _ = tiny_repo(tmp_path)
    r = cli("kb", "add", "--from", "acme/Tiny-Llama", "--out", tmp_path / "kb")
    assert r.exit_code == 0, r.output
    entry = yaml.safe_load((tmp_path / "kb" / "models" / "tiny-llama.yaml").read_text())
    commit = online.repos["acme/Tiny-Llama"].commit
    assert entry["architecture"]["hidden_size"] == 64
    assert entry["sources"][0]["source"] == f"{online.url}/acme/Tiny-Llama/blob/{commit}/config.json"
    assert [p for m, p, *_ in online.log if m == "GET" and "safetensors" in p] == []


def test_a_hub_config_with_yarn_reaches_original_times_factor(tmp_path, online):
    """Issue 14: a Qwen2.5-shaped repo whose config.json declares YaRN (factor 4 over 32,768
    positions) was refused at -c 131,072. From the Hub, as from a local file, the context
    reaches original x factor and the vLLM command carries the scaling, under the repo id."""
    from tests.test_config_rope_scaling import QWEN_YARN

    online.repos["acme/qwen-yarn"] = Repo({"config.json": File(json.dumps(QWEN_YARN).encode())})
    r = cli("explain", "acme/qwen-yarn", "rtx-4090", "-c", 131072, "--runtime", "vllm")
    assert r.exit_code == 0, r.output
    assert "YaRN rope scaling, factor 4 over 32,768 positions" in r.output
    assert "the positions past 32,768 are YaRN-scaled" in r.output
    # the same model without the scaling stops at its 32,768 positions
    plain = {k: v for k, v in QWEN_YARN.items() if k != "rope_scaling"}
    online.repos["acme/qwen-plain"] = Repo({"config.json": File(json.dumps(plain).encode())})
    error_line(cli("explain", "acme/qwen-plain", "rtx-4090", "-c", 131072), "32,768")
    error_line(cli("explain", "acme/qwen-yarn", "rtx-4090", "-c", 262144), "131,072")
