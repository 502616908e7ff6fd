"""Models read from files: GGUF (single and split), Hugging Face config + safetensors, the local
Hugging Face cache; truncated, corrupt and hostile files fail with one clear error."""
import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, LlamaFileType

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.files import load_path, resolve_model
from advisor.files.gguf_file import read_gguf, read_header
from advisor.files.safetensors_file import read_safetensors
from advisor.sizing.memory import memory_parts
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import weights_bytes
from advisor.sizing.workload import Workload

H, FF, V, L, HEADS, KV = 256, 512, 1000, 4, 8, 2
HD = H // HEADS


def _quant(rng, rows, cols, qtype):
    block, size = GGML_QUANT_SIZES[qtype]
    return rng.integers(0, 255, size=(rows, cols // block * size), dtype=np.uint8)


def write_gguf(path, ftype="Q4_K", split_max_tensors=0, tied=False):
    """A small llama-architecture GGUF; returns {name: data bytes written}."""
    rng = np.random.default_rng(0)
    w = GGUFWriter(path, "llama", split_max_tensors=split_max_tensors)
    w.add_block_count(L)
    w.add_context_length(4096)
    w.add_embedding_length(H)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_name("Tiny Llama Test")
    w.add_file_type(LlamaFileType.MOSTLY_Q4_K_M if ftype == "Q4_K" else LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(V)])
    q = getattr(GGMLQuantizationType, ftype)
    sizes = {}

    def mat(name, rows, cols, qtype=q):
        if qtype == GGMLQuantizationType.F16:
            data = rng.standard_normal((rows, cols)).astype(np.float16)
            w.add_tensor(name, data)
        else:
            data = _quant(rng, rows, cols, qtype)
            w.add_tensor(name, data, raw_dtype=qtype)
        sizes[name] = data.nbytes

    def vec(name, n):
        data = np.ones(n, dtype=np.float32)
        w.add_tensor(name, data)
        sizes[name] = data.nbytes

    mat("token_embd.weight", V, H)
    for i in range(L):
        mat(f"blk.{i}.attn_q.weight", H, H)
        mat(f"blk.{i}.attn_k.weight", KV * HD, H)
        mat(f"blk.{i}.attn_v.weight", KV * HD, H, GGMLQuantizationType.Q6_K if ftype == "Q4_K" else q)
        mat(f"blk.{i}.attn_output.weight", H, H)
        mat(f"blk.{i}.ffn_gate.weight", FF, H)
        mat(f"blk.{i}.ffn_up.weight", FF, H)
        mat(f"blk.{i}.ffn_down.weight", H, FF)
        vec(f"blk.{i}.attn_norm.weight", H)
        vec(f"blk.{i}.ffn_norm.weight", H)
    vec("output_norm.weight", H)
    if not tied:
        mat("output.weight", V, H, GGMLQuantizationType.Q6_K if ftype == "Q4_K" else q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return sizes


def test_gguf_bytes_equal_tensor_data(tmp_path):
    p = tmp_path / "tiny.gguf"
    sizes = write_gguf(p)
    h = read_gguf(p)
    assert {t.name: t.nbytes for t in h.tensors} == sizes
    ref = GGUFReader(p)  # the gguf package's own reader agrees, tensor by tensor
    assert {t.name: int(t.n_bytes) for t in ref.tensors} == sizes
    types = {t.name: t.dtype for t in h.tensors}
    assert types["blk.0.attn_v.weight"] == "Q6_K" and types["blk.0.attn_q.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"


def test_gguf_model_and_memory_use_exact_tensors(tmp_path):
    p = tmp_path / "tiny.gguf"
    sizes = write_gguf(p)
    m, prec = load_path(p)
    a = m.architecture
    assert prec == "Q4_K_M"
    assert (a.layers, a.hidden_size, a.kv_heads, a.head_dim, a.vocab_size) == (L, H, KV, HD, V)
    assert not a.tied_embeddings and m.name == "Tiny Llama Test"
    parts = memory_parts(m, parse_precision(prec), Workload(context_tokens=1024))
    # llama.cpp keeps token_embd (an untied input layer) in system RAM: the GPU holds the rest
    assert parts.exact_weights and parts.weights_bytes == sum(sizes.values()) - sizes["token_embd.weight"]
    assert parts.breakdown["weights_host_ram"] == parts.embedding_bytes == sizes["token_embd.weight"]
    assert parts.breakdown["weights_source"] == "file"
    # another precision: sized from the architecture the file describes
    other = memory_parts(m, parse_precision("Q8_0"), Workload(context_tokens=1024))
    assert not other.exact_weights
    assert other.weights_bytes + other.embedding_bytes == weights_bytes(a, parse_precision("Q8_0"))


def test_split_gguf_is_read_whole(tmp_path):
    p = tmp_path / "tiny.gguf"
    sizes = write_gguf(p, ftype="F16", split_max_tensors=12)
    parts = sorted(tmp_path.glob("*.gguf"))
    assert len(parts) > 2 and "-00001-of-" in parts[0].name
    for part in (parts[0], parts[-1]):  # any part names the whole model
        h = read_gguf(part)
        assert {t.name: t.nbytes for t in h.tensors} == sizes
    m, prec = load_path(parts[1])
    assert prec == "fp16"
    parts[-1].unlink()
    with pytest.raises(AdvisorError, match="missing 1 of"):
        read_gguf(parts[0])


def test_tied_gguf(tmp_path):
    p = tmp_path / "tied.gguf"
    write_gguf(p, tied=True)
    m, _ = load_path(p)
    assert m.architecture.tied_embeddings


def _one_line_error(fn, *args, match=None):
    with pytest.raises(AdvisorError) as e:
        fn(*args)
    msg = str(e.value)
    assert "\n" not in msg
    if match:
        assert match in msg, msg
    return msg


def test_truncated_gguf(tmp_path):
    p = tmp_path / "tiny.gguf"
    write_gguf(p)
    data = p.read_bytes()
    for cut in (3, 20, 200, len(data) // 2, len(data) - 40):  # the last 16 bytes are padding
        t = tmp_path / f"cut{cut}.gguf"
        t.write_bytes(data[:cut])
        _one_line_error(read_header, t)
    (tmp_path / "x.gguf").write_bytes(b"GGML" + data[4:])
    _one_line_error(read_header, tmp_path / "x.gguf", match="no GGUF magic")


def _header(n_tensors, n_kv, body=b""):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + body


def test_hostile_gguf_headers(tmp_path):
    p = tmp_path / "h.gguf"
    p.write_bytes(_header(10**9, 0) + b"\0" * 64)
    _one_line_error(read_header, p, match="limits")
    p.write_bytes(_header(1000, 0) + b"\0" * 64)
    _one_line_error(read_header, p, match="more than a")
    key = b"general.name"
    huge_string = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 1 << 60)
    p.write_bytes(_header(0, 1, huge_string) + b"\0" * 64)
    _one_line_error(read_header, p, match="claims")
    huge_array = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, 1 << 40)
    p.write_bytes(_header(0, 1, huge_array) + b"\0" * 64)
    _one_line_error(read_header, p, match="more than the file holds")
    name = b"w"
    big_tensor = struct.pack("<Q", 1) + name + struct.pack("<I", 2) + struct.pack("<QQ", 1 << 40, 1 << 40) \
        + struct.pack("<IQ", 0, 0)
    p.write_bytes(_header(1, 0, big_tensor) + b"\0" * 64)
    _one_line_error(read_header, p, match="larger than the file")
    bad_dims = struct.pack("<Q", 1) + name + struct.pack("<I", 9)
    p.write_bytes(_header(1, 0, bad_dims) + b"\0" * 64)
    _one_line_error(read_header, p, match="dimensions")


def write_safetensors(path, tensors: dict, metadata=None):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        b = arr.tobytes()
        dt = {np.dtype("float16"): "F16", np.dtype("float32"): "F32", np.dtype("int32"): "I32",
              np.dtype("uint8"): "U8"}[arr.dtype]
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


LLAMA_CONFIG = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
                "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
                "vocab_size": 100, "max_position_embeddings": 2048, "tie_word_embeddings": False,
                "torch_dtype": "bfloat16"}


def hf_snapshot(folder, shards=2):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    h, ff, v, kvd = 64, 128, 100, 2 * 16
    ts = {"model.embed_tokens.weight": np.zeros((v, h), np.float16),
          "lm_head.weight": np.zeros((v, h), np.float16), "model.norm.weight": np.zeros(h, np.float16)}
    for i in range(2):
        pre = f"model.layers.{i}."
        ts.update({pre + "self_attn.q_proj.weight": np.zeros((h, h), np.float16),
                   pre + "self_attn.k_proj.weight": np.zeros((kvd, h), np.float16),
                   pre + "self_attn.v_proj.weight": np.zeros((kvd, h), np.float16),
                   pre + "self_attn.o_proj.weight": np.zeros((h, h), np.float16),
                   pre + "mlp.gate_proj.weight": np.zeros((ff, h), np.float16),
                   pre + "mlp.up_proj.weight": np.zeros((ff, h), np.float16),
                   pre + "mlp.down_proj.weight": np.zeros((h, ff), np.float16),
                   pre + "input_layernorm.weight": np.zeros(h, np.float16),
                   pre + "post_attention_layernorm.weight": np.zeros(h, np.float16)})
    names = list(ts)
    for s in range(shards):
        part = {n: ts[n] for n in names[s::shards]}
        write_safetensors(folder / f"model-{s + 1:05d}-of-{shards:05d}.safetensors", part)
    return sum(a.nbytes for a in ts.values())


def test_hf_snapshot_exact_bytes(tmp_path):
    total = hf_snapshot(tmp_path / "snap")
    m, prec = load_path(tmp_path / "snap")
    assert prec == "fp16"   # the F16 tensors stored, not config's torch_dtype (bfloat16)
    parts = memory_parts(m, parse_precision(prec), Workload(context_tokens=512))
    # llama.cpp (16-bit weights' runtime) keeps token_embd in RAM; the file is the sum of both
    assert parts.exact_weights and parts.weights_bytes + parts.breakdown["weights_host_ram"] == total
    # the architecture agrees with the file: 2 bytes a parameter
    assert weights_bytes(m.architecture, parse_precision("bf16")) == total
    m2, _ = load_path(tmp_path / "snap" / "config.json")
    assert m2.weights_inventory.total_bytes == total


def test_config_only_uses_architecture(tmp_path):
    cfg = dict(LLAMA_CONFIG, quantization_config={"quant_method": "awq", "bits": 4})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    m, prec = load_path(tmp_path / "config.json")
    assert prec == "awq" and m.weights_inventory is None
    assert m.architecture.head_dim == 16 and m.architecture.kv_heads == 2


def test_hf_cache_repo_id(tmp_path, monkeypatch, kb):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    repo = tmp_path / "hub" / "models--acme--tiny-llama"
    total = hf_snapshot(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    m, prec = resolve_model(kb, "acme/tiny-llama")
    assert m.weights_inventory.total_bytes == total and m.name == "tiny-llama"
    with pytest.raises(AdvisorError, match="unknown model"):
        resolve_model(kb, "acme/not-cached")
    assert resolve_model(kb, "llama-3.1-8b")[1] is None  # KB ids still win


def test_corrupt_safetensors(tmp_path):
    p = tmp_path / "x.safetensors"
    write_safetensors(p, {"a": np.zeros((4, 4), np.float16)})
    data = p.read_bytes()
    (tmp_path / "t.safetensors").write_bytes(data[:-3])
    _one_line_error(read_safetensors, tmp_path / "t.safetensors", match="outside")
    (tmp_path / "h.safetensors").write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    _one_line_error(read_safetensors, tmp_path / "h.safetensors", match="header claims")
    (tmp_path / "j.safetensors").write_bytes(struct.pack("<Q", 5) + b"{nope")
    _one_line_error(read_safetensors, tmp_path / "j.safetensors", match="not JSON")
    bad = json.dumps({"a": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 30]}}).encode()
    (tmp_path / "s.safetensors").write_bytes(struct.pack("<Q", len(bad)) + bad + b"\0" * 32)
    _one_line_error(read_safetensors, tmp_path / "s.safetensors", match="do not hold shape")


