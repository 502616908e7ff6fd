"""Facts about the memory model: the runtime, the KV precision, the largest context that fits at
each KV precision, and two ways out that keep the weights as they are: a quantized KV cache and a
shorter context (rules quantize-kv-cache and shorter-context).

KV-cache quality costs live in advisor/data/kv_quality.yaml, one measurement per precision with
its source, as weight formats' do in quant_quality.yaml.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import yaml

from advisor.facts.question import Question
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.plan import Placement, place

_KV_QUALITY = Path(__file__).resolve().parent.parent / "data" / "kv_quality.yaml"

FACTS: dict[str, tuple[str, str]] = {
    "kv_cache_dtype": ("str", "KV cache precision asked for (--kv-cache)"),
    "max_context_tokens": ("int", "largest context that fits at kv_cache_dtype, at most the "
                                  "model's max_context (0: none)"),
    "max_context_tokens_fp16": ("int", "largest context that fits with an fp16 KV cache"),
    "max_context_tokens_q8_0": ("int", "largest context with a q8_0 KV cache (llama.cpp only)"),
    "max_context_tokens_q4_0": ("int", "largest context with a q4_0 KV cache (llama.cpp only)"),
    "model_max_context_tokens": ("int", "the model's own context limit"),
    "kv_quantize_dtype": ("str", "the highest-precision smaller KV cache the runtime offers at which "
                                 "the asked context fits"),
    "kv_quantize_kv_cache_bytes": ("int", "KV cache at kv_quantize_dtype"),
    "kv_quantize_saves_bytes": ("int", "what kv_quantize_dtype saves against the asked KV cache"),
    "kv_quantize_total_bytes": ("int", "total memory with the KV cache at kv_quantize_dtype"),
    "kv_quantize_headroom_bytes": ("int", "headroom with the KV cache at kv_quantize_dtype"),
    "kv_quantize_max_context_tokens": ("int", "largest context that fits at kv_quantize_dtype"),
    "kv_quantize_quality_cost": ("str", "measured quality cost of kv_quantize_dtype"),
    "kv_quantize_quality_measured_on": ("str", "the model and runtime it was measured on"),
    "kv_quantize_quality_source": ("str", "where the measurement was published"),
    "shorter_context_tokens": ("int", "the largest context that fits (a multiple of 256), when it "
                                      "is shorter than asked and at least 1,024 tokens"),
    "shorter_context_total_bytes": ("int", "total memory at shorter_context_tokens"),
    "shorter_context_headroom_bytes": ("int", "headroom at shorter_context_tokens"),
}
# `runtime` (--runtime) is registered by advisor/facts/commands.py
ALWAYS = {"kv_cache_dtype", "max_context_tokens", "model_max_context_tokens"}
TOGETHER = [{k for k in FACTS if k.startswith("kv_quantize_")},
            {k for k in FACTS if k.startswith("shorter_context_")}]

# KV precisions from most to fewest bits a value (q8_0 keeps a scale a block of 32: 8.5 bits).
KV_BY_BITS = sorted(c.KV_DTYPE_BLOCKS, key=lambda d: -c.KV_DTYPE_BLOCKS[d][1] / c.KV_DTYPE_BLOCKS[d][0])
# A shorter context is offered down to this many tokens: below it a system prompt and one
# exchange barely fit, and the advice would be a different model, not a shorter context.
SHORTER_CONTEXT_MIN_TOKENS = 1024


@lru_cache(maxsize=1)
def kv_quality_table() -> dict[str, dict]:
    return yaml.safe_load(_KV_QUALITY.read_text(encoding="utf-8"))


def _bits(dtype: str) -> float:
    block, size = c.KV_DTYPE_BLOCKS[dtype]
    return 8 * size / block


def _kv_quantize(q: Question, pl: Placement, f: dict) -> None:
    """The first KV precision below the asked one, in the runtime's list, that fits the context."""
    w = q.work
    for dtype in KV_BY_BITS:
        if (dtype not in c.RUNTIME_KV_DTYPES[w.runtime] or dtype not in kv_quality_table()
                or _bits(dtype) >= _bits(w.kv_cache_dtype)):
            continue  # only quantized caches with a measured cost, below the one asked
        alt = place(q.model, q.gpu, q.precision, replace(w, kv_cache_dtype=dtype), q.gpus)
        if not alt.fits:
            continue
        row = kv_quality_table()[dtype]
        f.update(kv_quantize_dtype=dtype, kv_quantize_kv_cache_bytes=alt.kv_cache_bytes,
                 kv_quantize_saves_bytes=pl.kv_cache_bytes - alt.kv_cache_bytes,
                 kv_quantize_total_bytes=alt.total_bytes,
                 kv_quantize_headroom_bytes=alt.headroom_bytes,
                 kv_quantize_max_context_tokens=f[f"max_context_tokens_{dtype}"]
                 if f"max_context_tokens_{dtype}" in f else _max_context(q, pl, dtype),
                 kv_quantize_quality_cost=f"{row['value']} {row['metric']}",
                 kv_quantize_quality_measured_on=row["measured_on"],
                 kv_quantize_quality_source=row["source"])
        return


def _shorter_context(q: Question, f: dict) -> None:
    tokens = f["max_context_tokens"] // c.LLAMACPP_KV_PAD_TOKENS * c.LLAMACPP_KV_PAD_TOKENS
    if not SHORTER_CONTEXT_MIN_TOKENS <= tokens < q.work.context_tokens:
        return
    alt = place(q.model, q.gpu, q.precision, replace(q.work, context_tokens=tokens), q.gpus)
    f.update(shorter_context_tokens=tokens, shorter_context_total_bytes=alt.total_bytes,
             shorter_context_headroom_bytes=alt.headroom_bytes)


def _max_context(q: Question, pl: Placement, dtype: str) -> int:
    return max_context_tokens(q.model, q.precision, q.work, q.gpus, pl.available_bytes,
                              pl.margin_bytes, dtype)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    w = q.work
    f.update(kv_cache_dtype=w.kv_cache_dtype,
             model_max_context_tokens=q.model.architecture.max_context)

    f["max_context_tokens"] = _max_context(q, pl, w.kv_cache_dtype)
    offered = c.RUNTIME_KV_DTYPES[w.runtime]
    for dtype in ("fp16", "q8_0", "q4_0"):
        if dtype in offered:  # a KV precision the runtime lacks is left out
            f[f"max_context_tokens_{dtype}"] = (f["max_context_tokens"] if dtype == w.kv_cache_dtype
                                                else _max_context(q, pl, dtype))
    if not pl.fits:
        _kv_quantize(q, pl, f)
        _shorter_context(q, f)
