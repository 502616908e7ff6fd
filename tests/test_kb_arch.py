"""Architectures beyond one kind of softmax-attention layer: Qwen3-Next's hybrid Gated DeltaNet
linear attention and DeepSeek V3.2's lightning indexer. Their tensors, parameter counts, KV cache
and recurrent-state bytes per runtime (against hand computations), GGUF types, and where a
runtime cannot run them."""

import pytest

from advisor.kb.schema import Architecture
from advisor.plans.runtimes import cannot_run
from advisor.sizing.gguf_mix import tensor_types
from advisor.sizing.kv_cache import (attention_layer_count, indexer_row_bytes, kv_assumptions,
                                     kv_cache_bytes, kv_cache_bytes_per_token,
                                     linear_state_elements, recurrent_state_bytes,
                                     vllm_hybrid_block_tokens)
from advisor.sizing.precision import parse_precision
from advisor.sizing.tensors import active_parameter_count, model_tensors, parameter_count

QWEN3_NEXT = "qwen3-next-80b-a3b-instruct"
V32 = "deepseek-v3.2-exp"


def test_qwen3_next_layer_kinds(kb):
    a = kb.model(QWEN3_NEXT).architecture
    full = [i for i in range(a.layers) if not a.is_linear_layer(i)]
    assert full == list(range(3, 48, 4))
    assert a.linear_layer_count == 36 and attention_layer_count(a) == 12


def test_qwen3_next_parameter_count(kb):
    a = kb.model(QWEN3_NEXT).architecture
    # embeddings and head 2 x 151936 x 2048, final norm 2048
    outside = 2 * 151936 * 2048 + 2048
    # gated attention: q|gate 2048 -> 2 x 16 x 256, k and v 2048 -> 512, o 4096 -> 2048, q/k norms
    full = 2048 * 8192 + 2 * 2048 * 512 + 4096 * 2048 + 2 * 256
    # Gated DeltaNet: q|k|v|z 2048 -> 2048+2048+4096+4096, beta|alpha 2048 -> 64, conv 8192 x 4,
    # dt bias and A (32 each), gated norm 128, out 4096 -> 2048
    linear = 2048 * 12288 + 2048 * 64 + 8192 * 4 + 32 + 32 + 128 + 4096 * 2048
    # router 2048 -> 512, 512 experts + 1 shared of 3 x 2048 x 512, shared gate 2048, 2 norms
    moe = 2048 * 512 + 513 * 3 * 2048 * 512 + 2048 + 2 * 2048
    expected = outside + 12 * full + 36 * linear + 48 * moe
    assert parameter_count(a) == expected == 79_674_391_296
    routed = 48 * 512 * 3 * 2048 * 512
    assert active_parameter_count(a) == expected - routed + routed * 10 // 512


def test_qwen3_next_state_and_cache_llamacpp(kb):
    a = kb.model(QWEN3_NEXT).architecture
    assert linear_state_elements(a) == (3 * 8192, 32 * 128 * 128)
    # llama.cpp: F32 conv (n_embd_r = 3 x 8192) and recurrent (n_embd_s = 128 x 4096) states,
    # one slot a sequence, in the 36 linear layers; K and V of 2 x 256 in the 12 others
    state = 36 * (24576 + 524288) * 4
    assert recurrent_state_bytes(a, 1, "llama.cpp") == state == 79_036_416
    kv = 12 * 32768 * 2 * 2 * 256 * 2
    assert kv_cache_bytes(a, 32768, 1, "bf16", "llama.cpp") == kv + state
    # padded to 256 cells; the state does not grow with the context, it grows with sequences
    assert kv_cache_bytes(a, 1000, 1, "bf16", "llama.cpp") == 12 * 1024 * 2048 + state
    assert kv_cache_bytes(a, 1024, 4, "bf16", "llama.cpp") == 4 * (12 * 1024 * 2048 + state)
    assert kv_cache_bytes_per_token(a, "bf16") == 12 * 2048


