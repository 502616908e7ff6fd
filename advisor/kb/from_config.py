"""A KB model entry from a Hugging Face config.json, for `advisor kb add --from config.json`.

Pure: takes the parsed config (a dict) and returns a validated Model or its YAML text; reading
and writing files is the CLI's job. Each supported model_type maps its own keys, because the
same idea has a different name in each family (num_local_experts, num_experts,
n_routed_experts) and some facts are implied by the type rather than written down (Gemma's
four norms a layer, Phi-3's fused projections, Command R's one LayerNorm).
"""
from __future__ import annotations

import re
from dataclasses import fields
from typing import Any, Callable

from advisor.errors import AdvisorError
from advisor.files.hf import config_flag
from advisor.kb.schema import ID_PATTERN, Model
from advisor.limits import MAX_ID_CHARS, short

Config = dict[str, Any]


def _need(c: Config, key: str, model_type: str) -> Any:
    if c.get(key) is None:
        raise AdvisorError(f"config.json ({model_type}) has no '{key}'")
    return c[key]


def _int(c: Config, key: str, model_type: str) -> int:
    v = _need(c, key, model_type)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise AdvisorError(f"config.json field '{key}' must be an integer of at least 1, not {short(v)}")
    return v


def _base(c: Config, mt: str, tied_default: bool) -> dict:
    heads = _int(c, "num_attention_heads", mt)
    hidden = _int(c, "hidden_size", mt)
    head_dim = c.get("head_dim") or hidden // heads
    return {
        "layers": _int(c, "num_hidden_layers", mt),
        "hidden_size": hidden,
        "attention_heads": heads,
        "kv_heads": c.get("num_key_value_heads") or heads,
        "head_dim": head_dim,
        "ffn_size": _int(c, "intermediate_size", mt),
        "vocab_size": _int(c, "vocab_size", mt),
        "tied_embeddings": config_flag(c, "tie_word_embeddings", tied_default, "config.json"),
        "max_context": _int(c, "max_position_embeddings", mt),
    }


def _sliding_from_layer_types(c: Config, a: dict) -> None:
    """layer_types (newer transformers configs) -> sliding_window_pattern: every Nth layer
    global, or every layer sliding."""
    if not c.get("layer_types"):
        return
    from advisor.files.hf import layer_types

    types = layer_types(c, _int(c, "num_hidden_layers", c.get("model_type", "?")), "config.json")
    full = [t == "full_attention" for t in types]
    if all(full):
        a.pop("sliding_window", None)
        return
    a["sliding_window"] = _int(c, "sliding_window", c.get("model_type", "?"))
    if not any(full):
        a.pop("sliding_window_pattern", None)
        return
    for n in range(2, len(types) + 1):
        if full == [(i + 1) % n == 0 for i in range(len(types))]:
            a["sliding_window_pattern"] = n
            return
    raise AdvisorError("config.json layer_types mixes sliding and full attention in a pattern "
                       "other than every Nth layer global, which the KB cannot describe")


def _window(c: Config, a: dict) -> None:
    w = c.get("sliding_window")
    if w and w < a["max_context"]:
        a["sliding_window"] = w


def _attention_bias(c: Config, a: dict) -> None:
    if config_flag(c, "attention_bias", False, "config.json"):
        a["qkv_bias"] = a["attn_output_bias"] = True


def _llama(c: Config) -> dict:
    a = _base(c, "llama", False)
    _attention_bias(c, a)
    if config_flag(c, "mlp_bias", False, "config.json"):
        a["ffn_bias"] = True
    return a


def _mistral(c: Config) -> dict:
    a = _base(c, "mistral", False)
    _window(c, a)
    return a


def _qwen2(c: Config) -> dict:
    a = _base(c, "qwen2", False)
    a["qkv_bias"] = True
    if config_flag(c, "use_sliding_window", False, "config.json"):
        raise AdvisorError("config.json (qwen2) sets use_sliding_window: a window on only some "
                           "layers (max_window_layers) is not supported")
    return a


def _qwen3(c: Config) -> dict:
    a = _base(c, "qwen3", False)
    a["qk_norm"] = True
    _attention_bias(c, a)
    return a


