"""DeepSeek-style GGUFs in their two layouts: the latent cache of files converted since llama.cpp
split attn_kv_b (attention.key_length_mla present) and the per-head K/V cache of older ones
(ollama issue 5136: DeepSeek V2 Lite Q4_0 at 32K, KV 8,640 MiB, where a latent cache is 972)."""
from pathlib import Path

import pytest

from advisor.errors import AdvisorError
from advisor.files import load_path
from advisor.sizing.kv_cache import kv_cache_bytes_per_token, kv_row_bytes_per_token_layer
from tests.file_helpers import STRING, U32, gguf_bytes

L, H, HEADS, KV_LORA, ROPE, NOPE, V = 2, 64, 4, 32, 8, 16, 16


def _deepseek_gguf(path: Path, *, split: bool, extra=()) -> Path:
    meta = {"block_count": L, "embedding_length": H, "attention.head_count": HEADS,
            "feed_forward_length": 128, "context_length": 4096, "attention.kv_lora_rank": KV_LORA,
            "rope.dimension_count": ROPE}
    if split:   # llama.cpp's conversion since PR 12801
        meta.update({"attention.head_count_kv": 1, "attention.key_length": KV_LORA + ROPE,
                     "attention.value_length": KV_LORA, "attention.key_length_mla": NOPE + ROPE,
                     "attention.value_length_mla": V})
    else:
        meta.update({"attention.head_count_kv": HEADS, "attention.key_length": NOPE + ROPE,
                     "attention.value_length": V})
    meta.update(dict(extra))
    kv = [("general.architecture", STRING, "deepseek2"), ("general.name", STRING, "Tiny MLA")]
    kv += [(f"deepseek2.{k}", U32, v) for k, v in meta.items()]
    ts = [("token_embd.weight", (H, 32))]
    for i in range(L):
        ts += [(f"blk.{i}.attn_norm.weight", (H,)), (f"blk.{i}.attn_q.weight", (H, HEADS * (NOPE + ROPE))),
               (f"blk.{i}.attn_kv_a_mqa.weight", (H, KV_LORA + ROPE)),
               (f"blk.{i}.attn_kv_a_norm.weight", (KV_LORA,)),
               (f"blk.{i}.attn_output.weight", (HEADS * V, H)), (f"blk.{i}.ffn_norm.weight", (H,)),
               (f"blk.{i}.ffn_gate.weight", (H, 128)), (f"blk.{i}.ffn_up.weight", (H, 128)),
               (f"blk.{i}.ffn_down.weight", (128, H))]
        if split:
            ts += [(f"blk.{i}.attn_k_b.weight", (NOPE, KV_LORA, HEADS)),
                   (f"blk.{i}.attn_v_b.weight", (KV_LORA, V, HEADS))]
        else:
            ts.append((f"blk.{i}.attn_kv_b.weight", (KV_LORA, HEADS * (NOPE + V))))
    ts += [("output_norm.weight", (H,)), ("output.weight", (H, 32))]
    path.write_bytes(gguf_bytes(kv, ts))
    return path


def test_split_file_caches_the_latent(tmp_path):
    m, _ = load_path(_deepseek_gguf(tmp_path / "new.gguf", split=True))
    a = m.architecture
    assert (a.kv_lora_rank, a.qk_rope_head_dim, a.qk_nope_head_dim, a.v_head_dim) == (KV_LORA, ROPE, NOPE, V)
    assert a.head_dim == NOPE + ROPE and a.kv_heads == HEADS and not a.mla_per_head_cache
    assert kv_row_bytes_per_token_layer(a, "fp16") == (KV_LORA + ROPE) * 2


def test_old_file_caches_per_head_k_and_v(tmp_path):
    m, _ = load_path(_deepseek_gguf(tmp_path / "old.gguf", split=False))
    a = m.architecture
    assert a.mla_per_head_cache and a.kv_heads == HEADS
    assert (a.qk_nope_head_dim, a.v_head_dim, a.head_dim) == (NOPE, V, NOPE + ROPE)
    assert kv_row_bytes_per_token_layer(a, "fp16") == HEADS * (NOPE + ROPE + V) * 2
    assert kv_cache_bytes_per_token(a, "fp16") == L * HEADS * (NOPE + ROPE + V) * 2


def test_both_layouts_hold_the_same_weights_and_differ_in_kv(tmp_path, advisor):
    old = advisor.explain(str(_deepseek_gguf(tmp_path / "old.gguf", split=False)), "rtx-4090",
                          context_tokens=4096).to_json()
    new = advisor.explain(str(_deepseek_gguf(tmp_path / "new.gguf", split=True)), "rtx-4090",
                          context_tokens=4096).to_json()
    assert old["memory"]["kv_cache_bytes"] == 4096 * L * HEADS * (NOPE + ROPE + V) * 2
    assert new["memory"]["kv_cache_bytes"] == 4096 * L * (KV_LORA + ROPE) * 2
    assert "attn_kv_b" in " ".join(old["memory"]["breakdown"]["assumptions"])


def test_key_length_without_per_head_part_is_refused(tmp_path):
    p = _deepseek_gguf(tmp_path / "bad.gguf", split=False, extra={"attention.key_length": ROPE})
    with pytest.raises(AdvisorError, match="rope dimensions"):
        load_path(p)


def test_kv_cache_matches_ollama_5136():
    """DeepSeek V2 Lite (27 layers, 16 heads, K 192, V 128) at 32K in f16, per head: 8,640 MiB
    as ollama logged (issue 5136); the latent cache of a re-converted file is 972 MiB."""
    from dataclasses import replace

    from advisor.kb import load_kb
    a = load_kb().model("deepseek-v2-lite").architecture
    assert kv_cache_bytes_per_token(replace(a, mla_per_head_cache=True), "fp16") * 32768 == 8640 << 20
    assert kv_cache_bytes_per_token(a, "fp16") * 32768 == 972 << 20


def test_ollama_name_of_an_old_file_is_sized_per_head(advisor):
    """deepseek-v2:16b is Ollama's June 2024 file: per-head cache, and the advisory says what a
    re-converted GGUF would need; the KB id itself keeps the latent cache."""
    ollama = advisor.explain("deepseek-v2:16b", "rtx-3090", context_tokens=32768).to_json()
    kb_id = advisor.explain("deepseek-v2-lite", "rtx-3090", precision="Q4_0",
                            context_tokens=32768).to_json()
    assert ollama["memory"]["kv_cache_bytes"] == 8640 << 20
    assert kb_id["memory"]["kv_cache_bytes"] == 972 << 20
    assert any("PR 12801" in n for n in ollama["plan"]["notes"])
    assert not any("PR 12801" in n for n in kb_id["plan"]["notes"])