def test_qwen3_next_cache_vllm_hybrid_pages(kb):
    a = kb.model(QWEN3_NEXT).architecture
    # one layer's state in bf16: (8192 x 3 + 32 x 128 x 128) x 2 = 1,097,728 bytes; attention
    # page of one token one layer 2 x 2 x 256 x 2 = 2048 bytes: 16 x ceil(1097728 / 32768) = 544
    assert vllm_hybrid_block_tokens(a, "bf16") == 544
    page = 544 * 2048
    blocks = -(-32768 // 544)
    assert kv_cache_bytes(a, 32768, 1, "bf16", "vllm") == 12 * blocks * page + 36 * page
    # tensor parallel 4: one KV head a GPU (1024 bytes a token), a quarter of the state
    # (274,432 bytes): 16 x ceil(274432 / 16384) = 272-token blocks, on each of 4 GPUs
    assert vllm_hybrid_block_tokens(a, "bf16", 4) == 272
    per_gpu = 12 * -(-32768 // 272) * 272 * 1024 + 36 * 272 * 1024
    assert kv_cache_bytes(a, 32768, 1, "bf16", "vllm", gpus=4) == 4 * per_gpu
    # an fp8 KV cache halves the attention page, not the 16-bit state: twice the tokens a block
    assert vllm_hybrid_block_tokens(a, "fp8") == 1072


def test_v32_parameter_count_is_v3_plus_the_indexer(kb):
    v3, v32 = kb.model("deepseek-v3").architecture, kb.model(V32).architecture
    per_layer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    assert per_layer == 13_959_424
    assert parameter_count(v32) - parameter_count(v3) == 61 * per_layer == 851_524_864
    names = {t.name for t in model_tensors(v32) if t.layer == 0}
    assert {"indexer_attn_q_b", "indexer_attn_k", "indexer_k_norm", "indexer_proj"} <= names


def test_v32_cache_per_runtime(kb):
    a = kb.model(V32).architecture
    # llama.cpp: latent 512 + 64 and the indexer key 128, both in the K type, every layer
    assert kv_cache_bytes(a, 32768, 1, "bf16", "llama.cpp") == 61 * 32768 * (576 + 128) * 2
    assert kv_cache_bytes(a, 32768, 1, "q8_0", "llama.cpp") == 61 * 32768 * (18 + 4) * 34
    # vLLM: the indexer key is FP8 + an fp32 scale (132 bytes) whatever the cache dtype; an fp8
    # latent is "fp8_ds_mla", 512 + 4 x 4 + 64 x 2 = 656 bytes; 64-token blocks
    assert indexer_row_bytes(a, "bf16", "vllm") == 132
    assert kv_cache_bytes(a, 32768, 1, "bf16", "vllm") == 61 * 32768 * (1152 + 132)
    assert kv_cache_bytes(a, 32768, 1, "fp8", "vllm") == 61 * 32768 * (656 + 132)
    assert kv_cache_bytes(a, 1000, 1, "fp8", "vllm") == 61 * 1024 * (656 + 132)
    # every GPU holds the whole latent and indexer key
    assert kv_cache_bytes(a, 32768, 1, "fp8", "vllm", gpus=8) == 8 * 61 * 32768 * 788
    assert any("indexer" in line for line in kv_assumptions(a, "fp8", "vllm"))


def test_gguf_types_of_new_tensors(kb):
    a = kb.model(QWEN3_NEXT).architecture
    ts = list(model_tensors(a))
    types = dict(zip(((t.name, t.layer) for t in ts), tensor_types("Q4_K_M", ts, a)))
    assert types[("ssm_conv1d", 0)] == "F32"           # llama-quant.cpp leaves it alone
    assert types[("ssm_in", 0)] == "Q4_K" and types[("ssm_out", 0)] == "Q4_K"
    assert types[("ssm_a", 0)] == "F32" and types[("ffn_gate_inp_shexp", 0)] == "F32"
    v = kb.model(V32).architecture
    vt = list(model_tensors(v))
    vtypes = dict(zip(((t.name, t.layer) for t in vt), tensor_types("Q4_K_M", vt, v)))
    assert vtypes[("indexer_proj", 5)] == "Q4_K" and vtypes[("indexer_k_norm_bias", 5)] == "F32"


@pytest.mark.parametrize("kw, message", [
    (dict(full_attention_interval=4), "linear_key_heads"),
    (dict(full_attention_interval=4, linear_key_heads=16, linear_value_heads=30,
          linear_key_head_dim=128, linear_value_head_dim=128, linear_conv_kernel=4), "does not divide"),
    (dict(index_heads=64, index_head_dim=128, index_topk=2048), "q latent"),
    (dict(index_heads=64), "index_head_dim"),
    (dict(shared_expert_gate=True), "experts_shared"),
])
def test_inconsistent_new_fields_are_refused(kw, message):
    base = dict(layers=8, hidden_size=1024, attention_heads=8, kv_heads=2, head_dim=128,
                ffn_size=4096, vocab_size=32000, tied_embeddings=False, max_context=4096)
    with pytest.raises(ValueError, match=message):
        Architecture(**base, **kw)


def test_plain_models_are_unchanged(kb):
    a = kb.model("deepseek-v3").architecture
    assert kv_cache_bytes(a, 32768, 1, "fp8", "vllm") == 61 * 32768 * 576
    assert recurrent_state_bytes(a, 4, "llama.cpp") == 0 and indexer_row_bytes(a) == 0


def test_vllm_cannot_run_v32_off_hopper_and_blackwell(kb):
    m = kb.model(V32)
    fp8 = parse_precision("fp8")
    assert cannot_run("vllm", fp8, kb.gpu("h100-80gb"), m) is None
    assert cannot_run("vllm", fp8, kb.gpu("b200"), m) is None
    assert "Hopper and Blackwell" in cannot_run("vllm", fp8, kb.gpu("rtx-5090"), m)
    assert cannot_run("vllm", fp8, kb.gpu("rtx-5090"), kb.model("deepseek-v3")) is None
    assert cannot_run("llama.cpp", parse_precision("Q4_K_M"), kb.gpu("rtx-5090"), m) is None


def test_qwen3_next_q4_k_m_matches_a_published_file(kb):
    """LM Studio's log of Qwen3-Next-80B-A3B-Instruct Q4_K_M (lmstudio-bug-tracker issue 1266):
    807 tensors, q4_K 391, q6_K 55, f32 313 + f16 48 unquantized; file size 45.08 GiB (4.86 BPW)."""
    from collections import Counter

    from advisor.sizing.ggml_types import tensor_bytes

    a = kb.model(QWEN3_NEXT).architecture
    ts = list(model_tensors(a))
    types = tensor_types("Q4_K_M", ts, a)
    counts = Counter(types)
    assert len(ts) == 807 and counts["Q4_K"] == 391 and counts["Q6_K"] == 55
    assert counts["F32"] == 313 + 48
    size = sum(tensor_bytes(ty, t.row_length, t.rows) for t, ty in zip(ts, types))
    assert round(size / 2**30, 2) == 45.08
    assert round(size * 8 / parameter_count(a), 2) == 4.86


def test_llama_32_vision_text_count_and_layers(kb):
    a = kb.model("llama-3.2-11b-vision").architecture
    cross = [i for i in range(a.layers) if a.is_cross_attention_layer(i)]
    assert cross == [3, 8, 13, 18, 23, 28, 33, 38] and attention_layer_count(a) == 32
    # 40 layers of q/k/v/o (4096 x 4096, 4096 x 1024 twice, 4096 x 4096), MLP 3 x 4096 x 14336,
    # 2 norms; the 8 cross-attention layers add q/k norms of 128 and two scalar gates; the
    # embedding has 128256 + 8 rows, the head 128256
    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096
    expected = 40 * per_layer + 8 * (2 * 128 + 2) + (128256 + 8) * 4096 + 128256 * 4096 + 4096
    assert parameter_count(a) == expected == 9_775_192_080
    # with the vision tower computed from vision_config (895,028,755) it is the Hub's total
    assert parameter_count(a) + 895_028_755 == 10_670_220_835
    assert kb.model("llama-3.2-90b-vision").architecture.cross_attention_layer_count == 20


def test_llama_32_vision_cache_holds_image_tokens_in_cross_layers(kb):
    a = kb.model("llama-3.2-11b-vision").architecture
    row = 2 * 8 * 128 * 2  # K and V, 8 KV heads of 128, 16 bits
    for ctx, batch in ((8192, 1), (100, 3)):
        expected = (32 * ctx + 8 * 6404) * batch * row
        assert kv_cache_bytes(a, ctx, batch, "bf16", "transformers") == expected
    assert kv_cache_bytes_per_token(a, "bf16") == 32 * row  # the image tokens do not grow
    assert any("6,404 image tokens" in line for line in kv_assumptions(a, "bf16", "transformers"))


def test_llama_32_vision_runs_only_in_transformers(kb):
    m = kb.model("llama-3.2-11b-vision")
    bf16 = parse_precision("bf16")
    gpu = kb.gpu("h100-80gb")
    assert "mllama" in cannot_run("llama.cpp", parse_precision("Q4_K_M"), gpu, m)
    assert "mllama" in cannot_run("vllm", bf16, gpu, m)
    assert cannot_run("transformers", bf16, gpu, m) is None
    assert cannot_run("llama.cpp", parse_precision("Q4_K_M"), gpu, kb.model("llama-3.1-8b")) is None


def test_cross_attention_fields_go_together():
    base = dict(layers=8, hidden_size=1024, attention_heads=8, kv_heads=2, head_dim=128,
                ffn_size=4096, vocab_size=32000, tied_embeddings=False, max_context=4096)
    with pytest.raises(ValueError, match="go together"):
        Architecture(**base, cross_attention_interval=4)
    with pytest.raises(ValueError, match="needs cross_attention_interval"):
        Architecture(**base, cross_attention_first=2)
    with pytest.raises(ValueError, match="no cross-attention layer"):
        Architecture(**base, cross_attention_interval=4, cross_attention_first=8,
                     cross_attention_tokens=100)


def _gguf_of(a, arch: str, path, extra):
    """A GGUF (F32 zeros) holding the tensors of `a` under llama.cpp's names and shapes."""
    from tests.file_helpers import STRING, U32, gguf_bytes

    ts = []
    for t in model_tensors(a):
        name = t.name.replace("norm_0", "attn_norm").replace("norm_1", "post_attention_norm")
        name = name[:-5] + ".bias" if name.endswith("_bias") else name + ".weight"
        full = name if t.layer is None else f"blk.{t.layer}.{name}"
        if t.is_routed_expert:
            shape = (t.row_length, t.rows // a.experts_total, a.experts_total)
        else:
            shape = (t.row_length,) if t.rows == 1 else (t.row_length, t.rows)
        ts.append((full, shape))
    kv = [("general.architecture", STRING, arch)] + [(f"{arch}.{k}", U32, v) for k, v in extra]
    path.write_bytes(gguf_bytes(kv, ts))
    return path


def test_a_qwen3next_gguf_is_sized_as_hybrid(tmp_path):
    """A qwen3next GGUF's ssm.* keys (as convert_hf_to_gguf.py writes them) give the linear
    layers, so its cache is 1 full-attention layer in 4 plus the fixed state."""
    from advisor.files.gguf_file import read_gguf
    from advisor.files.gguf_model import gguf_architecture

    a = Architecture(layers=4, hidden_size=64, attention_heads=4, kv_heads=2, head_dim=16,
                     ffn_size=128, vocab_size=32, tied_embeddings=False, max_context=4096,
                     qk_norm=True, attn_output_gate=True, full_attention_interval=4,
                     linear_key_heads=2, linear_value_heads=4, linear_key_head_dim=16,
                     linear_value_head_dim=16, linear_conv_kernel=4, experts_total=4,
                     experts_active=2, experts_shared=1, expert_ffn_size=32, shared_expert_gate=True)
    extra = [("block_count", 4), ("embedding_length", 64), ("attention.head_count", 4),
             ("attention.head_count_kv", 2), ("attention.key_length", 16), ("context_length", 4096),
             ("expert_count", 4), ("expert_used_count", 2), ("expert_feed_forward_length", 32),
             ("expert_shared_feed_forward_length", 32), ("full_attention_interval", 4),
             ("ssm.conv_kernel", 4), ("ssm.state_size", 16), ("ssm.group_count", 2),
             ("ssm.time_step_rank", 4), ("ssm.inner_size", 64)]
    path = _gguf_of(a, "qwen3next", tmp_path / "q.gguf", extra)
    f, arch, _ = gguf_architecture(read_gguf(path))
    got = Architecture(**f)
    assert arch == "qwen3next" and got.linear_layer_count == 3 and got.shared_expert_gate
    assert parameter_count(got) == parameter_count(a)
    assert kv_cache_bytes(got, 1024, 1, "fp16", "llama.cpp") == kv_cache_bytes(a, 1024, 1, "fp16", "llama.cpp")
    broken = _gguf_of(a, "qwen3next", tmp_path / "b.gguf", [e for e in extra if e[0] != "ssm.state_size"])
    with pytest.raises(Exception, match="ssm.state_size"):
        gguf_architecture(read_gguf(broken))


def test_hub_configs_of_the_new_kinds_size_as_the_kb(kb):
    """advisor.files.hf reads the new layer kinds from a config.json (a Hub repo that is not in
    the KB): the same tensors and the same KV cache as the KB entry."""
    from advisor.files.hf import architecture_fields
    from tests.test_kb_from_config import CONFIGS

    for mid in ("qwen3-next-80b-a3b-instruct", "deepseek-v3.2-exp"):
        got = Architecture(**architecture_fields(dict(CONFIGS[mid]), "config.json"))
        want = kb.model(mid).architecture
        for rt in ("llama.cpp", "vllm"):
            assert kv_cache_bytes(got, 32768, 2, "bf16", rt) == kv_cache_bytes(want, 32768, 2, "bf16", rt)
    mllama = {"model_type": "mllama", "vision_config": {"image_size": 560, "patch_size": 14, "max_num_tiles": 4},
              "text_config": {"model_type": "mllama_text_model", "num_hidden_layers": 40, "hidden_size": 4096,
                              "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
                              "vocab_size": 128256, "max_position_embeddings": 131072,
                              "tie_word_embeddings": False, "cross_attention_layers": list(range(3, 40, 5))}}
    got = Architecture(**architecture_fields(mllama, "config.json"))
    want = kb.model("llama-3.2-11b-vision").architecture
    assert parameter_count(got) == parameter_count(want)
    assert kv_cache_bytes(got, 8192, 1, "bf16") == kv_cache_bytes(want, 8192, 1, "bf16")
    bad = {**mllama, "text_config": {**mllama["text_config"], "cross_attention_layers": [3, 8, 20]}}
    with pytest.raises(Exception, match="every Nth layer"):
        architecture_fields(bad, "config.json")
