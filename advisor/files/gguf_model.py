"""A GGUF header's metadata as Architecture fields, and the precision its file type names."""
from __future__ import annotations

import re
from collections import Counter

from advisor.errors import AdvisorError
from advisor.files.gguf_file import GGUFHeader
from advisor.limits import (MAX_CONTEXT, MAX_EXPERTS, MAX_FFN_SIZE, MAX_HEAD_DIM, MAX_HEADS,
                            MAX_HIDDEN_SIZE, MAX_LAYERS, MAX_VOCAB, count_problem)

# The precision a file stands for when general.file_type is missing or unknown: its most common
# quantized tensor type's usual file type.
_BY_TENSOR_TYPE = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "Q8_0": "Q8_0", "Q6_K": "Q6_K",
                   "Q5_K": "Q5_K_M", "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q4_K": "Q4_K_M",
                   "Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q3_K": "Q3_K_M", "Q2_K": "Q2_K",
                   "IQ4_XS": "IQ4_XS", "IQ4_NL": "IQ4_NL", "IQ3_S": "IQ3_S", "IQ3_XXS": "IQ3_XXS",
                   "IQ2_S": "IQ2_M", "IQ2_XS": "IQ2_XS", "IQ2_XXS": "IQ2_XXS", "IQ1_M": "IQ1_M",
                   "IQ1_S": "IQ1_S", "MXFP4": "MXFP4_MOE"}
_BLOCK = re.compile(r"^blk\.(\d{1,6})\.")


def _counts(h: GGUFHeader, arch: str):
    """A reader of `{arch}.<key>` whole numbers, each checked as read: a key that is present must
    hold a whole number (or a per-layer array of them) from `minimum` to `maximum`, else
    AdvisorError naming the file and the key. Per-layer arrays (head counts, FFN widths) size
    for the largest."""
    def get(key: str, default=None, *, maximum: int, minimum: int = 1):
        full = f"{arch}.{key}"
        v = h.metadata.get(full)
        if v is None:  # missing, or a per-layer array too long to keep (only its length is)
            return default
        if isinstance(v, list) and v:  # per layer: 0 for a layer without it (hybrid models)
            for x in v:
                problem = count_problem(x, maximum, 0)
                if problem:
                    raise AdvisorError(f"{h.path}: {full} holds a value that {problem}")
            v = max(v)
        problem = count_problem(v, maximum, minimum)
        if problem:
            raise AdvisorError(f"{h.path}: {full} {problem}")
        return int(v)
    return get


def gguf_architecture(h: GGUFHeader) -> tuple[dict, str, str]:
    """(Architecture fields, architecture name, model name) from a GGUF header. Every number
    is checked as read (a whole number within advisor.limits), and a file without tensors, or
    whose tensors leave out layers its block_count names, is refused: it describes no weights
    to size."""
    arch = h.metadata.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise AdvisorError(f"{h.path}: GGUF has no general.architecture")
    if not h.tensors:
        raise AdvisorError(f"{h.path}: the file holds no tensors: it describes no weights to size "
                           "(a vocabulary-only or metadata-only GGUF)")
    k = _counts(h, arch)
    layers = k("block_count", maximum=MAX_LAYERS)
    hidden = k("embedding_length", maximum=MAX_HIDDEN_SIZE)
    heads = k("attention.head_count", maximum=MAX_HEADS)
    if not (layers and hidden and heads):
        raise AdvisorError(f"{h.path}: GGUF lacks {arch}.block_count, embedding_length or "
                           "attention.head_count: not a model this sizing knows")
    names = {t.name: t for t in h.tensors}
    blocks = {int(m.group(1)) for m in map(_BLOCK.match, names) if m}
    if not blocks.issuperset(range(layers)):
        raise AdvisorError(f"{h.path}: {arch}.block_count is {layers}, but the tensors hold "
                           f"{len(blocks & set(range(layers)))} of those blocks: the file does not "
                           "describe the weights of the model it names")
    vocab = k("vocab_size", maximum=MAX_VOCAB) or h.array_lengths.get("tokenizer.ggml.tokens")
    if not vocab and "token_embd.weight" in names:
        vocab = names["token_embd.weight"].shape[1]
    f = dict(
        layers=layers, hidden_size=hidden, attention_heads=heads,
        kv_heads=k("attention.head_count_kv", heads, maximum=MAX_HEADS),
        head_dim=k("attention.key_length", max(hidden // heads, 1), maximum=MAX_HEAD_DIM),
        ffn_size=(k("feed_forward_length", maximum=MAX_FFN_SIZE, minimum=0)
                  or k("expert_feed_forward_length", maximum=MAX_FFN_SIZE, minimum=0)
                  or 4 * hidden),
        vocab_size=vocab or 0, tied_embeddings="output.weight" not in names,
        max_context=k("context_length", 4096, maximum=MAX_CONTEXT),
    )
    blk0 = [n for n in names if n.startswith("blk.0.")]
    f["qkv_bias"] = "blk.0.attn_q.bias" in names
    f["norms_per_layer"] = sum(1 for n in blk0 if n.endswith("norm.weight")
                               and not n.endswith(("attn_q_norm.weight", "attn_k_norm.weight")))
    f["qk_norm"] = "blk.0.attn_q_norm.weight" in names
    sw = k("attention.sliding_window", maximum=MAX_CONTEXT, minimum=0)
    if sw and sw < f["max_context"]:
        f["sliding_window"] = sw
        pattern = (k("attention.sliding_window_pattern", maximum=MAX_LAYERS, minimum=0)
                   or {"gemma2": 2, "gemma3": 6}.get(arch))
        if pattern and pattern > 1:
            f["sliding_window_pattern"] = pattern
    experts = k("expert_count", maximum=MAX_EXPERTS, minimum=0)
    if experts and experts > 1:
        f.update(experts_total=experts, experts_active=k("expert_used_count", 2, maximum=MAX_EXPERTS),
                 experts_shared=k("expert_shared_count", 0, maximum=MAX_EXPERTS, minimum=0),
                 dense_layers=k("leading_dense_block_count", 0, maximum=MAX_LAYERS, minimum=0))
        expert_ffn = k("expert_feed_forward_length", maximum=MAX_FFN_SIZE, minimum=0)
        if expert_ffn:
            f["expert_ffn_size"] = expert_ffn
    kv_lora = k("attention.kv_lora_rank", maximum=MAX_HIDDEN_SIZE, minimum=0)
    if kv_lora:
        f.update(kv_lora_rank=kv_lora,
                 qk_rope_head_dim=k("rope.dimension_count", 64, maximum=MAX_HEAD_DIM))
        q_lora = k("attention.q_lora_rank", maximum=MAX_HIDDEN_SIZE, minimum=0)
        if q_lora:
            f["q_lora_rank"] = q_lora
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
