"""Which ggml type llama.cpp's quantizer gives each tensor, for a named file type.

Follows llama_tensor_get_type() in llama.cpp's src/llama-quant.cpp (read for this module, not
copied): the file type sets a default type, then
- output.weight gets Q6_K (unless the default is Q8_0 or wider);
- attn_v and ffn_down get more bits in the "medium" mixes on the layers use_more_bits() picks
  (the first and last eighth, and every third layer between);
- 1-D tensors (norms, biases) and the MoE router stay F32;
- a row length that is not a multiple of the block size falls back to a type whose block fits.
"""
from __future__ import annotations

from advisor.kb.schema import Architecture
from advisor.sizing.ggml_types import ggml_blocks
from advisor.sizing.tensors import Tensor

DEFAULT_TYPE = {
    "F32": "F32", "F16": "F16", "BF16": "BF16",
    "Q8_0": "Q8_0", "Q6_K": "Q6_K", "Q5_K_M": "Q5_K", "Q4_K_M": "Q4_K",
    "Q3_K_M": "Q3_K", "Q2_K": "Q2_K",
}

# convert_incompatible_tensor(): the fallback when the row length does not split into blocks
_FALLBACK = {"Q2_K": "IQ4_NL", "Q3_K": "IQ4_NL", "IQ4_XS": "IQ4_NL", "Q4_K": "Q5_0",
             "Q5_K": "Q5_1", "Q6_K": "Q8_0"}


def use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _is_llamacpp_70b(a: Architecture) -> bool:
    # llama.cpp names a llama-architecture model with 80 layers "70B" and gives its attn_v one
    # more step of bits (8 query heads share each KV head, so attn_v is small)
    return a.layers == 80 and not a.experts_total


def tensor_type(ftype: str, t: Tensor, a: Architecture) -> str:
    if not t.is_matrix or t.name == "ffn_gate_inp":
        return "F32"
    default = DEFAULT_TYPE[ftype]
    new = default
    if default in ("F32", "F16", "BF16"):
        return default
    n_layer = a.layers
    if t.name == "output":
        new = "Q6_K" if default != "Q8_0" else "Q8_0"
    elif t.name == "attn_v":
        i = t.layer
        if ftype == "Q2_K":
            new = "Q4_K" if a.attention_heads // a.kv_heads >= 4 else "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(i, n_layer):
            new = "Q6_K"
        if _is_llamacpp_70b(a) and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if a.experts_total == 8:
            new = "Q8_0"
    elif t.name == "attn_k" and a.experts_total == 8:
        new = "Q8_0"
    elif t.name in ("ffn_down", "ffn_down_exps"):
        i = t.layer
        if ftype == "Q2_K":
            new = "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i < n_layer // 16 else "Q4_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(i, n_layer):
            new = "Q6_K"
    elif t.name == "attn_output":
        if a.experts_total == 8:
            if ftype in ("Q2_K", "Q3_K_M", "Q4_K_M"):
                new = "Q5_K"
        elif ftype == "Q2_K":
            new = "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q4_K"
    blocks = ggml_blocks()
    while t.row_length % blocks[new][0]:
        new = _FALLBACK.get(new, "F16")
    return new
