"""Hugging Face models on disk: config.json to an Architecture, a snapshot folder's safetensors,
and repo ids found in the local Hugging Face cache (HF_HOME, else ~/.cache/huggingface). Offline:
nothing is downloaded."""
from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

from advisor.errors import AdvisorError
from advisor.files import quote

from advisor.limits import (MAX_ROPE_THETA, MAX_CONFIG_BYTES, MAX_CONTEXT, MAX_CONV_KERNEL, MAX_EXPERTS, MAX_FFN_SIZE,
                            MAX_HEAD_DIM, MAX_HEADS, MAX_HIDDEN_SIZE, MAX_INT_DIGITS, MAX_LAYERS,
                            MAX_VOCAB, count_problem)


def _parse_int(text: str) -> int:
    """json's int parser with a bound on digits (Python refuses over 4,300 with a ValueError)."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def _no_duplicates(pairs: list) -> dict:
    """json's object hook refusing a key given twice ({"a": 1, "a": 2} reads as a = 2 in json,
    as a = 1 in other parsers: which one the file means is unknowable)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"key {quote.name(k)} appears twice in one object")
            seen.add(k)
    return out


def strict_json(text: str | bytes):
    """json.loads with integers bounded to MAX_INT_DIGITS digits and duplicate keys refused:
    ValueError (json.JSONDecodeError for bad syntax), RecursionError for deep nesting."""
    return json.loads(text, parse_int=_parse_int, object_pairs_hook=_no_duplicates)


def read_json(path: Path, limit: int, what: str):
    """A small JSON file (config.json, a safetensors index): a regular file of at most `limit`
    bytes read with strict_json; AdvisorError naming the file otherwise."""
    from advisor.readfile import read_text

    text = read_text(path, limit, what)
    try:
        return strict_json(text)
    except json.JSONDecodeError as exc:
        raise AdvisorError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise AdvisorError(f"{path}: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # from _parse_int, _no_duplicates
        raise AdvisorError(f"{path}: not valid JSON: {exc}") from None


def read_config(path: Path) -> dict:
    """A config.json as a dict: a regular file of at most MAX_CONFIG_BYTES holding a JSON
    object; AdvisorError naming the file otherwise."""
    cfg = read_json(path, MAX_CONFIG_BYTES, "config.json")
    if not isinstance(cfg, dict):
        raise AdvisorError(f"{path}: not a JSON object")
    return cfg


class _Ints:
    """Whole-number fields of a config, each checked as read: a key that is present (not null)
    must hold a whole number (or a list of them, per layer) from `minimum` to `maximum`, else
    AdvisorError naming the file and the key."""

    def __init__(self, cfg: dict, where: str):
        self.cfg, self.where = cfg, where

    def __call__(self, *keys, maximum: int, minimum: int = 1, default=None):
        for k in keys:
            v = self.cfg.get(k)
            if v is None:
                continue
            if isinstance(v, list) and v:  # per layer (0 where a layer has none): the largest
                for x in v:
                    problem = count_problem(x, maximum, 0)
                    if problem:
                        raise AdvisorError(f"{self.where}: {k} holds a value that {problem}")
                v = max(v)
            problem = count_problem(v, maximum, minimum)
            if problem:
                raise AdvisorError(f"{self.where}: {k} {problem}")
            return int(v)
        return default


# model_types of encoder-only networks (no decoding, no KV cache: embeddings and classifiers),
# which a decoder's sizing would answer wrongly (transformers' model_type of each)
_ENCODERS = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "albert", "electra",
                       "deberta", "deberta-v2", "mpnet", "camembert", "modernbert", "nomic_bert",
                       "xlm", "ernie", "esm", "longformer", "big_bird", "funnel"})


