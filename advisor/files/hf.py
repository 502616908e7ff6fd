"""Hugging Face models on disk: config.json to an Architecture, a snapshot folder's safetensors,
and repo ids found in the local Hugging Face cache (HF_HOME, else ~/.cache/huggingface). Offline:
nothing is downloaded."""
from __future__ import annotations

import json
import os
from pathlib import Path

from advisor.errors import AdvisorError

MAX_CONFIG_BYTES = 4 << 20


def read_config(path: Path) -> dict:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise AdvisorError(f"{path}: a config.json of {path.stat().st_size} bytes is not plausible")
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AdvisorError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AdvisorError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise AdvisorError(f"{path}: not a JSON object")
    return cfg


def _int(cfg: dict, *keys, default=None):
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            return v
        if isinstance(v, list) and v and all(isinstance(x, int) for x in v):
            return max(v)  # per-layer values: size for the largest
    return default


def architecture_fields(cfg: dict, where: str) -> dict:
    """The Architecture fields a transformers config gives (text model of multimodal configs)."""
    if isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg, **cfg["text_config"]}
    mt = str(cfg.get("model_type", ""))
    layers = _int(cfg, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _int(cfg, "hidden_size", "n_embd", "d_model")
    heads = _int(cfg, "num_attention_heads", "n_head")
    if not (layers and hidden and heads):
        raise AdvisorError(f"{where}: config lacks num_hidden_layers, hidden_size or "
                           "num_attention_heads: not a decoder-only transformer config")
    kv = _int(cfg, "num_key_value_heads", "num_kv_heads", default=heads)
    experts = _int(cfg, "num_local_experts", "num_experts", "n_routed_experts")
    moe_ffn = _int(cfg, "moe_intermediate_size")
    ffn = _int(cfg, "intermediate_size", "n_inner", "ffn_dim", default=4 * hidden)
    f = dict(
        layers=layers, hidden_size=hidden, attention_heads=heads, kv_heads=kv,
        head_dim=_int(cfg, "head_dim", default=hidden // heads),
        ffn_size=ffn, vocab_size=_int(cfg, "vocab_size", default=0),
        tied_embeddings=bool(cfg.get("tie_word_embeddings", mt.startswith("gemma"))),
        max_context=_int(cfg, "max_position_embeddings", "n_positions", "seq_length", default=4096),
        qkv_bias=bool(cfg.get("attention_bias", mt in ("qwen2", "qwen2_moe"))),
    )
    sw = _int(cfg, "sliding_window")
    if sw and cfg.get("use_sliding_window", True) and sw < f["max_context"]:
        f["sliding_window"] = sw
        pattern = _int(cfg, "sliding_window_pattern")
        if isinstance(cfg.get("layer_types"), list):
            lt = cfg["layer_types"]
            n_full = sum(1 for t in lt if t in ("full_attention", "global_attention", "attention"))
            if n_full and len(lt) % n_full == 0 and n_full < len(lt):
                pattern = len(lt) // n_full
        if pattern is None and mt == "gemma2":
            pattern = 2
        if pattern and pattern > 1:
            f["sliding_window_pattern"] = pattern
    if experts and experts > 1:
        f.update(experts_total=experts,
                 experts_active=_int(cfg, "num_experts_per_tok", "num_experts_per_token",
                                     "moe_top_k", default=2),
                 experts_shared=_int(cfg, "n_shared_experts", default=0) or 0,
                 dense_layers=_int(cfg, "first_k_dense_replace", default=0) or 0)
        if moe_ffn:
            f["expert_ffn_size"] = moe_ffn
    for k in ("kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
        v = _int(cfg, k)
        if v:
            f[k] = v
    if f.get("kv_lora_rank") and f.get("qk_nope_head_dim") and f.get("qk_rope_head_dim"):
        f["head_dim"] = f["qk_nope_head_dim"] + f["qk_rope_head_dim"]
    return f


def checkpoint_precision(cfg: dict) -> str:
    """The precision name a checkpoint is stored at, from its quantization_config / dtype."""
    q = cfg.get("quantization_config")
    if isinstance(q, dict):
        method = str(q.get("quant_method", "")).lower()
        if method == "bitsandbytes":
            return "nf4" if q.get("load_in_4bit") else "int8"
        if method == "gptq":
            bits = q.get("bits", 4)
            return "gptq" if bits == 4 else f"gptq-int{bits}"
        if method == "awq":
            return "awq"
        if method in ("fp8", "fbgemm_fp8", "compressed-tensors", "compressed_tensors"):
            skip = q.get("modules_to_not_convert") or q.get("ignore") or []
            if any("self_attn" in str(m) for m in skip):
                return "fp8-ffn"  # attention left in BF16, as Meta's Llama 3.1 FP8 release
            return "fp8"
        return method or "unknown"
    dtype = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16")
    return {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}.get(dtype, "bf16")


def hf_cache_dir() -> Path:
    home = os.environ.get("HF_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "huggingface"
    return Path(os.environ.get("HF_HUB_CACHE", base / "hub"))


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of a repo id in the local cache (refs/main, else the newest)."""
    if repo_id.count("/") != 1 or any(p in ("", ".", "..") for p in repo_id.split("/")):
        return None
    root = hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    snaps = root / "snapshots"
    if not snaps.is_dir():
        return None
    ref = root / "refs" / "main"
    if ref.is_file():
        rev = ref.read_text(encoding="utf-8", errors="replace").strip()
        if rev and (snaps / rev).is_dir():
            return snaps / rev
    dirs = sorted((d for d in snaps.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
    return dirs[-1] if dirs else None
