"""KV cache bytes: grouped-query attention, sliding-window layers, multi-head latent attention,
KV precisions with their block overheads, and how each runtime rounds the cache length.

- Standard attention: K and V rows of kv_heads x head_dim a token a layer.
- Multi-head latent attention (DeepSeek V2/V3): one row of kv_lora_rank + qk_rope_head_dim a token
  a layer, no separate V (llama.cpp keeps V as a view of K; vLLM's MLA cache is one latent row).
  A GGUF converted before llama.cpp split attn_kv_b (mla_per_head_cache) caches per-head K
  (kv_heads x (qk_nope + qk_rope)) and V (kv_heads x v_head_dim) instead.
- Sliding-window layers hold at most the window (llama.cpp: window + one micro-batch a sequence,
  padded); global layers hold the whole context.
- Quantized caches use ggml blocks of 32 elements: q8_0 34 bytes, q5_1 24, q5_0 22, q4_1 20,
  q4_0 and iq4_nl 18.
- llama.cpp pads the cache to 256 cells; vLLM allocates 16-token blocks a sequence; with tensor
  parallelism vLLM shards KV heads, replicating them when GPUs outnumber KV heads, and replicates
  the MLA latent cache on every GPU.
- DeepSeek V3.2's lightning indexer caches one key of index_head_dim values a token a layer beside
  the latent. llama.cpp keeps it in a second cache of the same cells and K type
  (src/llama-kv-cache-dsa.cpp: one KV head of indexer_head_size, no V, type_k). vLLM stores it
  as FP8 with an fp32 scale a 128 values (132 bytes for V3.2; DeepseekV32IndexerCache in
  vllm/model_executor/models/deepseek_v2.py), pages both in 64-token blocks, keeps both whole
  on every GPU, and with an fp8 cache stores the latent as "fp8_ds_mla", 656 bytes a token a
  layer (constants.py).
- Cross-attention layers (Llama 3.2 Vision) cache K and V of the cross_attention_tokens image
  tokens a sequence (one image at the most tiles), whatever the context; the other layers cache
  the context. transformers, the one runtime here that runs them, keeps them in its cache's
  cross-attention layers (MllamaForConditionalGeneration).
- Hybrid linear attention (Qwen3-Next): only every full_attention_interval-th layer has a KV
  cache; each Gated DeltaNet layer keeps, a sequence, a conv state of (linear_conv_kernel - 1) x
  conv_dim values and a linear_value_heads x linear_key_head_dim x linear_value_head_dim
  recurrent state, whatever the context. llama.cpp holds them in F32, one slot a sequence
  (llama_memory_recurrent, n_embd_r() and n_embd_s() in src/llama-hparams.cpp with
  convert_hf_to_gguf.py's ssm_* keys; recurrent_kv_size max(1, n_seq_max) in
  src/llama-model.cpp). vLLM holds them in the model dtype (MambaStateShapeCalculator.
  gated_delta_net_state_shape, shards divided by tensor parallelism) and makes one page size
  for both kinds (HybridAttentionMambaModelConfig.verify_and_update_config): the attention
  block grows to the 16-token multiple whose page holds one layer's state, and the state page
  is padded to it; a sequence takes one such page a linear layer.
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
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
    if a.index_head_dim:
        rows += (a.index_head_dim,)
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


def attention_layer_count(a: Architecture) -> int:
    """Layers with a KV cache: all of them, but only the full-attention ones of a hybrid
    linear-attention model (Qwen3-Next: 12 of 48)."""
    return a.layers - a.linear_layer_count - a.cross_attention_layer_count


def indexer_row_bytes(a: Architecture, kv_dtype: str = "fp16", runtime: str | None = None) -> int:
    """Bytes of the lightning indexer's cached key, one token in one layer (0 without an
    indexer): index_head_dim values of the K type (llama.cpp, and the bare formula), or vLLM's
    FP8 values with one fp32 scale a 128 (132 for DeepSeek V3.2, whatever kv_dtype is)."""
    if not a.index_head_dim:
        return 0
    if runtime in ("vllm", "sglang"):  # SGLang's NSATokenToKVPool stores it the same way
        d = a.index_head_dim
        return d + -(-d // c.VLLM_FP8_SCALE_BLOCK) * c.VLLM_FP8_SCALE_BYTES
    return _row_bytes(a.index_head_dim, kv_dtype)


def _vllm_latent_row_bytes(a: Architecture, kv_dtype: str) -> int:
    """vLLM's latent row for DeepSeek V3.2: "fp8_ds_mla" with an fp8 cache (kv_lora_rank FP8
    values, an fp32 scale a 128 of them, the rope part in 16 bits: 656 bytes), else the plain
    latent row."""
    if kv_dtype == "fp8" and a.index_heads:
        r = a.kv_lora_rank
        return (r + -(-r // c.VLLM_FP8_SCALE_BLOCK) * c.VLLM_FP8_SCALE_BYTES
                + a.qk_rope_head_dim * c.MODEL_DTYPE_STATE_BYTES)
    return kv_row_bytes_per_token_layer(a, kv_dtype)


def linear_state_elements(a: Architecture, tp: int = 1) -> tuple[int, int]:
    """(conv, recurrent) state values one Gated DeltaNet layer keeps for one sequence, on one
    of `tp` tensor-parallel GPUs: (linear_conv_kernel - 1) x conv_dim / tp and
    linear_value_heads / tp x linear_key_head_dim x linear_value_head_dim (Qwen3-Next: 24,576
    and 524,288 at tp 1). (0, 0) without linear attention. Same counts in llama.cpp (n_embd_r,
    n_embd_s) and vLLM (gated_delta_net_state_shape)."""
    if not a.full_attention_interval:
        return 0, 0
    from advisor.sizing.tensors import linear_conv_dim

    conv = (a.linear_conv_kernel - 1) * -(-linear_conv_dim(a) // tp)
    rec = -(-a.linear_value_heads // tp) * a.linear_key_head_dim * a.linear_value_head_dim
    return conv, rec


def recurrent_state_bytes(a: Architecture, batch: int = 1, runtime: str | None = None) -> int:
    """Bytes of every linear-attention layer's state for `batch` sequences on one GPU, as
    llama.cpp allocates it (F32, at least one slot) or in the model's 16 bits (vLLM before its
    page padding, transformers, the bare formula). 0 without linear attention."""
    conv, rec = linear_state_elements(a)
    if runtime in GGML_RUNTIMES:
        return a.linear_layer_count * max(1, batch) * (conv + rec) * c.LLAMACPP_RECURRENT_STATE_BYTES
    return a.linear_layer_count * batch * (conv + rec) * c.MODEL_DTYPE_STATE_BYTES


def vllm_hybrid_block_tokens(a: Architecture, kv_dtype: str = "bf16", gpus: int = 1) -> int:
    """vLLM's attention block size for a hybrid linear-attention model: the smallest multiple
    of 16 tokens whose page (block x one layer's K and V row on one GPU) holds one layer's
    state (HybridAttentionMambaModelConfig; Qwen3-Next at BF16: 544 tokens on one GPU)."""
    attn = kv_row_bytes_per_token_layer(a, kv_dtype, kv_heads_per_gpu(a, gpus))
    conv, rec = linear_state_elements(a, gpus)
    state = (conv + rec) * c.MODEL_DTYPE_STATE_BYTES
    align = c.VLLM_BLOCK_TOKENS
    return align * -(-state // (align * attn))


def _hybrid_cache_bytes(a: Architecture, context_tokens: int, batch: int, kv_dtype: str,
                        runtime: str | None, gpus: int) -> int:
    """KV cache of the full-attention layers plus the linear layers' states, over all GPUs."""
    n_attn, n_lin = attention_layer_count(a), a.linear_layer_count
    if runtime == "vllm":
        tp = max(gpus, 1)
        attn = kv_row_bytes_per_token_layer(a, kv_dtype, kv_heads_per_gpu(a, tp))
        block = vllm_hybrid_block_tokens(a, kv_dtype, tp)
        per_gpu = (n_attn * _pad(context_tokens, block) * attn + n_lin * block * attn) * batch
        return tp * per_gpu
    cells = _pad(context_tokens, c.LLAMACPP_KV_PAD_TOKENS) * batch if runtime in GGML_RUNTIMES \
        else context_tokens * batch
    return (n_attn * cells * kv_row_bytes_per_token_layer(a, kv_dtype)
            + recurrent_state_bytes(a, batch, runtime))


def kv_cache_bytes_per_token(a: Architecture, kv_dtype: str = "fp16") -> int:
    """Every layer with a KV cache, with the whole context on every layer (no window), and the
    indexer's key: the rate at which the cache grows below the sliding window (a linear layer's
    fixed state does not grow: recurrent_state_bytes)."""
    return attention_layer_count(a) * (kv_row_bytes_per_token_layer(a, kv_dtype)
                                       + indexer_row_bytes(a, kv_dtype))


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
    if runtime in GGML_RUNTIMES:
        # one stream of cells a sequence (llama.cpp's default, non-unified KV cache): the
        # sliding layers keep window + one micro-batch a sequence ("creating SWA KV cache, size
        # = 1536 cells" for a 1024-token window at -ub 512), padded to 256 cells
        per_seq = _pad(context_tokens, c.LLAMACPP_KV_PAD_TOKENS)
        full = per_seq * batch
        if a.sliding_window:
            swa = min(per_seq, _pad(a.sliding_window + c.LLAMACPP_UBATCH_TOKENS,
                                    c.LLAMACPP_KV_PAD_TOKENS)) * batch
    elif runtime == "vllm":
        block = c.VLLM_SPARSE_MLA_BLOCK_TOKENS if a.index_heads else c.VLLM_BLOCK_TOKENS
        full = _pad(context_tokens, block) * batch
        if a.sliding_window:
            swa = min(full, _pad(min(context_tokens, a.sliding_window), c.VLLM_BLOCK_TOKENS) * batch)
    elif runtime == "mlx":
        # KVCache grows by 256-token steps; a sliding layer's RotatingKVCache keeps its window
        full = _pad(context_tokens, c.MLX_KV_STEP_TOKENS) * batch
        if a.sliding_window:
            swa = min(full, min(context_tokens, a.sliding_window) * batch)
    else:
        full = context_tokens * batch
        if a.sliding_window:
            swa = min(context_tokens, a.sliding_window) * batch
    return full, swa


def layer_tokens(a: Architecture, context_tokens: int, batch: int, runtime: str | None) -> list[int]:
    """Cells each layer holds for `batch` sequences of `context_tokens` (0 for a linear-attention
    layer, which keeps a fixed state instead)."""
    full, swa = cells_full_and_sliding(a, context_tokens, batch, runtime)
    cross = a.cross_attention_tokens or 0
    return [0 if a.is_linear_layer(i) else cross * batch if a.is_cross_attention_layer(i)
            else swa if layer_is_sliding(a, i) else full for i in range(a.layers)]


def kv_heads_per_gpu(a: Architecture, tp: int) -> int:
    return max(a.kv_heads // tp, 1)


def kv_cache_bytes(a: Architecture, context_tokens: int, batch: int = 1, kv_dtype: str = "fp16",
                   runtime: str | None = None, gpus: int = 1) -> int:
    """KV cache bytes over all GPUs, with the lightning indexer's key cache and the linear
    layers' recurrent states (the memory that grows with sequences and context). runtime None:
    the bare formula, no rounding."""
    if a.full_attention_interval:
        return _hybrid_cache_bytes(a, context_tokens, batch, kv_dtype, runtime, gpus)
    full, swa = cells_full_and_sliding(a, context_tokens, batch, runtime)
    n_swa = sliding_layer_count(a)
    n_cross = a.cross_attention_layer_count
    # = sum(layer_tokens(...)), without the list
    cells = full * (a.layers - n_swa - n_cross) + swa * n_swa
    if n_cross:  # the image tokens, a sequence, in every cross-attention layer
        cells += n_cross * (a.cross_attention_tokens or 0) * batch
    index = indexer_row_bytes(a, kv_dtype, runtime) * full * a.layers
    if runtime == "vllm":
        per = (_vllm_latent_row_bytes(a, kv_dtype) if a.index_heads
               else kv_row_bytes_per_token_layer(a, kv_dtype, kv_heads_per_gpu(a, gpus)))
        # tensor parallel: each GPU holds its share of KV heads (at least one); MLA's latent
        # row (and the indexer's key) is not split by heads, every GPU holds all of it
        return max(gpus, 1) * (per * cells + index)
    if runtime == "sglang":
        # one slot a token (page size 1); KV heads sharded over TP (at least one a GPU), the MLA
        # latent and the indexer key whole on every GPU (advisor.sizing.sglang_memory)
        per = kv_row_bytes_per_token_layer(a, kv_dtype, None if is_mla(a) else kv_heads_per_gpu(a, gpus))
        return max(gpus, 1) * (per * cells + index)
    per = kv_row_bytes_per_token_layer(a, kv_dtype)
    return per * cells + index


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
    if a.cross_attention_interval:
        out.append(f"{a.cross_attention_layer_count} of {a.layers} layers are cross-attention layers: "
                   f"they cache {a.cross_attention_tokens:,} image tokens a sequence (one image, "
                   "all tiles), not the context")
    if a.index_heads:
        if runtime == "vllm":
            out.append(f"lightning indexer key cache: {indexer_row_bytes(a, kv_dtype, runtime)} bytes "
                       f"a token a layer (FP8 + scales), {c.VLLM_SPARSE_MLA_BLOCK_TOKENS}-token "
                       "blocks; attention reads the "
                       f"top {a.index_topk} tokens")
        else:
            out.append(f"lightning indexer key cache: {a.index_head_dim} values a token a layer "
                       f"beside the latent; attention reads the top {a.index_topk} tokens")
    if a.full_attention_interval:
        n_lin = a.linear_layer_count
        conv, rec = linear_state_elements(a)
        kind = ("F32" if runtime in GGML_RUNTIMES else "16-bit")
        out.append(f"{a.layers - n_lin} of {a.layers} layers have a KV cache; the other {n_lin} "
                   f"(Gated DeltaNet) keep a fixed {kind} state of {conv + rec:,} values a sequence "
                   "each, whatever the context")
        if runtime == "vllm":
            out.append(f"vLLM pages the hybrid cache in {vllm_hybrid_block_tokens(a, kv_dtype)}-token "
                       "attention blocks (one page holds a layer's state)")
    if a.sliding_window:
        n_sw = sum(layer_is_sliding(a, i) for i in range(a.layers))
        out.append(f"{n_sw} of {a.layers} layers slide over a {a.sliding_window}-token window")
    if runtime in GGML_RUNTIMES:
        if flash_attn:
            out.append(f"llama.cpp pads the cache to {c.LLAMACPP_KV_PAD_TOKENS} cells (flash attention on)")
        else:  # llama_kv_cache::get_padding: 256 with flash attention, else 32
            out.append(f"llama.cpp pads the cache to 32 cells with flash attention off; counted "
                       f"here at {c.LLAMACPP_KV_PAD_TOKENS} (at most {c.LLAMACPP_KV_PAD_TOKENS - 32} "
                       "tokens too many)")
    elif runtime == "mlx":
        out.append(f"mlx-lm grows the cache in {c.MLX_KV_STEP_TOKENS}-token steps"
                   + (" (--kv-bits: a 16-bit scale and bias a group of 64 values)"
                      if kv_dtype.startswith("mlx-") else ""))
    elif runtime == "sglang":
        out.append("SGLang keeps one KV slot a token (page size 1); tensor parallel shards KV "
                   "heads, the latent of multi-head latent attention is whole on every GPU")
        if a.sliding_window:
            out.append("sliding layers counted at their window (SGLang's hybrid SWA pool divides "
                       "its slots by --swa-full-tokens-ratio, not modelled)")
    elif runtime == "vllm":
        if not (a.full_attention_interval or a.index_heads):
            out.append(f"vLLM allocates {c.VLLM_BLOCK_TOKENS}-token blocks; tensor parallel shards KV heads")
        if a.sliding_window:
            out.append("sliding layers sized as vLLM v1's hybrid KV cache manager keeps them")
    return out