# model_types of networks that are no decoder-only transformer, or whose decoder is not one the
# sizing models (a KV cache in every layer, or Qwen3-Next's hybrid): encoder-decoders whose
# config may leave is_encoder_decoder at its class default (T5, BART, Whisper ...), state-space
# and recurrent models (no KV cache: Mamba, RWKV, xLSTM), hybrids of attention with Mamba or
# convolution layers, and vision or audio encoders (transformers' model_type of each)
_NOT_DECODERS = {
    **{m: "an encoder-decoder network" for m in (
        "t5", "mt5", "umt5", "bart", "mbart", "pegasus", "pegasus_x", "marian", "whisper",
        "longt5", "switch_transformers", "prophetnet", "fsmt", "blenderbot", "blenderbot-small",
        "led", "m2m_100", "nllb-moe", "speech_to_text", "seamless_m4t", "encoder-decoder",
        "t5gemma")},
    **{m: "a state-space or recurrent network (no attention KV cache)" for m in (
        "mamba", "mamba2", "falcon_mamba", "rwkv", "rwkv5", "rwkv6", "rwkv7", "xlstm",
        "recurrent_gemma")},
    **{m: "a hybrid of attention with state-space or convolution layers" for m in (
        "jamba", "zamba", "zamba2", "bamba", "falcon_h1", "nemotron_h", "granitemoehybrid",
        "lfm2", "lfm2_moe", "plamo2")},
    **{m: "a vision or audio encoder" for m in (
        "clip", "siglip", "siglip2", "vit", "dinov2", "wav2vec2", "hubert", "wavlm",
        "clip_vision_model", "siglip_vision_model")},
}


def _all_attention(cfg: dict) -> bool:
    """A hybrid model_type's config whose layer_types are all attention (IBM's
    granite-4.0-micro: GraniteMoeHybridForCausalLM with no Mamba layer): a plain decoder."""
    lt = cfg.get("layer_types")
    return (isinstance(lt, list) and bool(lt)
            and all(t in ("attention", "full_attention") for t in lt))


def config_flag(cfg: dict, key: str, default: bool, where: str) -> bool:
    """A true/false field of a config.json: JSON true or false (absent or null: default). A
    string such as "false" is an AdvisorError: read as Python's truth it would mean true."""
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise AdvisorError(f"{where}: {key} is {quote.value(value)}, not true or false")
    return value


def layer_types(cfg: dict, layers: int, where: str) -> list[str]:
    """config.json's layer_types: one attention kind (a string) for each of the `layers`
    layers, else AdvisorError (a shorter or longer list would describe another model)."""
    lt = cfg.get("layer_types")
    if not isinstance(lt, list) or not all(isinstance(t, str) for t in lt):
        raise AdvisorError(f"{where}: layer_types is {quote.value(lt)}, not a list of attention "
                           "kinds (strings), one a layer")
    if len(lt) != layers:
        from advisor.render import count

        raise AdvisorError(f"{where}: layer_types names {count(len(lt), 'layer')}, but "
                           f"num_hidden_layers is {layers:,}")
    return lt


