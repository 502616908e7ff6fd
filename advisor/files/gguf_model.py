"""A GGUF header's metadata as Architecture fields, and the precision its file type names."""
from __future__ import annotations

import re
from collections import Counter

from advisor.errors import AdvisorError
from advisor.files import quote
from advisor.files.gguf_file import GGUFHeader
from advisor.limits import (MAX_CONTEXT, MAX_CONV_KERNEL, MAX_EXPERTS, MAX_FFN_SIZE, MAX_HEAD_DIM, MAX_HEADS,
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
    hold a whole number (or, once get.layers is set, a per-layer array of exactly that many) from
    `minimum` to `maximum`, else AdvisorError naming the file and the key. Per-layer arrays (head
    counts, FFN widths) size for the largest; get.lists keeps them, by key."""
    shown_arch = quote.name(arch, 40)

    def get(key: str, default=None, *, maximum: int, minimum: int = 1):
        full = f"{arch}.{key}"
        shown = f"{shown_arch}.{key}"
        v = h.metadata.get(full)
        if full in h.array_lengths:  # a per-layer array: one value for each block
            n = h.array_lengths[full]
            if get.layers is None:
                raise AdvisorError(f"{h.path}: {shown} is an array of {n:,} values, not a "
                                   "whole number")
            if n != get.layers or not isinstance(v, list):
                raise AdvisorError(f"{h.path}: {shown} is an array of {n:,} values, but a "
                                   f"per-layer one holds one for each of the {get.layers} blocks")
        if v is None:  # missing
            return default
        if isinstance(v, list) and v:  # per layer: 0 for a layer without it (hybrid models)
            for x in v:
                problem = count_problem(x, maximum, 0)
                if problem:
                    raise AdvisorError(f"{h.path}: {shown} holds a value that {problem}")
            get.lists[key] = [int(x) for x in v]
            v = max(v)
        problem = count_problem(v, maximum, minimum)
        if problem:
            raise AdvisorError(f"{h.path}: {shown} {problem}")
        return int(v)
    get.layers = None
    get.lists = {}
    return get


# llama.cpp architectures (general.architecture, src/llama-arch.cpp) that are no decoder-only
# transformer the sizing models (its qwen3next hybrid is): encoders (embedding models),
# encoder-decoders, state-space and recurrent models (no attention KV cache), hybrids of
# attention with Mamba or convolution layers, and vision or audio encoders (mmproj files)
_NOT_DECODERS = {
    **{a: "an encoder-only network (embeddings, no decoding)" for a in (
        "bert", "nomic-bert", "nomic-bert-moe", "neo-bert", "jina-bert-v2", "jina-bert-v3",
        "modern-bert", "t5encoder", "roberta", "xlm-roberta", "eurobert")},
    **{a: "an encoder-decoder network" for a in ("t5", "whisper")},
    **{a: "a state-space or recurrent network (no attention KV cache)" for a in (
        "mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7")},
    **{a: "a hybrid of attention with state-space or convolution layers" for a in (
        "jamba", "falcon-h1", "plamo2", "granitehybrid", "nemotron_h", "lfm2", "lfm2moe")},
    **{a: "a vision or audio encoder (a multimodal projector file)" for a in (
        "clip", "wavtokenizer-dec")},
}


def gguf_architecture(h: GGUFHeader) -> tuple[dict, str, str]:
    """(Architecture fields, architecture name, model name) from a GGUF header. Every number
    is checked as read (a whole number within advisor.limits), and a file without tensors, or
    whose tensors leave out layers its block_count names, is refused: it describes no weights
    to size."""
    arch = h.metadata.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise AdvisorError(f"{h.path}: GGUF has no general.architecture")
    shown_arch = quote.name(arch, 40)
    kind = _NOT_DECODERS.get(arch.lower())
    if kind is not None and kind.startswith("a hybrid") and not any(
            ".ssm_" in t.name or ".shortconv" in t.name for t in h.tensors):
        kind = None  # a hybrid architecture's file with attention layers only (granite-4.0-micro)
    if kind is not None:
        raise AdvisorError(f"{h.path}: general.architecture {shown_arch} is "
                           f"{kind}, not a decoder-only transformer "
                           "language model (what this tool sizes: a KV cache in every attention "
                           "layer, token by token decoding)")
    if not h.tensors:
        raise AdvisorError(f"{h.path}: the file holds no tensors: it describes no weights to size "
                           "(a vocabulary-only or metadata-only GGUF)")
    k = _counts(h, arch)
    layers = k("block_count", maximum=MAX_LAYERS)
    k.layers = layers
    hidden = k("embedding_length", maximum=MAX_HIDDEN_SIZE)
    heads = k("attention.head_count", maximum=MAX_HEADS)
    if not (layers and hidden and heads):
        raise AdvisorError(f"{h.path}: GGUF lacks {shown_arch}.block_count, embedding_length or "
                           "attention.head_count: not a model this sizing knows")
    names = {t.name: t for t in h.tensors}
    blocks = {int(m.group(1)) for m in map(_BLOCK.match, names) if m}
    if not blocks.issuperset(range(layers)):
        raise AdvisorError(f"{h.path}: {shown_arch}.block_count is {layers}, but the tensors hold "
                           f"{len(blocks & set(range(layers)))} of those blocks: the file does not "
                           "describe the weights of the model it names")
    extra = sorted(b for b in blocks if b >= layers)
    if extra:  # the KV cache and the layer count would be sized for fewer layers than stored
        raise AdvisorError(f"{h.path}: {shown_arch}.block_count is {layers}, but the tensors hold "
                           f"blocks up to blk.{extra[-1]} ({len(extra)} more): the metadata does "
                           "not describe the weights the file holds")
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
                               and not n.endswith(("attn_q_norm.weight", "attn_k_norm.weight",
                                                   "ssm_norm.weight")))
    # any block: a hybrid model's first blocks may have no attention (qwen3next: blk.3 has it)
    f["qk_norm"] = any(n.startswith("blk.") and n.endswith(".attn_q_norm.weight") for n in names)
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
        f.update(_latent_attention(h, k, f, kv_lora, shown_arch))
        q_lora = k("attention.q_lora_rank", maximum=MAX_HIDDEN_SIZE, minimum=0)
        if q_lora:
            f["q_lora_rank"] = q_lora
    if arch == "qwen3next":
        f.update(_gated_deltanet(h, k, f, names, shown_arch))
    _check_kv_heads(h, shown_arch, k.lists, f)
    _check_tensors(h, shown_arch, f, names)
    name = h.metadata.get("general.name")
    name = name if isinstance(name, str) and name.strip() else h.path.stem
    return f, arch, name


def _gated_deltanet(h: GGUFHeader, k, f: dict, names: dict, arch: str) -> dict:
    """Qwen3-Next's hybrid layout from a qwen3next GGUF (keys convert_hf_to_gguf.py's
    Qwen3NextModel writes): full_attention_interval; ssm.conv_kernel (linear_conv_kernel_dim),
    ssm.state_size (linear_key_head_dim), ssm.group_count (linear_num_key_heads),
    ssm.time_step_rank (linear_num_value_heads), ssm.inner_size (value heads x their width);
    its gated attention and the shared expert's gate (blk.N.ffn_gate_inp_shexp)."""
    got = {key: k(key, maximum=top) for key, top in (
        ("full_attention_interval", MAX_LAYERS), ("ssm.conv_kernel", MAX_CONV_KERNEL),
        ("ssm.state_size", MAX_HEAD_DIM), ("ssm.group_count", MAX_HEADS),
        ("ssm.time_step_rank", MAX_HEADS), ("ssm.inner_size", MAX_HIDDEN_SIZE))}
    missing = [key for key, v in got.items() if not v]
    if missing or got["ssm.inner_size"] % got["ssm.time_step_rank"]:
        raise AdvisorError(f"{h.path}: {arch} lacks {', '.join(missing) or 'a whole value-head width'}"
                           ": its linear-attention layers cannot be sized")
    out = dict(full_attention_interval=got["full_attention_interval"], attn_output_gate=True,
               linear_conv_kernel=got["ssm.conv_kernel"], linear_key_head_dim=got["ssm.state_size"],
               linear_key_heads=got["ssm.group_count"], linear_value_heads=got["ssm.time_step_rank"],
               linear_value_head_dim=got["ssm.inner_size"] // got["ssm.time_step_rank"])
    shared = k("expert_shared_feed_forward_length", maximum=MAX_FFN_SIZE, minimum=0)
    if shared and f.get("expert_ffn_size") and shared % f["expert_ffn_size"] == 0:
        out["experts_shared"] = shared // f["expert_ffn_size"]
        out["shared_expert_gate"] = any(n.endswith(".ffn_gate_inp_shexp.weight") for n in names)
    return out


def _latent_attention(h: GGUFHeader, k, f: dict, kv_lora: int, arch: str) -> dict:
    """Multi-head latent attention fields of a DeepSeek-style GGUF. Two layouts exist
    (llama.cpp convert_hf_to_gguf.py, DeepseekV2Model):
    - converted since llama.cpp PR 12801 (April 2025): attention.key_length is the latent row
      (kv_lora_rank + rope), head_count_kv 1, and the per-head sizes are in
      attention.key_length_mla (qk_nope + qk_rope) and value_length_mla (v_head_dim); llama.cpp
      caches the latent;
    - converted before: key_length is qk_nope + qk_rope, value_length v_head_dim, head_count_kv
      the query heads, and llama.cpp caches per-head K and V (no attn_k_b / attn_v_b to absorb
      them): ollama issue 5136, DeepSeek V2 Lite at 32K, KV 8,640 MiB."""
    rope = k("rope.dimension_count", 64, maximum=MAX_HEAD_DIM)
    key_mla = k("attention.key_length_mla", maximum=MAX_HEAD_DIM, minimum=0)
    out = dict(kv_lora_rank=kv_lora, qk_rope_head_dim=rope)
    if key_mla:
        key, value = key_mla, k("attention.value_length_mla", maximum=MAX_HEAD_DIM, minimum=0)
        out.update(kv_heads=f["attention_heads"], head_dim=key)
    else:
        key, value = f["head_dim"], k("attention.value_length", maximum=MAX_HEAD_DIM, minimum=0)
        out["mla_per_head_cache"] = True
    if not value or key <= rope:
        raise AdvisorError(f"{h.path}: {arch} has attention.kv_lora_rank but its key length {key} "
                           f"and value length {value or 'none'} do not leave the "
                           f"{rope} rope dimensions a per-head part: not a latent-attention model "
                           "this sizing knows")
    out.update(qk_nope_head_dim=key - rope, v_head_dim=value)
    # The layout the metadata names must be the tensors': llama.cpp loads attn_k_b/attn_v_b when
    # the _mla lengths are there, attn_kv_b when not, and refuses a file that lacks them.
    parts = {t.name.rsplit(".", 2)[-2] for t in h.tensors if t.name.startswith("blk.")}
    has, wants = ("attn_kv_b", "attn_k_b") if key_mla else ("attn_k_b", "attn_kv_b")
    if has in parts and wants not in parts:
        raise AdvisorError(f"{h.path}: {arch}'s metadata {'has' if key_mla else 'lacks'} "
                           f"attention.key_length_mla, but its tensors are {has}, not {wants}: "
                           "the metadata and the tensors are of two conversions (llama.cpp "
                           "cannot load it)")
    return out


def _check_kv_heads(h: GGUFHeader, arch: str, lists: dict, f: dict) -> None:
    """Every layer's KV head count must divide its query head count (as config.json's must):
    read as full multi-head attention instead, the KV cache would be sized for another model.
    Per-layer counts that each divide but whose largest do not: the KV heads are rounded up to
    the next divisor (a KV cache no smaller than the file's)."""
    n = f["layers"]
    heads = lists.get("attention.head_count") or [f["attention_heads"]] * n
    kv = lists.get("attention.head_count_kv") or [f["kv_heads"]] * n
    for i, (q, c) in enumerate(zip(heads, kv)):
        if c and (q % c or c > q):
            per_layer = "attention.head_count" in lists or "attention.head_count_kv" in lists
            where = f" (block {i})" if per_layer else ""
            raise AdvisorError(f"{h.path}: {arch}.attention.head_count_kv {c} does not divide "
                               f"attention.head_count {q}{where}: not a model this sizing knows")
    if f["attention_heads"] % f["kv_heads"]:
        f["kv_heads"] = min(d for d in range(f["kv_heads"], f["attention_heads"] + 1)
                            if f["attention_heads"] % d == 0)


_EXPERTS = re.compile(r"^blk\.\d{1,6}\.ffn_(?:gate|up|down|gate_up)(?:_exps|\.\d{1,6})\.weight$")


def _check_tensors(h: GGUFHeader, arch: str, f: dict, names: dict) -> None:
    """The tensors must be the ones the metadata describes: the token embedding, output head and
    attention inputs take embedding_length values a row, and a mixture of experts holds expert
    tensors (one slice per expert). Otherwise the file is some other (or no) model, and sizing
    it from either its metadata or its tensors would be a wrong answer."""
    hidden = f["hidden_size"]
    checks = [n for n in ("token_embd.weight", "output.weight") if n in names]
    checks += [n for n in names if n.startswith("blk.") and n.endswith(".attn_q.weight")]
    for n in checks:
        if names[n].shape[0] != hidden:
            raise AdvisorError(f"{h.path}: tensor {quote.name(n)} has shape "
                               f"{list(names[n].shape)}, but {arch}.embedding_length is {hidden}: "
                               "the tensors are not the model the metadata describes")
    experts = f.get("experts_total")
    if experts:
        held = [names[n] for n in names if _EXPERTS.match(n)]
        if not held:
            raise AdvisorError(f"{h.path}: {arch}.expert_count is {experts}, but the file holds "
                               "no expert tensors (blk.N.ffn_*_exps): the tensors are not the "
                               "model the metadata describes")
        for t in held:
            if t.name.endswith("_exps.weight") and (len(t.shape) < 3 or t.shape[2] != experts):
                raise AdvisorError(f"{h.path}: tensor {quote.name(t.name)} holds "
                                   f"{t.shape[2] if len(t.shape) > 2 else 1} experts, but "
                                   f"{arch}.expert_count is {experts}")


def check_parameter_count(path, arch, tensors) -> None:
    """A file whose tensors hold under a quarter of the parameters its metadata's architecture
    has describes another model (the metadata of a 70B over 64x64 tensors): AdvisorError."""
    from advisor.sizing.tensors import parameter_count

    held = 0
    for t in tensors:
        n = 1
        for d in t.shape:
            n *= d
        held += n
    want = parameter_count(arch)
    if held * 4 < want:
        raise AdvisorError(f"{path}: the tensors hold {held:,} parameters, but the metadata "
                           f"describes a model of about {want:,}: the file is not the model its "
                           "metadata names")


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