def _qwen3_moe(c: Config) -> dict:
    a = _qwen3(c)
    if c.get("mlp_only_layers"):
        raise AdvisorError("config.json (qwen3_moe) lists mlp_only_layers: dense layers chosen "
                           "by list are not supported")
    a.update(experts_total=_int(c, "num_experts", "qwen3_moe"),
             experts_active=_int(c, "num_experts_per_tok", "qwen3_moe"),
             expert_ffn_size=_int(c, "moe_intermediate_size", "qwen3_moe"))
    if c.get("decoder_sparse_step", 1) > 1:
        a["moe_layer_step"] = c["decoder_sparse_step"]
    return a


def _mixtral(c: Config) -> dict:
    a = _base(c, "mixtral", False)
    _window(c, a)
    a.update(experts_total=_int(c, "num_local_experts", "mixtral"),
             experts_active=_int(c, "num_experts_per_tok", "mixtral"))
    return a


def _gemma2(c: Config) -> dict:
    a = _base(c, "gemma2", True)
    a["norms_per_layer"] = 4
    a["sliding_window"] = _int(c, "sliding_window", "gemma2")
    a["sliding_window_pattern"] = 2
    _sliding_from_layer_types(c, a)
    return a


def _gemma3_text(c: Config) -> dict:
    a = _base(c, "gemma3_text", True)
    a.update(norms_per_layer=4, qk_norm=True, sliding_window=_int(c, "sliding_window", "gemma3_text"),
             sliding_window_pattern=c.get("sliding_window_pattern") or 6)
    _sliding_from_layer_types(c, a)
    return a


def _phi3(c: Config) -> dict:
    a = _base(c, "phi3", False)
    a.update(fused_qkv=True, fused_gate_up=True)
    _window(c, a)
    return a


def _deepseek_v3(c: Config) -> dict:
    mt = "deepseek_v3"
    a = _base(c, mt, False)
    nope, rope = _int(c, "qk_nope_head_dim", mt), _int(c, "qk_rope_head_dim", mt)
    a.update(head_dim=nope + rope, kv_lora_rank=_int(c, "kv_lora_rank", mt), qk_rope_head_dim=rope,
             qk_nope_head_dim=nope, v_head_dim=_int(c, "v_head_dim", mt))
    if c.get("q_lora_rank"):
        a["q_lora_rank"] = c["q_lora_rank"]
    if c.get("n_routed_experts"):
        a.update(experts_total=c["n_routed_experts"], experts_active=_int(c, "num_experts_per_tok", mt),
                 experts_shared=c.get("n_shared_experts") or 0,
                 expert_ffn_size=_int(c, "moe_intermediate_size", mt),
                 dense_layers=c.get("first_k_dense_replace") or 0,
                 moe_layer_step=c.get("moe_layer_freq") or 1,
                 router_bias=c.get("topk_method") == "noaux_tc")
    return a


def _deepseek_v32(c: Config) -> dict:
    """DeepSeek V3.2: V3's keys plus the lightning indexer's index_n_heads, index_head_dim and
    index_topk."""
    mt = "deepseek_v32"
    a = _deepseek_v3(c)
    a.update(index_heads=_int(c, "index_n_heads", mt), index_head_dim=_int(c, "index_head_dim", mt),
             index_topk=_int(c, "index_topk", mt))
    return a


