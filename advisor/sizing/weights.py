"""Bytes of the weights of a model at a precision."""
from __future__ import annotations

from functools import lru_cache

from advisor.kb.schema import Architecture
from advisor.sizing.ggml_types import tensor_bytes
from advisor.sizing.gguf_mix import tensor_type
from advisor.sizing.precision import Precision
from advisor.sizing.tensors import Tensor, model_tensors

# GPTQ/AWQ int4 with group size 128: per group one fp16 scale and one 4-bit zero point
# (AutoGPTQ/AutoAWQ packing): 4 + 16/128 + 4/128 = 4.15625 bits a weight.
INT4_GROUP_SIZE = 128
# int8 (bitsandbytes LLM.int8 / W8A16): one fp16 scale per output row.


def _checkpoint_tensor_bytes(p: Precision, t: Tensor) -> int:
    kept_16bit = not t.is_matrix or t.name in ("token_embd", "output", "ffn_gate_inp")
    if kept_16bit:
        return t.elements * 2
    if p.name == "fp8":
        return t.elements + t.rows * 4  # 1 byte a weight + an fp32 scale per output channel
    if p.name == "int8":
        return t.elements + t.rows * 2
    if p.name == "int4":
        groups = t.rows * -(-t.row_length // INT4_GROUP_SIZE)
        return t.elements // 2 + groups * 2 + (groups + 1) // 2
    raise ValueError(p.name)


def tensor_weight_bytes(p: Precision, t: Tensor, a: Architecture) -> int:
    if p.family == "float":
        width = {"fp32": 4, "fp16": 2, "bf16": 2}[p.name]
        return t.elements * width
    if p.family == "checkpoint":
        return _checkpoint_tensor_bytes(p, t)
    ggml = tensor_type(p.name, t, a)
    return tensor_bytes(ggml, t.row_length, t.rows)


def weights_bytes(a: Architecture, p: Precision) -> int:
    b = weights_breakdown_bytes(a, p)
    return b["embedding"] + b["output"] + b["layers"]


@lru_cache(maxsize=4096)
def _breakdown(a: Architecture, p: Precision) -> tuple:
    return tuple(sorted(_compute_breakdown(a, p).items()))


def weights_breakdown_bytes(a: Architecture, p: Precision) -> dict[str, int]:
    """Bytes split into what every layer repeats and what is outside the layers (memoised:
    architectures and precisions are immutable)."""
    return dict(_breakdown(a, p))


def _compute_breakdown(a: Architecture, p: Precision) -> dict[str, int]:
    per_layer = [0] * a.layers
    embedding = output = 0
    for t in model_tensors(a):
        b = tensor_weight_bytes(p, t, a)
        if t.layer is not None:
            per_layer[t.layer] += b
        elif t.name == "token_embd":
            embedding += b
        else:
            output += b
    return {"embedding": embedding, "output": output, "layers": sum(per_layer),
            "largest_layer": max(per_layer)}