def test_cli_explain_gguf_and_errors(tmp_path):
    p = tmp_path / "tiny.gguf"
    sizes = write_gguf(p)
    r = CliRunner().invoke(main, ["explain", str(p), "rtx-4090", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["workload"]["precision"] == "Q4_K_M"
    b = d["memory"]["breakdown"]
    assert d["memory"]["weights_bytes"] + b["weights_host_ram"] == sum(sizes.values())
    assert b["weights_host_ram"] == sizes["token_embd.weight"] and b["weights_source"] == "file"
    r = CliRunner().invoke(main, ["explain", str(p), "rtx-4090"])
    assert r.exit_code == 0 and "(the default)" not in r.output.split("\n")[2].split("context")[0]
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(p.read_bytes()[:100])
    r = CliRunner().invoke(main, ["explain", str(bad), "rtx-4090"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["explain", str(tmp_path / "missing.gguf"), "rtx-4090"])
    assert r.exit_code == 2 and "no such file" in r.output


def test_fuzzed_gguf_headers_fail_cleanly(tmp_path):
    """Random corruption of the header region: the reader answers or raises AdvisorError,
    nothing else (no IndexError, MemoryError, struct.error, UnicodeDecodeError...)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    p = tmp_path / "tiny.gguf"
    write_gguf(p)
    data = p.read_bytes()
    header_end = 24 + 2000  # metadata and the first tensor infos

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(4, header_end), st.integers(0, 255)), min_size=1, max_size=6))
    def check(edits):
        b = bytearray(data)
        for i, v in edits:
            b[i] = v
        q = tmp_path / "fuzz.gguf"
        q.write_bytes(bytes(b))
        try:
            read_header(q)
        except AdvisorError as exc:
            assert "\n" not in str(exc)

    check()


def test_kb_models_do_not_import_numpy():
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from advisor.cli import main; "
            "r = CliRunner().invoke(main, ['explain', 'llama-3.1-8b', 'rtx-4090', '-p', 'iq3_m']); "
            "assert r.exit_code == 0, r.output; print('numpy' in sys.modules, 'gguf' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_config_mapping_gemma3_deepseek_qwen3_moe():
    from advisor.files.hf import architecture_fields

    gemma3 = {"model_type": "gemma3", "text_config": {
        "model_type": "gemma3_text", "num_hidden_layers": 62, "hidden_size": 5376,
        "intermediate_size": 21504, "num_attention_heads": 32, "num_key_value_heads": 16,
        "head_dim": 128, "vocab_size": 262208, "max_position_embeddings": 131072,
        "sliding_window": 1024, "sliding_window_pattern": 6}}
    f = architecture_fields(gemma3, "gemma3")
    assert f["sliding_window"] == 1024 and f["sliding_window_pattern"] == 6 and f["tied_embeddings"]
    ds = {"model_type": "deepseek_v3", "num_hidden_layers": 61, "hidden_size": 7168,
          "intermediate_size": 18432, "moe_intermediate_size": 2048, "num_attention_heads": 128,
          "num_key_value_heads": 128, "vocab_size": 129280, "max_position_embeddings": 163840,
          "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
          "v_head_dim": 128, "n_routed_experts": 256, "num_experts_per_tok": 8,
          "n_shared_experts": 1, "first_k_dense_replace": 3, "tie_word_embeddings": False}
    f = architecture_fields(ds, "ds")
    assert f["head_dim"] == 192 and f["kv_lora_rank"] == 512 and f["experts_total"] == 256
    assert f["expert_ffn_size"] == 2048 and f["dense_layers"] == 3 and f["experts_shared"] == 1
    a = Architecture(**f)
    from advisor.sizing.kv_cache import kv_cache_bytes_per_token

    assert kv_cache_bytes_per_token(a) == 61 * 576 * 2
    qwen2 = dict(LLAMA_CONFIG, model_type="qwen2", sliding_window=4096, use_sliding_window=False)
    f = architecture_fields(qwen2, "q")
    assert "sliding_window" not in f and f["qkv_bias"]
    with pytest.raises(AdvisorError, match="not a decoder-only"):
        architecture_fields({"model_type": "bert"}, "bert")


def test_bad_architecture_in_file_is_one_line(tmp_path):
    cfg = dict(LLAMA_CONFIG, num_key_value_heads=3)  # 3 does not divide 4 heads
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    msg = _one_line_error(load_path, tmp_path / "config.json", match="cannot size this model")
    assert "kv_heads" in msg
    (tmp_path / "config.json").write_text("{not json")
    _one_line_error(load_path, tmp_path / "config.json", match="not valid JSON")


def test_what_if_precision_from_gguf_matches_the_layout(tmp_path):
    """The architecture read from a GGUF reproduces its own tensor elements: sizing it at F16
    gives 2 bytes a parameter of every 2-D tensor and 4 of the norms, as the file holds."""
    p = tmp_path / "f16.gguf"
    sizes = write_gguf(p, ftype="F16")
    m, prec = load_path(p)
    assert m.architecture.norms_per_layer == 2 and not m.architecture.qkv_bias
    norms = sum(b for n, b in sizes.items() if n.endswith("norm.weight"))
    assert weights_bytes(m.architecture, parse_precision("fp16")) == sum(sizes.values()) - norms // 2


def test_cli_hf_cache_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    repo = tmp_path / "hub" / "models--acme--tiny-llama"
    total = hf_snapshot(repo / "snapshots" / "abc123")
    r = CliRunner().invoke(main, ["explain", "acme/tiny-llama", "rtx-4090", "--format", "json",
                                  "--runtime", "vllm"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    # the snapshot's tensors are F16 (config says bfloat16): the stored dtype names it
    assert d["memory"]["weights_bytes"] == total and d["workload"]["precision"] == "fp16"


def test_cached_gguf_repo_with_quant_selector(tmp_path, monkeypatch, kb):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    snap = tmp_path / "hub" / "models--acme--tiny-GGUF" / "snapshots" / "r1"
    snap.mkdir(parents=True)
    sizes = write_gguf(snap / "tiny-Q4_K_M.gguf")
    write_gguf(snap / "tiny-F16.gguf", ftype="F16")
    m, prec = resolve_model(kb, "acme/tiny-GGUF:q4_k_m")
    assert prec == "Q4_K_M" and m.weights_inventory.total_bytes == sum(sizes.values())
    with pytest.raises(AdvisorError, match="2 GGUF models"):
        resolve_model(kb, "acme/tiny-GGUF")
    with pytest.raises(AdvisorError, match="no GGUF file named like 'IQ2_M'"):
        resolve_model(kb, "acme/tiny-GGUF:IQ2_M")
    with pytest.raises(AdvisorError, match="not in the local Hugging Face cache"):
        resolve_model(kb, "acme/absent-GGUF:Q4_K_M")


def test_deeply_nested_json_headers(tmp_path):
    deep = b"[" * 100000 + b"]" * 100000
    (tmp_path / "d.safetensors").write_bytes(struct.pack("<Q", len(deep)) + deep)
    _one_line_error(read_safetensors, tmp_path / "d.safetensors", match="not JSON")
    (tmp_path / "config.json").write_bytes(deep)
    _one_line_error(load_path, tmp_path / "config.json", match="not valid JSON")


def test_checkpoint_precision_from_quantization_config():
    from advisor.files.hf import checkpoint_precision

    meta = {"quantization_config": {"quant_method": "fbgemm_fp8", "modules_to_not_convert": [
        "model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj", "lm_head"]}}
    assert checkpoint_precision(meta) == "fp8-ffn"
    assert checkpoint_precision({"quantization_config": {"quant_method": "fp8"}}) == "fp8"
    assert checkpoint_precision({"quantization_config": {"quant_method": "gptq", "bits": 8}}) == "gptq-int8"
    assert checkpoint_precision({"quantization_config": {"quant_method": "bitsandbytes",
                                                         "load_in_4bit": True}}) == "nf4"
    assert checkpoint_precision({"torch_dtype": "float16"}) == "fp16"
