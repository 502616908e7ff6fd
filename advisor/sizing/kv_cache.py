"""KV cache bytes: grouped-query attention, sliding-window layers, multi-head latent attention,
KV precisions with their block overheads, and how each runtime rounds the cache length.

- Standard attention: K and V rows of kv_heads x head_dim a token a layer.
- Multi-head latent attention (DeepSeek V2/V3): one row of kv_lora_rank + qk_rope_head_dim a token
  a layer, no separate V (llama.cpp keeps V as a view of K; vLLM's MLA cache is one latent row).
  A GGUF converted before llama.cpp split attn_kv_b (mla_per_head_cache) caches per-head K
  (kv_heads x (qk_nope + qk_rope)) and V (kv_heads x v_head_dim) instead.
- Sliding-window layers hold at most the window (llama.cpp: window + one micro-batch a sequence,
  padded); global layers hold the whole context.
- Quantized caches use ggml blocks: q8_0 34 bytes a 32 elements, q4_0 18.
- llama.cpp pads the cache to 256 cells; vLLM allocates 16-token blocks a sequence; with tensor
  parallelism vLLM shards KV heads, replicating them when GPUs outnumber KV heads, and replicates
  the MLA latent cache on every GPU.
"""
from __future__ import annotations

from functools import lru_cache

from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c

KV_BYTES_PER_ELEMENT = {k: v[1] / v[0] for k, v in c.KV_DTYPE_BLOCKS.items()}


def _row_bytes(elements: int, kv_dtype: str) -> int:
    try:
        block, size = c.KV_DTYPE_BLOCKS[kv_dtype]
    except KeyError:
        raise AdvisorError(f"unknown KV cache precision '{kv_dtype}' "
                           f"(known: {', '.join(c.KV_DTYPE_BLOCKS)})") from None
    if elements % block:
        raise AdvisorError(f"a KV row of {elements} values does not split into {kv_dtype} "
                           f"blocks of {block}")
    return elements // block * size


def is_mla(a: Architecture) -> bool:
    """The cache holds multi-head latent attention's latent row (not per-head K and V)."""
    return bool(a.kv_lora_rank and a.qk_rope_head_dim) and not a.mla_per_head_cache


def kv_dtype_splits_rows(a: Architecture, kv_dtype: str) -> bool:
    """Every K and V row of `a` splits into `kv_dtype`'s blocks (a q8_0 or q4_0 cache needs rows
    of whole 32-value blocks; llama.cpp refuses the others). Unknown dtypes: False."""
    block = c.KV_DTYPE_BLOCKS.get(kv_dtype, (0,))[0]
    if not block:
        return False
    if is_mla(a):
        rows = (a.kv_lora_rank + a.qk_rope_head_dim,)
    else:
        rows = (a.head_dim, a.v_head_dim or a.head_dim) if a.mla_per_head_cache else (a.head_dim,)
    return all(r % block == 0 for r in rows)


def layer_is_sliding(a: Architecture, i: int) -> bool:
    if not a.sliding_window:
        return False
    if a.sliding_window_pattern:
        return (i + 1) % a.sliding_window_pattern != 0
    return True


def kv_row_bytes_per_token_layer(a: Architecture, kv_dtype: str = "fp16", kv_heads: int | None = None) -> int:
    """K and V bytes of one token in one layer (kv_heads overrides the heads held, for TP)."""
    if is_mla(a):
        return _row_bytes(a.kv_lora_rank + a.qk_rope_head_dim, kv_dtype)
    h = a.kv_heads if kv_heads is None else kv_heads
    if a.mla_per_head_cache:  # K of qk_nope + qk_rope, V of v_head_dim, each head
        return _row_bytes(h * a.head_dim, kv_dtype) + _row_bytes(h * a.v_head_dim, kv_dtype)
    return 2 * _row_bytes(h * a.head_dim, kv_dtype)


def kv_cache_bytes_per_token(a: Architecture, kv_dtype: str = "fp16") -> int:
    """Every layer, with the whole context on every layer (no window): the rate at which the
    cache grows below the sliding window."""
    return a.layers * kv_row_bytes_per_token_layer(a, kv_dtype)


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


@lru_cache(maxsize=4096)
def sliding_layer_count(a: Architecture) -> int:
    return sum(1 for i in range(a.layers) if layer_is_sliding(a, i))