def architecture_fields(cfg: dict, where: str) -> dict:
    """The Architecture fields a transformers config gives (text model of multimodal configs).
    Every number is checked as read (a whole number within advisor.limits), so nothing derived
    from it divides by zero or sizes a billion layers."""
    if isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg, **cfg["text_config"]}
    mt = str(cfg.get("model_type", ""))
    if mt.lower() in _NOT_DECODERS and cfg.get("is_encoder_decoder") is not True and not (
            _NOT_DECODERS[mt.lower()].startswith("a hybrid") and _all_attention(cfg)):
        raise AdvisorError(f"{where}: model_type {quote.value(mt)} is {_NOT_DECODERS[mt.lower()]}, "
                           "not a decoder-only transformer language model (what this tool sizes: "
                           "a KV cache in every attention layer, token by token decoding)")
    if mt.lower() in _ENCODERS or cfg.get("is_encoder_decoder") is True:
        kind = "an encoder-decoder" if cfg.get("is_encoder_decoder") is True else "an encoder-only"
        raise AdvisorError(f"{where}: model_type {quote.value(mt)} is {kind} network, not a "
                           "decoder-only language model (what the sizing is of: a KV cache, "
                           "token by token decoding)")
    n = _Ints(cfg, where)
    layers = n("num_hidden_layers", "n_layer", "num_layers", maximum=MAX_LAYERS)
    hidden = n("hidden_size", "n_embd", "d_model", maximum=MAX_HIDDEN_SIZE)
    heads = n("num_attention_heads", "n_head", maximum=MAX_HEADS)
    missing = [k for k, v in (("num_hidden_layers", layers), ("hidden_size", hidden),
                              ("num_attention_heads", heads)) if v is None]
    if missing:
        raise AdvisorError(f"{where}: config lacks {', '.join(missing)}: not a decoder-only "
                           "transformer config")
    kv = n("num_key_value_heads", "num_kv_heads", maximum=MAX_HEADS, default=heads)
    experts = n("num_local_experts", "num_experts", "n_routed_experts", maximum=MAX_EXPERTS,
                minimum=0)
    moe_ffn = n("moe_intermediate_size", maximum=MAX_FFN_SIZE)
    ffn = n("intermediate_size", "n_inner", "ffn_dim", maximum=MAX_FFN_SIZE, default=4 * hidden)
    f = dict(
        layers=layers, hidden_size=hidden, attention_heads=heads, kv_heads=kv,
        head_dim=n("head_dim", maximum=MAX_HEAD_DIM, default=max(hidden // heads, 1)),
        ffn_size=ffn, vocab_size=n("vocab_size", maximum=MAX_VOCAB, default=0),
        tied_embeddings=config_flag(cfg, "tie_word_embeddings", mt.startswith("gemma"), where),
        max_context=n("max_position_embeddings", "n_positions", "seq_length", maximum=MAX_CONTEXT,
                      default=4096),
        qkv_bias=config_flag(cfg, "attention_bias", mt in ("qwen2", "qwen2_moe"), where),
    )
    sw = n("sliding_window", maximum=MAX_CONTEXT, minimum=0)
    if sw and config_flag(cfg, "use_sliding_window", True, where) and sw < f["max_context"]:
        f["sliding_window"] = sw
        pattern = n("sliding_window_pattern", maximum=MAX_LAYERS, minimum=0)
        if cfg.get("layer_types") is not None:
            lt = layer_types(cfg, layers, where)
            n_full = sum(1 for t in lt if t in ("full_attention", "global_attention", "attention"))
            if n_full and len(lt) % n_full == 0 and n_full < len(lt):
                pattern = len(lt) // n_full
        if pattern is None and mt == "gemma2":
            pattern = 2
        if pattern and pattern > 1:
            f["sliding_window_pattern"] = pattern
    if experts and experts > 1:
        f.update(experts_total=experts,
                 experts_active=n("num_experts_per_tok", "num_experts_per_token", "moe_top_k",
                                  maximum=MAX_EXPERTS, default=2),
                 experts_shared=n("n_shared_experts", maximum=MAX_EXPERTS, minimum=0, default=0),
                 dense_layers=n("first_k_dense_replace", maximum=MAX_LAYERS, minimum=0, default=0))
        if moe_ffn:
            f["expert_ffn_size"] = moe_ffn
    for k, top in (("kv_lora_rank", MAX_HIDDEN_SIZE), ("q_lora_rank", MAX_HIDDEN_SIZE),
                   ("qk_rope_head_dim", MAX_HEAD_DIM), ("qk_nope_head_dim", MAX_HEAD_DIM),
                   ("v_head_dim", MAX_HEAD_DIM)):
        v = n(k, maximum=top, minimum=0)
        if v:
            f[k] = v
    if f.get("kv_lora_rank") and f.get("qk_nope_head_dim") and f.get("qk_rope_head_dim"):
        f["head_dim"] = f["qk_nope_head_dim"] + f["qk_rope_head_dim"]
    _new_layer_kinds(cfg, mt, n, f, moe_ffn)
    return f


# The rope_theta transformers assumes when a config gives none (PretrainedConfig's 10,000).
_DEFAULT_ROPE_THETA = 10000.0
# The largest YaRN factor read from a config: published ones are 4 (Qwen2.5, Qwen3), 8 and 32
# (DeepSeek V3: 40 over 4,096); 64 leaves room above them and bounds original x factor.
_MAX_YARN_FACTOR = 64
# transformers' name for the layer kind whose positions bound the context (its layer_types:
# "full_attention", beside "sliding_attention", "linear_attention", "chunked_attention").
_FULL_ATTENTION = "full_attention"


def _rope_block(cfg: dict, where: str) -> tuple[str, dict] | None:
    """The rope block of a config that decides its context, with the key it was read under:
    `rope_scaling` (transformers v4), else `rope_parameters` (v5, which reads rope_scaling as
    an alias), flat or nested by layer type. None where there is none.

    transformers v5 (src/transformers/modeling_rope_utils.py, RotaryEmbeddingConfigMixin
    .standardize_rope_params and validate_rope) keeps one flat dict ("Case 1": rope_type,
    factor, original_max_position_embeddings, rope_theta ...) unless the dict's keys are a subset
    of the config's layer_types ("Case 2: different RoPE for each layer -> several params as
    nested dict"), as Gemma 3's {"full_attention": {"rope_type": ..., "rope_theta": 1e6, ...},
    "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}. Only full-attention
    layers see every position (a sliding layer sees its window), so the full_attention entry's
    scaling is the context extension, as vLLM's Gemma 3 reads its rope for the global layers
    only. A nested dict is recognised as transformers does (keys within layer_types) or, where
    the config gives no layer_types, by its values being all dicts under *_attention keys."""
    for key in ("rope_scaling", "rope_parameters"):
        block = cfg.get(key)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise AdvisorError(f"{where}: {key} is {quote.value(block)}, not an object")
        if not block:
            return None
        layer_kinds = cfg.get("layer_types")
        kinds = set(layer_kinds) if isinstance(layer_kinds, list) and all(
            isinstance(t, str) for t in layer_kinds) else None
        nested = (set(block) <= kinds) if kinds else (
            all(isinstance(k, str) and k.endswith("_attention") for k in block))
        if not nested:
            return key, block
        for kind, entry in block.items():
            if not isinstance(entry, dict):
                raise AdvisorError(f"{where}: {key}.{kind} is {quote.value(entry)}, not an "
                                   "object of rope parameters")
        if _FULL_ATTENTION not in block:  # no full-attention layer is rope-scaled
            return None
        return f"{key}.{_FULL_ATTENTION}", block[_FULL_ATTENTION]
    return None


def yarn_scaling(cfg: dict, max_context: int, where: str) -> dict | None:
    """The YaRN rope scaling a config.json declares, where it lengthens the context beyond
    max_position_embeddings: {type, factor, original_context, rope_theta, context} with
    context = original_max_position_embeddings (else max_position_embeddings) x factor, the
    length vLLM derives from such a config (_get_and_verify_max_len). Read from `rope_scaling`
    or transformers v5's `rope_parameters`, flat or nested by layer type (its full_attention
    entry: _rope_block), its kind spelled `type` or `rope_type` (text model of a multimodal
    config). None for no scaling, another kind (llama3's scaling keeps max_position_embeddings
    as the length), or one that reaches no further than max_position_embeddings (factor 1.0 is
    valid and extends nothing). Numbers as transformers takes them: a factor from 1 to
    _MAX_YARN_FACTOR, an original_max_position_embeddings that is a whole number (8192.0 too)
    from 1 to max_position_embeddings, a positive rope_theta; anything else (a string, NaN,
    infinity, a fraction, a negative or absurd value) is an AdvisorError naming the key."""
    if isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg, **cfg["text_config"]}
    found = _rope_block(cfg, where)
    if found is None:
        return None
    key, block = found
    if str(block.get("rope_type", block.get("type", ""))).lower() != "yarn":
        return None
    factor, original = block.get("factor"), block.get("original_max_position_embeddings", max_context)
    theta = block.get("rope_theta", cfg.get("rope_theta", _DEFAULT_ROPE_THETA))

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    ok = (number(factor) and 1 <= factor <= _MAX_YARN_FACTOR
          and count_problem(original, max_context) is None
          and number(theta) and 0 < theta <= MAX_ROPE_THETA)
    if not ok:
        raise AdvisorError(f"{where}: {key} of type yarn needs a factor from 1 to "
                           f"{_MAX_YARN_FACTOR}, an original_max_position_embeddings that is a "
                           f"whole number from 1 to max_position_embeddings ({max_context:,}) and "
                           f"a rope_theta above 0 (at most {MAX_ROPE_THETA:g}), not "
                           f"{quote.value(json.dumps(block))}")
    original = int(original)
    context = min(int(original * factor), MAX_CONTEXT)
    if context <= max_context:
        return None
    return {"type": "yarn", "factor": float(factor), "original_context": original,
            "rope_theta": float(theta), "context": context}


def _new_layer_kinds(cfg: dict, mt: str, n: "_Ints", f: dict, moe_ffn: int | None) -> None:
    """The layer kinds beyond softmax attention that the KB schema sizes (docs/models.md "New
    layer kinds"): Qwen3-Next's Gated DeltaNet layers and gated shared expert, DeepSeek V3.2's
    lightning indexer, Llama 3.2 Vision's cross-attention layers. Read from their own keys, so
    their caches are not sized as full attention in every layer."""
    if mt == "qwen3_next":
        f.update(attn_output_gate=True, qk_norm=True,
                 full_attention_interval=n("full_attention_interval", maximum=MAX_LAYERS, default=4),
                 linear_key_heads=n("linear_num_key_heads", maximum=MAX_HEADS),
                 linear_value_heads=n("linear_num_value_heads", maximum=MAX_HEADS),
                 linear_key_head_dim=n("linear_key_head_dim", maximum=MAX_HEAD_DIM),
                 linear_value_head_dim=n("linear_value_head_dim", maximum=MAX_HEAD_DIM),
                 linear_conv_kernel=n("linear_conv_kernel_dim", maximum=MAX_CONV_KERNEL))
        shared = n("shared_expert_intermediate_size", maximum=MAX_FFN_SIZE, minimum=0)
        if shared and moe_ffn and shared % moe_ffn == 0 and f.get("experts_total"):
            f.update(experts_shared=shared // moe_ffn, shared_expert_gate=True)
    if f.get("q_lora_rank") and cfg.get("index_topk") is not None:
        f.update(index_heads=n("index_n_heads", maximum=MAX_HEADS),
                 index_head_dim=n("index_head_dim", maximum=MAX_HEAD_DIM),
                 index_topk=n("index_topk", maximum=MAX_CONTEXT))
    cross = cfg.get("cross_attention_layers")
    if mt.startswith("mllama") and isinstance(cross, list) and cross:
        n("cross_attention_layers", maximum=MAX_LAYERS - 1, minimum=0)  # whole numbers in range
        first, step = cross[0], (cross[1] - cross[0] if len(cross) > 1 else f["layers"])
        if step < 2 or list(cross) != list(range(first, f["layers"], step)):
            raise AdvisorError(f"{n.where}: cross_attention_layers is not every Nth layer from "
                               "the first: not a layout the sizing knows")
        vision = cfg.get("vision_config") if isinstance(cfg.get("vision_config"), dict) else {}
        v = _Ints(vision, f"{n.where}: vision_config")
        side = (v("image_size", maximum=MAX_CONTEXT, default=560)
                // v("patch_size", maximum=MAX_CONTEXT, default=14))
        tiles = v("max_num_tiles", maximum=MAX_LAYERS, default=4)
        f.update(cross_attention_interval=step, cross_attention_first=first,
                 cross_attention_tokens=tiles * (side * side + 1), embedding_extra_rows=8)


# torch_dtype names (and the short names some configs write) -> the precision they store
_DTYPES = {"float16": "fp16", "fp16": "fp16", "half": "fp16", "bfloat16": "bf16", "bf16": "bf16",
           "float32": "fp32", "fp32": "fp32", "float": "fp32",
           "float8_e4m3fn": "fp8", "float8_e5m2": "fp8"}


def mlx_quantization(cfg: dict) -> dict | None:
    """mlx-lm's quantization block of a config.json (`quantization`, which mlx_lm.convert -q
    writes, and newer releases copy to `quantization_config`, neither with a quant_method:
    {"group_size": 64, "bits": 4}), or None where the config has none. mlx-lm's
    utils.quantize_model writes it (ml-explore/mlx-lm d78bf58e217c904ec282ed8da9b947491f78c022);
    a quantization_config with a quant_method is another library's."""
    q, qc = cfg.get("quantization"), cfg.get("quantization_config")
    if isinstance(qc, dict) and "quant_method" not in qc and ("bits" in qc or "group_size" in qc):
        return qc
    if qc is None and q is not None:
        return q if isinstance(q, dict) else {"bits": q}
    return None


def _mlx_precision(block: dict, where: str) -> str:
    """The MLX format (mlx-3bit ... mlx-8bit) of mlx-lm's quantization block; AdvisorError for
    a mode, width or group size the sizing does not know, or a per-layer width that differs
    from the model's (sized at one width, the weights would be another model's)."""
    from advisor.sizing.precision import MLX_BITS, MLX_GROUP_SIZE

    known = ", ".join(sorted(MLX_BITS, key=MLX_BITS.get))
    mode = block.get("mode", "affine")
    if mode != "affine":
        raise AdvisorError(f"{where}: MLX quantization mode {quote.value(mode)}: the sizing "
                           f"knows MLX's affine mode ({known}, group size {MLX_GROUP_SIZE})")
    bits, group = block.get("bits"), block.get("group_size", MLX_GROUP_SIZE)
    name = f"mlx-{bits}bit" if isinstance(bits, int) and not isinstance(bits, bool) else None
    if name not in MLX_BITS or group != MLX_GROUP_SIZE or isinstance(group, bool):
        raise AdvisorError(f"{where}: MLX quantization at bits {quote.value(bits)}, group_size "
                           f"{quote.value(group)}: the sizing knows group size {MLX_GROUP_SIZE} at "
                           f"{', '.join(str(b) for b in sorted(MLX_BITS.values()))} bits ({known})")
    for key, layer in block.items():
        if isinstance(layer, dict) and layer.get("bits", bits) != bits:
            raise AdvisorError(f"{where}: MLX quantization gives {quote.name(str(key))} "
                               f"{quote.value(layer.get('bits'))} bits beside the model's {bits}: "
                               "the sizing knows one width for every layer")
    return name


def _weight_schemes(q: dict) -> list[dict]:
    """The `weights` blocks of a compressed-tensors quantization_config's config_groups (each
    group: targets, weights {num_bits, type, group_size, strategy}, input_activations)."""
    groups = q.get("config_groups")
    if not isinstance(groups, dict):
        return []
    out = []
    for g in groups.values():
        w = g.get("weights") if isinstance(g, dict) else None
        if isinstance(w, dict):
            out.append({**w, "_activations": g.get("input_activations")})
    return out


def _compressed_tensors_kind(q: dict) -> str:
    """'int4' (W4A16: 4-bit integer weights, 16-bit activations) or 'fp8' (8-bit float
    weights), the only compressed-tensors schemes the sizing knows (_compressed_tensors_weights
    refuses the others first)."""
    w = _weight_schemes(q)
    return "int4" if w and all(x.get("type") == "int" and x.get("num_bits") == 4 for x in w) else "fp8"


def _compressed_tensors_weights(q: dict, where: str) -> None:
    """Refuse (AdvisorError, one line) a compressed-tensors config whose weight groups are not
    FP8 (num_bits 8, type float) or W4A16 (num_bits 4, type int, activations unquantized): INT8
    W8A8/W8A16, NVFP4 (num_bits 4, type float), 2- or 3-bit, mixed or missing groups. Read as
    FP8 they would size another checkpoint than the folder's (the preset schemes llm-compressor
    writes: W4A16, W8A16, W8A8, FP8, NVFP4, neuralmagic/compressed-tensors quant_scheme.py)."""
    w = _weight_schemes(q)
    if not w:
        raise AdvisorError(f"{where}: compressed-tensors quantization_config has no config_groups "
                           "with weights: cannot tell how the weights are stored")
    kinds = set()
    for x in w:
        bits, typ, act = x.get("num_bits"), x.get("type"), x.get("_activations")
        if typ == "float" and bits == 8:
            kinds.add("fp8")
        elif typ == "int" and bits == 4 and not act:
            kinds.add("int4")
        else:
            name = ("NVFP4" if (typ == "float" and bits == 4) else
                    "INT8 (W8A8/W8A16)" if (typ == "int" and bits == 8) else
                    f"{quote.value(bits)}-bit {quote.value(typ)}" + (" with quantized activations"
                                                                      if typ == "int" and bits == 4 else ""))
            raise AdvisorError(f"{where}: compressed-tensors {name} weights: the sizing knows "
                               "compressed-tensors FP8 and W4A16 (4-bit integer weights, 16-bit "
                               "activations) only")
    if len(kinds) > 1:
        raise AdvisorError(f"{where}: compressed-tensors config_groups mix FP8 and 4-bit weights: "
                           "the sizing sizes one format a checkpoint")


def checkpoint_precision(cfg: dict, where: str = "config.json") -> str:
    """The precision name a checkpoint is stored at, from its quantization_config / dtype, or
    mlx-lm's quantization block (mlx_quantization: mlx-4bit ...). A quantization_config that is
    not an object or names no quant_method, or a dtype the sizing does not know, is an
    AdvisorError: read as bf16 it would size another model than the file's."""
    mlx = mlx_quantization(cfg)
    if mlx is not None:
        return _mlx_precision(mlx, where)
    q = cfg.get("quantization_config")
    if q is not None and not isinstance(q, dict):
        raise AdvisorError(f"{where}: quantization_config is {quote.value(q)}, not an object "
                           "with a quant_method: cannot tell how the weights are stored")
    if isinstance(q, dict):
        if "quant_method" not in q:
            raise AdvisorError(f"{where}: quantization_config names no quant_method: cannot "
                               "tell how the weights are stored")
        raw = q.get("quant_method", "")
        method = raw.lower() if isinstance(raw, str) else quote.value(raw)
        if method == "bitsandbytes":
            if q.get("load_in_4bit") is True and q.get("load_in_8bit") is True:
                # transformers' BitsAndBytesConfig: "load_in_4bit and load_in_8bit are both
                # True, but only one can be used at the same time"
                raise AdvisorError(f"{where}: bitsandbytes quantization_config sets both "
                                   "load_in_4bit and load_in_8bit: only one can be used")
            return "nf4" if q.get("load_in_4bit") else "int8"
        if method == "gptq":
            group = q.get("group_size")
            if group is not None and (isinstance(group, bool) or not isinstance(group, int)
                                      or group == 0 or group < -1):
                # GPTQ's group_size: a positive count of weights a scale, or -1 (one group a row)
                raise AdvisorError(f"{where}: GPTQ group_size {quote.value(group)} is no group "
                                   "size (a positive number of weights, or -1 for a row)")
            bits = q.get("bits", 4)
            return "gptq" if bits == 4 else f"gptq-int{quote.value(bits)}"
        if method == "awq":
            if q.get("bits", 4) != 4:  # AWQ kernels (AutoAWQ, vLLM's) are 4-bit only
                raise AdvisorError(f"{where}: AWQ at {quote.value(q.get('bits'))} bits: the sizing "
                                   "knows 4-bit AWQ only (AutoAWQ's and vLLM's kernels)")
            return "awq"
        if method in ("compressed-tensors", "compressed_tensors"):
            _compressed_tensors_weights(q, where)  # FP8 weights, else one line: refused
        if method in ("fp8", "fbgemm_fp8", "compressed-tensors", "compressed_tensors"):
            kind = _compressed_tensors_kind(q) if "compressed" in method else "fp8"
            if kind == "int4":
                return "int4"
            skip = q.get("modules_to_not_convert") or q.get("ignore") or []
            if isinstance(skip, list) and any("self_attn" in str(m) for m in skip):
                return "fp8-ffn"  # attention left in BF16, as Meta's Llama 3.1 FP8 release
            return "fp8"
        return method or "unknown"
    key = "torch_dtype" if cfg.get("torch_dtype") is not None else "dtype"
    dtype = cfg.get(key)
    if dtype is None:
        return "bf16"
    if isinstance(dtype, str) and dtype.removeprefix("torch.").lower() in _DTYPES:
        return _DTYPES[dtype.removeprefix("torch.").lower()]
    raise AdvisorError(f"{where}: {key} {quote.value(dtype)} is not a dtype the sizing knows "
                       "(float16, bfloat16, float32)")


def hf_cache_dir() -> Path:
    home = os.environ.get("HF_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "huggingface"
    return Path(os.environ.get("HF_HUB_CACHE", base / "hub"))


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of a repo id in the local cache (refs/main, else the newest)."""
    if repo_id.count("/") != 1 or any(p in ("", ".", "..") for p in repo_id.split("/")):
        return None
    try:
        return _snapshot(hf_cache_dir() / ("models--" + repo_id.replace("/", "--")))
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # no repo has such a name: it is not cached
            return None
        raise AdvisorError(f"{exc.filename or hf_cache_dir()}: cannot read the Hugging Face "
                           f"cache: {exc.strerror or exc}") from None


def _snapshot(root: Path) -> Path | None:
    snaps = root / "snapshots"
    if not snaps.is_dir():
        return None
    ref = root / "refs" / "main"
    if ref.is_file():
        from advisor.readfile import UnreadableFile, read_text

        try:
            rev = read_text(ref, MAX_REF_BYTES, "refs/main").strip()
        except UnreadableFile:
            rev = ""
        # a commit hash names one folder of snapshots/: never a path (`../../..`) out of it
        if _plain_name(rev) and _inside(snaps / rev, snaps):
            return snaps / rev
    dirs = sorted((d for d in snaps.iterdir() if d.is_dir() and _inside(d, snaps)),
                  key=lambda d: d.stat().st_mtime)
    return dirs[-1] if dirs else None


MAX_REF_BYTES = 1024  # refs/main holds a 40-character commit hash


def _plain_name(name: str) -> bool:
    """A single path component: not empty, '.', '..', and without a separator or NUL."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


def _inside(folder: Path, parent: Path) -> bool:
    """Whether folder is a folder that lies inside parent once links are resolved."""
    try:
        return folder.is_dir() and folder.resolve().is_relative_to(parent.resolve())
    except (OSError, RuntimeError, ValueError):
        return False