def _qwen3_next(c: Config) -> dict:
    """Qwen3-Next: gated full attention every full_attention_interval-th layer (or as
    layer_types lists them, when they repeat that way), Gated DeltaNet in the others, every layer
    MoE with a gated shared expert of shared_expert_intermediate_size."""
    mt = "qwen3_next"
    a = _qwen3_moe({**c, "model_type": mt})
    n = c.get("full_attention_interval") or 4
    types = c.get("layer_types")
    if types is not None:
        want = ["linear_attention" if (i + 1) % n else "full_attention" for i in range(a["layers"])]
        if list(types) != want:
            raise AdvisorError(f"config.json ({mt}) layer_types is not one full-attention layer "
                               f"every {n}: not supported")
    shared = c.get("shared_expert_intermediate_size") or 0
    if shared:
        if shared % a["expert_ffn_size"]:
            raise AdvisorError(f"config.json ({mt}) shared_expert_intermediate_size {shared} is not "
                               f"a multiple of moe_intermediate_size {a['expert_ffn_size']}")
        a.update(experts_shared=shared // a["expert_ffn_size"], shared_expert_gate=True)
    a.update(attn_output_gate=True, full_attention_interval=n,
             linear_key_heads=_int(c, "linear_num_key_heads", mt),
             linear_value_heads=_int(c, "linear_num_value_heads", mt),
             linear_key_head_dim=_int(c, "linear_key_head_dim", mt),
             linear_value_head_dim=_int(c, "linear_value_head_dim", mt),
             linear_conv_kernel=_int(c, "linear_conv_kernel_dim", mt))
    return a


def _gpt_oss(c: Config) -> dict:
    mt = "gpt_oss"
    a = _base(c, mt, False)
    active = c.get("num_experts_per_tok") or c.get("experts_per_token")
    if not active:
        raise AdvisorError("config.json (gpt_oss) has no 'num_experts_per_tok'")
    a.update(qkv_bias=True, attn_output_bias=True, ffn_bias=True, router_bias=True, attention_sinks=True,
             experts_total=_int(c, "num_local_experts", mt), experts_active=active)
    if (c.get("quantization_config") or {}).get("quant_method") == "mxfp4":
        a["expert_checkpoint_dtype"] = "mxfp4"
    if c.get("layer_types"):
        _sliding_from_layer_types(c, a)
    elif c.get("sliding_window"):
        a.update(sliding_window=c["sliding_window"], sliding_window_pattern=2)
    return a


def _cohere(c: Config) -> dict:
    a = _base(c, "cohere", True)
    a.update(norms_per_layer=1, parallel_attention=True, norm="layernorm")
    _attention_bias(c, a)
    if config_flag(c, "use_qk_norm", False, "config.json"):
        a.update(qk_norm=True, qk_norm_per_head=True)
    return a


MAPPERS: dict[str, Callable[[Config], dict]] = {
    "llama": _llama, "mistral": _mistral, "qwen2": _qwen2, "qwen3": _qwen3, "qwen3_moe": _qwen3_moe,
    "mixtral": _mixtral, "gemma2": _gemma2, "gemma3_text": _gemma3_text, "phi3": _phi3,
    "deepseek_v3": _deepseek_v3, "gpt_oss": _gpt_oss, "cohere": _cohere,
    "deepseek_v32": _deepseek_v32, "qwen3_next": _qwen3_next,
}
# Multimodal wrappers whose text model is one of the above, in text_config.
_WRAPPERS = {"gemma3": "gemma3_text"}


def architecture_from_config(config: Config) -> tuple[dict, bool]:
    """The KB architecture fields of a config.json, and whether a vision tower was left out."""
    if not isinstance(config, dict):
        raise AdvisorError("config.json must hold a JSON object")
    model_type = config.get("model_type")
    vision = False
    if model_type in _WRAPPERS:
        text = config.get("text_config")
        if not isinstance(text, dict):
            raise AdvisorError(f"config.json ({model_type}) has no 'text_config'")
        config = {**text, "model_type": _WRAPPERS[model_type]}
        model_type, vision = _WRAPPERS[model_type], True
    mapper = MAPPERS.get(model_type)
    if mapper is None:
        supported = ", ".join(sorted([*MAPPERS, *_WRAPPERS]))
        raise AdvisorError(f"config.json model_type {model_type!r} is not supported; supported: {supported}")
    return mapper(config), vision


def default_id(config: Config) -> str | None:
    """An id from the config's _name_or_path ("Qwen/Qwen3-8B" -> "qwen3-8b"), if it makes one."""
    name = config.get("_name_or_path") if isinstance(config, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None
    cand = name.rstrip("/").split("/")[-1].lower()
    return cand if len(cand) <= MAX_ID_CHARS and re.fullmatch(ID_PATTERN, cand) else None


def model_from_config(config: Config, model_id: str, source: str) -> Model:
    """A validated KB model entry; source names the config file it came from."""
    arch, vision = architecture_from_config(config)
    if len(model_id) > MAX_ID_CHARS:
        raise AdvisorError(f"id {short(model_id)} is {len(model_id):,} characters long: a KB id "
                           f"(and its file name) has at most {MAX_ID_CHARS}")
    if not re.fullmatch(ID_PATTERN, model_id):
        raise AdvisorError(f"id {short(model_id)} is not a KB id (lower case letters, digits, '.', '-')")
    name = config.get("_name_or_path") if isinstance(config.get("_name_or_path"), str) else None
    precision, said = _stored_precision(config, source)
    from advisor.files import hf_class

    cls = hf_class(config)
    entry = {
        "id": model_id,
        "name": name.rstrip("/").split("/")[-1] if name else model_id,
        "family": config["model_type"],
        "aliases": [name] if name and "/" in name else [],
        "architecture": arch,
        "vision_tower_excluded": vision,
        "sources": [{"fields": ["architecture"] + (["hf_architecture"] if cls else [])
                               + (["native_precision"] if precision else []),
                     "source": source,
                     "note": f"mapped from model_type {config['model_type']} by advisor kb add"
                             f"{'; native_precision from its ' + said if precision else ''}; "
                             "no published parameter count recorded yet"}],
    }
    if precision:
        entry["native_precision"] = precision
    if cls:
        entry["hf_architecture"] = cls
    from advisor.kb.validate import ValidationError, error_message, validate

    try:
        return validate(Model, entry)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(entry)"
        raise AdvisorError(f"{source}: the mapped entry is not valid: field '{where}': "
                           f"{error_message(err)}") from None


def _stored_precision(config: Config, source: str) -> tuple[str | None, str]:
    """The precision the checkpoint is stored at, where config.json names it (its
    quantization_config, or its torch_dtype / dtype), and the key that named it; (None, "")
    where it names none (then explain says the format is assumed). A value the sizing cannot
    read is an AdvisorError, as explain's reading of the same config is."""
    from advisor.files.hf import checkpoint_precision, mlx_quantization
    from advisor.sizing.precision import parse_precision

    if mlx_quantization(config) is not None:  # mlx-lm's block, where it wrote it
        said = "quantization" if config.get("quantization") is not None else "quantization_config"
    elif config.get("quantization_config") is not None:
        said = "quantization_config"
    elif config.get("torch_dtype") is not None or config.get("dtype") is not None:
        said = "torch_dtype" if config.get("torch_dtype") is not None else "dtype"
    else:
        return None, ""
    precision = checkpoint_precision(config, source)
    parse_precision(precision)  # one line naming it when the sizing has no such format
    return precision, said


_ARCH_ORDER = ["layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "ffn_size", "vocab_size",
               "tied_embeddings", "max_context"]


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_./\-]*", s) and s.lower() not in ("true", "false", "null", "yes", "no"):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def model_yaml(m: Model) -> str:
    """The entry as YAML in the KB's layout; fields left at their defaults are not written."""
    arch = m.architecture
    defaults = {f.name: f.default for f in fields(arch)}
    lines = [f"id: {m.id}", f"name: {_scalar(m.name)}", f"family: {_scalar(m.family)}",
             "aliases: [" + ", ".join(_scalar(a) for a in m.aliases) + "]",
             "siblings: [" + ", ".join(m.siblings) + "]"]
    if m.hf_architecture:
        lines.append(f"hf_architecture: {m.hf_architecture}")
    lines.append("architecture:")
    names = _ARCH_ORDER + [k for k in defaults if k not in _ARCH_ORDER]
    for k in names:
        v = getattr(arch, k)
        if k in _ARCH_ORDER or v != defaults[k]:
            lines.append(f"  {k}: {_scalar(v)}")
    if m.vision_tower_excluded:
        lines.append("vision_tower_excluded: true")
    if m.native_precision:
        lines.append(f"native_precision: {_scalar(m.native_precision)}")
    lines.append("sources:")
    for s in m.sources:
        lines.append("  - fields: [" + ", ".join(s.fields) + "]")
        lines.append(f"    source: {_scalar(s.source)}")
        if s.note:
            lines.append(f"    note: {_scalar(s.note)}")
    return "\n".join(lines) + "\n"
