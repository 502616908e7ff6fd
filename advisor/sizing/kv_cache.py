"""KV cache bytes, with grouped-query attention: only kv_heads heads are cached."""
from __future__ import annotations

from advisor.kb.schema import Architecture

KV_BYTES_PER_ELEMENT = {"fp16": 2, "bf16": 2, "fp32": 4, "fp8": 1}


def kv_cache_bytes_per_token(a: Architecture, kv_dtype: str = "fp16") -> int:
    """K and V, every layer, every KV head: 2 x layers x kv_heads x head_dim x bytes."""
    return 2 * a.layers * a.kv_heads * a.head_dim * KV_BYTES_PER_ELEMENT[kv_dtype]


def kv_cache_bytes(a: Architecture, context_tokens: int, batch: int = 1, kv_dtype: str = "fp16") -> int:
    return kv_cache_bytes_per_token(a, kv_dtype) * context_tokens * batch