def cells_full_and_sliding(a: Architecture, context_tokens: int, batch: int,
                           runtime: str | None) -> tuple[int, int]:
    """Cells a full-attention layer and a sliding-window layer hold for `batch` sequences of
    `context_tokens` (the second is 0 without a window)."""
    swa = 0
    if runtime == "llama.cpp":
        # one stream of cells a sequence (llama.cpp's default, non-unified KV cache): the
        # sliding layers keep window + one micro-batch a sequence ("creating SWA KV cache, size
        # = 1536 cells" for a 1024-token window at -ub 512), padded to 256 cells
        per_seq = _pad(context_tokens, c.LLAMACPP_KV_PAD_TOKENS)
        full = per_seq * batch
        if a.sliding_window:
            swa = min(per_seq, _pad(a.sliding_window + c.LLAMACPP_UBATCH_TOKENS,
                                    c.LLAMACPP_KV_PAD_TOKENS)) * batch
    elif runtime == "vllm":
        full = _pad(context_tokens, c.VLLM_BLOCK_TOKENS) * batch
        if a.sliding_window:
            swa = min(full, _pad(min(context_tokens, a.sliding_window), c.VLLM_BLOCK_TOKENS) * batch)
    else:
        full = context_tokens * batch
        if a.sliding_window:
            swa = min(context_tokens, a.sliding_window) * batch
    return full, swa


def layer_tokens(a: Architecture, context_tokens: int, batch: int, runtime: str | None) -> list[int]:
    """Cells each layer holds for `batch` sequences of `context_tokens`."""
    full, swa = cells_full_and_sliding(a, context_tokens, batch, runtime)
    return [swa if layer_is_sliding(a, i) else full for i in range(a.layers)]


def kv_heads_per_gpu(a: Architecture, tp: int) -> int:
    return max(a.kv_heads // tp, 1)


def kv_cache_bytes(a: Architecture, context_tokens: int, batch: int = 1, kv_dtype: str = "fp16",
                   runtime: str | None = None, gpus: int = 1) -> int:
    """KV cache bytes over all GPUs. runtime None: the bare formula, no rounding."""
    full, swa = cells_full_and_sliding(a, context_tokens, batch, runtime)
    n_swa = sliding_layer_count(a)
    cells = full * (a.layers - n_swa) + swa * n_swa  # = sum(layer_tokens(...)), without the list
    if runtime == "vllm" and gpus > 1:
        # tensor parallel: each GPU holds its share of KV heads (at least one); MLA's latent
        # row is not split by heads, every GPU holds all of it
        per = kv_row_bytes_per_token_layer(a, kv_dtype, kv_heads_per_gpu(a, gpus))
        return gpus * per * cells
    per = kv_row_bytes_per_token_layer(a, kv_dtype)
    return per * cells


def check_kv_dtype(kv_dtype: str, runtime: str) -> None:
    if runtime not in c.RUNTIME_KV_DTYPES:
        raise AdvisorError(f"unknown runtime '{runtime}' (known: {', '.join(c.RUNTIME_KV_DTYPES)})")
    if not kv_dtype.strip():
        raise AdvisorError(f"--kv-cache is empty: give one of {', '.join(c.RUNTIME_KV_DTYPES[runtime])} "
                           f"({runtime}'s), or leave it out")
    if kv_dtype not in c.RUNTIME_KV_DTYPES[runtime]:
        raise AdvisorError(f"{runtime} has no {kv_dtype} KV cache "
                           f"(it offers: {', '.join(c.RUNTIME_KV_DTYPES[runtime])})")


def kv_assumptions(a: Architecture, kv_dtype: str, runtime: str, flash_attn: bool = True) -> list[str]:
    block, size = c.KV_DTYPE_BLOCKS[kv_dtype]
    bits = size * 8 / block
    out = [f"KV cache {kv_dtype} ({bits:g} bits a value)"]
    if is_mla(a):
        out.append(f"multi-head latent attention: {a.kv_lora_rank} + {a.qk_rope_head_dim} "
                   "values a token a layer, no separate V")
    elif a.mla_per_head_cache:
        out.append(f"per-head K ({a.kv_heads} x {a.head_dim}) and V ({a.kv_heads} x "
                   f"{a.v_head_dim}): a GGUF converted before llama.cpp split attn_kv_b into "
                   "attn_k_b / attn_v_b (April 2025) caches no latent; a re-converted file "
                   f"holds {a.kv_lora_rank} + {a.qk_rope_head_dim} values a token a layer")
    else:
        out.append(f"{a.kv_heads} KV heads x {a.head_dim} (grouped-query attention), K and V")
    if a.sliding_window:
        n_sw = sum(layer_is_sliding(a, i) for i in range(a.layers))
        out.append(f"{n_sw} of {a.layers} layers slide over a {a.sliding_window}-token window")
    if runtime == "llama.cpp":
        if flash_attn:
            out.append(f"llama.cpp pads the cache to {c.LLAMACPP_KV_PAD_TOKENS} cells (flash attention on)")
        else:  # llama_kv_cache::get_padding: 256 with flash attention, else 32
            out.append(f"llama.cpp pads the cache to 32 cells with flash attention off; counted "
                       f"here at {c.LLAMACPP_KV_PAD_TOKENS} (at most {c.LLAMACPP_KV_PAD_TOKENS - 32} "
                       "tokens too many)")
    elif runtime == "vllm":
        out.append(f"vLLM allocates {c.VLLM_BLOCK_TOKENS}-token blocks; tensor parallel shards KV heads")
        if a.sliding_window:
            out.append("sliding layers sized as vLLM v1's hybrid KV cache manager keeps them")
    return out
