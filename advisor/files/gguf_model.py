"""A GGUF header's metadata as Architecture fields, and the precision its file type names."""
from __future__ import annotations

from collections import Counter

from advisor.errors import AdvisorError
from advisor.files.gguf_file import GGUFHeader

# The precision a file stands for when general.file_type is missing or unknown: its most common
# quantized tensor type's usual file type.
_BY_TENSOR_TYPE = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "Q8_0": "Q8_0", "Q6_K": "Q6_K",
                   "Q5_K": "Q5_K_M", "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q4_K": "Q4_K_M",
                   "Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q3_K": "Q3_K_M", "Q2_K": "Q2_K",
                   "IQ4_XS": "IQ4_XS", "IQ4_NL": "IQ4_NL", "IQ3_S": "IQ3_S", "IQ3_XXS": "IQ3_XXS",
                   "IQ2_S": "IQ2_M", "IQ2_XS": "IQ2_XS", "IQ2_XXS": "IQ2_XXS", "IQ1_M": "IQ1_M",
                   "IQ1_S": "IQ1_S", "MXFP4": "MXFP4_MOE"}


def _get(h: GGUFHeader, key: str, default=None):
    v = h.metadata.get(key, default)
    if isinstance(v, list):  # per-layer values (head counts, FFN widths): size for the largest
        ints = [x for x in v if isinstance(x, int) and not isinstance(x, bool)]
        return max(ints) if ints else default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    return int(v)


def gguf_architecture(h: GGUFHeader) -> tuple[dict, str, str]:
    arch = h.metadata.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise AdvisorError(f"{h.path}: GGUF has no general.architecture")
    k = lambda s, d=None: _get(h, f"{arch}.{s}", d)  # noqa: E731
    layers, hidden, heads = k("block_count"), k("embedding_length"), k("attention.head_count")
    if not (layers and hidden and heads):
        raise AdvisorError(f"{h.path}: GGUF lacks {arch}.block_count, embedding_length or "
                           "attention.head_count: not a model this sizing knows")
    names = {t.name: t for t in h.tensors}
    vocab = k("vocab_size") or h.array_lengths.get("tokenizer.ggml.tokens")
    if not vocab and "token_embd.weight" in names:
        vocab = names["token_embd.weight"].shape[1]
    f = dict(
        layers=layers, hidden_size=hidden, attention_heads=heads,
        kv_heads=k("attention.head_count_kv", heads),
        head_dim=k("attention.key_length", hidden // heads),
        ffn_size=k("feed_forward_length") or k("expert_feed_forward_length") or 4 * hidden,
        vocab_size=vocab or 0, tied_embeddings="output.weight" not in names,
        max_context=k("context_length", 4096),
    )
    blk0 = [n for n in names if n.startswith("blk.0.")]
    f["qkv_bias"] = "blk.0.attn_q.bias" in names
    f["norms_per_layer"] = sum(1 for n in blk0 if n.endswith("norm.weight")
                               and not n.endswith(("attn_q_norm.weight", "attn_k_norm.weight")))
    f["qk_norm"] = "blk.0.attn_q_norm.weight" in names
    sw = k("attention.sliding_window")
    if sw and sw < f["max_context"]:
        f["sliding_window"] = sw
        pattern = k("attention.sliding_window_pattern") or {"gemma2": 2, "gemma3": 6}.get(arch)
        if pattern and pattern > 1:
            f["sliding_window_pattern"] = pattern
    experts = k("expert_count")
    if experts and experts > 1:
        f.update(experts_total=experts, experts_active=k("expert_used_count", 2),
                 experts_shared=k("expert_shared_count", 0),
                 dense_layers=k("leading_dense_block_count", 0))
        if k("expert_feed_forward_length"):
            f["expert_ffn_size"] = k("expert_feed_forward_length")
    if k("attention.kv_lora_rank"):
        f.update(kv_lora_rank=k("attention.kv_lora_rank"), qk_rope_head_dim=k("rope.dimension_count", 64))
        if k("attention.q_lora_rank"):
            f["q_lora_rank"] = k("attention.q_lora_rank")
    if f["attention_heads"] % f["kv_heads"]:
        f["kv_heads"] = f["attention_heads"]
    name = h.metadata.get("general.name")
    name = name if isinstance(name, str) and name.strip() else h.path.stem
    return f, arch, name


def gguf_precision(h: GGUFHeader, file_type: str | None) -> str:
    from advisor.sizing.precision import parse_precision

    if file_type:
        try:
            return parse_precision(file_type).name
        except AdvisorError:
            pass
    counts = Counter()
    for t in h.tensors:
        if len(t.shape) >= 2:
            counts[t.dtype] += t.nbytes
    for dtype, _ in counts.most_common():
        if dtype in _BY_TENSOR_TYPE:
            return _BY_TENSOR_TYPE[dtype]
    return "fp16"
