"""Which ggml type llama.cpp's quantizer gives each tensor, for a named file type (ftype).

Follows llama_tensor_get_type() and llama_ftype_get_default_type() in llama.cpp's
src/llama-quant.cpp (read for this module, not copied):
- every file type has a default tensor type (Q4_K_M -> Q4_K, IQ3_M -> IQ3_S, IQ2_M -> IQ2_S);
- only 2-D and 3-D (expert) weights are quantized: norms, biases, the MoE router keep the type
  the converter wrote (F32);
- output.weight (and token_embd when the embeddings are tied) gets Q6_K, Q5_K for the 1- and
  2-bit IQ types, Q8_0 when its row does not split into blocks or the default is Q8_0;
- token_embd gets Q2_K / IQ3_S for the lowest IQ types, else the default;
- attn_v (and MLA's attn_kv_b), the fused attn_qkv, attn_k, attn_q, attn_output, ffn_down, ffn_gate and
  ffn_up get more (or fewer) bits per file type, per layer position (use_more_bits: the first and
  last eighth and every third layer between), by grouped-query ratio, for llama.cpp's "70B" type
  (80 layers) and for 8-expert MoE models;
- a tensor whose row length is not a multiple of the block size falls back to a type whose block
  fits (tensor_type_fallback), then to F16.

The fused attn_qkv (Phi-3) follows its own rule (Q4_K_M -> Q5_K, Q5_K_M -> Q6_K, Q3_K_M/L and
IQ3_M -> Q4_K), as in the llama.cpp of 2024 that made the published files (within 0.4% of every
Phi-3 size in ../shared/reference/gguf_sizes.csv); llama.cpp master now routes it through the
attn_v rule instead, which gives files up to 14% off those sizes.

Rules that depend on an importance matrix (IQ3_XXS attn_v and ffn_down, IQ4_NL/XS ffn_down,
Q4_0/Q5_0 ffn_down) take `imatrix` as an input: whether the file was made with one.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from advisor.kb.schema import Architecture
from advisor.sizing.ggml_types import ggml_blocks
from advisor.sizing.tensors import Tensor

# llama_ftype_get_default_type()
DEFAULT_TYPE = {
    "F32": "F32", "F16": "F16", "BF16": "BF16",
    "Q8_0": "Q8_0", "Q6_K": "Q6_K",
    "Q5_K_M": "Q5_K", "Q5_K_S": "Q5_K", "Q5_0": "Q5_0", "Q5_1": "Q5_1",
    "Q4_K_M": "Q4_K", "Q4_K_S": "Q4_K", "Q4_0": "Q4_0", "Q4_1": "Q4_1",
    "Q3_K_L": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_S": "Q3_K",
    "Q2_K": "Q2_K", "Q2_K_S": "Q2_K",
    "IQ4_XS": "IQ4_XS", "IQ4_NL": "IQ4_NL",
    "IQ3_M": "IQ3_S", "IQ3_S": "IQ3_S", "IQ3_XS": "IQ3_S", "IQ3_XXS": "IQ3_XXS",
    "IQ2_M": "IQ2_S", "IQ2_S": "IQ2_XS", "IQ2_XS": "IQ2_XS", "IQ2_XXS": "IQ2_XXS",
    "IQ1_M": "IQ1_M", "IQ1_S": "IQ1_S",
    "TQ1_0": "TQ1_0", "TQ2_0": "TQ2_0",
    "MXFP4_MOE": "MXFP4",
}

# bartowski's "_L"/"_XL" files: a standard file type made with --output-tensor-type q8_0
# --token-embedding-type q8_0 (his model cards: "uses Q8_0 for embed and output weights").
Q8_EMBED_OUTPUT = {"Q6_K_L": "Q6_K", "Q5_K_L": "Q5_K_M", "Q4_K_L": "Q4_K_M", "Q3_K_XL": "Q3_K_L",
                   "Q2_K_L": "Q2_K"}

# Google's quantization-aware-trained Gemma 3 files (google/gemma-3-*-it-qat-q4_0-gguf): every
# matrix Q4_0 and the token embeddings (Gemma's tied output head) left at F16, "instead of
# Q6_K" as a requantized copy of them says (stduhpf/google-gemma-3-12b-it-qat-q4_0-gguf-small's
# card: 8.07 GB for Google's 12B file against 6.91 GB for bartowski's Q4_0).
F16_EMBED_OUTPUT = {"qat-q4_0": "Q4_0"}

# File types llama-quantize refuses to make without an importance matrix
# (tensor_requires_imatrix: IQ1_*, IQ2_XXS/XS/S, IQ3_XXS tensors, and Q2_K inside Q2_K_S).
REQUIRES_IMATRIX = {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "Q2_K_S"}

_IQ1_2 = {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M"}
_FLOAT = {"F32", "F16", "BF16"}

# tensor_type_fallback(): the type used when the row length does not split into blocks
_FALLBACK = {
    "IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL", "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL",
    "Q2_K": "Q4_0", "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}


def use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


@lru_cache(maxsize=4096)
def category(name: str) -> str:
    """tensor_get_category(): broad roles by name (works for bare and 'blk.N.x.weight' names)."""
    base = name.split(".")[-2] if name.endswith(".weight") else name.split(".")[-1]
    if base == "output":
        return "output"
    if base in ("token_embd", "per_layer_token_embd"):
        return "token_embd"
    for key, cat in (("attn_qkv", "attn_qkv"), ("attn_kv_b", "attn_v"), ("attn_v", "attn_v"),
                     ("attn_k", "attn_k"), ("attn_q", "attn_q"), ("attn_output", "attn_output")):
        if base == key:
            return cat
    for key in ("ffn_up", "ffn_gate", "ffn_down"):
        if base.startswith(key) and not base.startswith("ffn_gate_inp"):
            return key
    return "other"


def quantizable(t: Tensor) -> bool:
    """tensor_allows_quantization(): 2-D and 3-D weights, not norms, not the MoE router."""
    return t.is_matrix and _role(t.name)[0]


@lru_cache(maxsize=4096)
def _role(name: str) -> tuple[bool, str, bool]:
    """What tensor_types reads of a tensor's name: whether a matrix of that name is quantized
    (not a norm, the router or a bias), its category, and whether it holds routed experts."""
    # llama-quant.cpp also leaves "ssm_conv1d.weight" alone (Mamba's and Gated DeltaNet's small
    # 2-D convolution kernels stay F32)
    named = ("norm" not in name and not name.startswith("ffn_gate_inp") and not name.endswith("_bias")
             and name != "ssm_conv1d")
    return named, category(name), name.endswith("_exps")


@dataclass(frozen=True)
class MixContext:
    """What llama_tensor_get_type() knows about the model besides the tensor."""
    n_layer: int
    n_gqa: int              # attention heads per KV head
    n_expert: int           # 0 for dense models
    is_70b: bool            # llama.cpp's LLM_TYPE_70B (80 layers, grouped-query attention)
    tied: bool              # no output.weight: token_embd doubles as the output head
    n_attention_wv: int     # attn_v-like tensors in the model

    @staticmethod
    def of(a: Architecture, tensors: list[Tensor]) -> "MixContext":
        n_v = sum(1 for t in tensors if category(t.name) == "attn_v")
        return MixContext(
            n_layer=a.layers, n_gqa=a.attention_heads // a.kv_heads, n_expert=a.experts_total or 0,
            is_70b=a.layers == 80 and not a.experts_total and a.kv_heads < a.attention_heads,
            tied=a.tied_embeddings, n_attention_wv=n_v)


def _impl(ftype: str, new: str, cat: str, i_v: int, i_layer: int, q: MixContext,
          imatrix: bool, expert: bool = False) -> str:
    n, gqa, ne = q.n_layer, q.n_gqa, q.n_expert
    if cat == "output" or (q.tied and cat == "token_embd"):
        if ftype == "MXFP4_MOE":
            return "Q8_0"
        if ftype in _IQ1_2 or ftype == "IQ3_XXS":
            return "Q5_K"
        return new if new == "Q8_0" else "Q6_K"
    if ftype == "MXFP4_MOE":  # 3-D expert tensors MXFP4, everything else Q8_0
        return "MXFP4" if expert else "Q8_0"
    if cat == "token_embd":
        if ftype in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            return "Q2_K"
        if ftype in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
            return "IQ3_S"
        if ftype in ("TQ1_0", "TQ2_0"):
            return "Q4_K"
        return new
    if ftype in _IQ1_2:
        if cat == "attn_v":
            if gqa >= 4 or ne >= 4:
                return "Q4_K"
            return "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
        if ne == 8 and cat == "attn_k":
            return "Q4_K"
        if cat == "ffn_down":
            if i_layer < n // 8:  # llama.cpp counts ffn_down tensors here (= layers when dense)
                return "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
            return new
        if cat == "attn_output":
            if ne == 8:
                return "Q5_K"
            if ftype in ("IQ1_S", "IQ1_M"):
                return "IQ2_XXS"
            if ftype in ("IQ2_S", "IQ2_M"):
                return "IQ3_S"
        return new
    if cat == "attn_v":
        if ftype == "Q2_K":
            new = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ftype == "Q2_K_S" and gqa >= 4:
            new = "Q4_K"
        elif ftype == "IQ3_XXS":
            new = "Q4_K" if gqa >= 4 else ("IQ3_XXS" if imatrix else "IQ3_S")
        elif ftype in ("IQ3_XS", "IQ3_S") and gqa >= 4:
            new = "Q4_K"
        elif ftype == "IQ3_M":
            new = "Q4_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i_v < 2 else "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q5_K"
        elif ftype in ("IQ4_NL", "IQ4_XS") and gqa >= 4:
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(i_v, q.n_attention_wv):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and i_v < 4:
            new = "Q5_K"
        if q.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if ne == 8:
            new = "Q8_0"
        return new
    if cat == "attn_k":
        if ne == 8:
            return "Q8_0"
        if ftype == "IQ3_XS":
            return "IQ3_XXS"
        if ftype == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == "attn_q":
        if ftype == "IQ3_XS":
            return "IQ3_XXS"
        if ftype == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == "ffn_down":
        i = i_layer
        if ftype == "Q2_K":
            return "Q3_K"
        if ftype == "Q2_K_S":
            return "Q4_K" if i < n // 8 else new
        if ftype == "IQ3_XXS" and not imatrix:
            return "Q4_K" if i < n // 8 else "Q3_K"
        if ftype == "Q3_K_M":
            return "Q5_K" if i < n // 16 else "Q4_K"
        if ftype == "IQ3_M" and (i < n // 8 or (ne == 8 and use_more_bits(i, n))):
            return "Q4_K"
        if ftype == "Q3_K_L":
            return "Q5_K"
        if ftype == "Q4_K_M":
            return "Q6_K" if use_more_bits(i, n) else new
        if i < n // 8 and ftype in ("IQ4_NL", "IQ4_XS") and not imatrix:
            return "Q5_K"
        if ftype == "Q5_K_M" and use_more_bits(i, n):
            return "Q6_K"
        if ftype == "Q4_K_S" and i < n // 8:
            return "Q5_K"
        if ftype in ("Q4_0", "Q5_0") and imatrix and i < n // 8:
            return "Q4_1" if ftype == "Q4_0" else "Q5_1"
        return new
    if cat == "attn_output":
        if ne == 8:
            if ftype in ("Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S",
                         "Q4_K_M", "IQ3_S", "IQ3_M", "IQ4_XS"):
                return "Q5_K"
            return new
        return {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K",
                "IQ3_M": "Q4_K"}.get(ftype, new)
    if cat == "attn_qkv":
        return {"Q3_K_M": "Q4_K", "Q3_K_L": "Q4_K", "IQ3_M": "Q4_K", "Q4_K_M": "Q5_K",
                "Q5_K_M": "Q6_K"}.get(ftype, new)
    if cat in ("ffn_gate", "ffn_up"):
        if ftype == "IQ3_XS" and n // 8 <= i_layer < 7 * n // 8:
            return "IQ3_XXS"
        return new
    return new


def tensor_types(ftype: str, tensors: list[Tensor], a: Architecture, imatrix: bool | None = None,
                 source_type: str = "F32") -> list[str]:
    """The ggml type of every tensor, in order. `source_type` is what unquantized tensors
    (norms, biases, router) were converted to; `imatrix` None means: llama.cpp's requirement
    (an importance matrix for the 1- and 2-bit types and IQ3_XXS, none otherwise)."""
    override = None
    if ftype in Q8_EMBED_OUTPUT:
        ftype, override = Q8_EMBED_OUTPUT[ftype], "Q8_0"
    elif ftype in F16_EMBED_OUTPUT:
        ftype, override = F16_EMBED_OUTPUT[ftype], "F16"
    default = DEFAULT_TYPE[ftype]
    if imatrix is None:
        imatrix = ftype in REQUIRES_IMATRIX
    if default in _FLOAT:
        return [default if t.rows > 1 and _role(t.name)[0] else source_type for t in tensors]
    q = MixContext.of(a, tensors)
    blocks = ggml_blocks()
    i_v = 0
    out = []
    for t in tensors:
        named, cat, expert = _role(t.name)
        if not (named and t.rows > 1):  # not quantizable()
            out.append(source_type)
            continue
        layer = t.layer if t.layer is not None else 0
        if override and cat in ("output", "token_embd"):
            # llama_tensor_get_type returns the user's type as it is; a row it does not split
            # into blocks falls back as any tensor's does
            out.append(_fits_row(override, t.row_length, blocks))
            continue
        if cat == "output" or (q.tied and cat == "token_embd"):
            # the output head falls back to Q8_0 when its row does not split into blocks (and
            # to F16 when not even Q8_0's 32 do)
            if t.row_length % blocks[default][0] and ftype != "MXFP4_MOE":
                out.append(_fits_row("Q8_0", t.row_length, blocks))
                continue
        new = _impl(ftype, default, cat, i_v, layer, q, imatrix, expert)
        if cat == "attn_v" and ftype not in ("MXFP4_MOE",):
            i_v += 1
        out.append(_fits_row(new, t.row_length, blocks))
    return out


def _fits_row(ggml_type: str, row_length: int, blocks: dict) -> str:
    """ggml_type, or its fallback when a row does not split into its blocks, or F16 when the
    fallback's do not either (llama-quant.cpp: convert_incompatible_tensor)."""
    if row_length % blocks[ggml_type][0] == 0:
        return ggml_type
    fb = _FALLBACK.get(ggml_type, "F16")
    return fb if row_length % blocks[fb][0] == 0 else "F16"


def fused_layout(tensors: list[Tensor], a: Architecture) -> list[Tensor]:
    """The tensors as llama.cpp stores architectures with fused projections (phi3: attn_qkv
    holds Q, K and V; ffn_up holds the gate and up halves): same bytes, other type choices."""
    kv = 2 * a.kv_heads * a.head_dim
    out = []
    for t in tensors:
        if t.name == "attn_q":
            out.append(Tensor("attn_qkv", t.layer, t.row_length, t.rows + kv))
        elif t.name == "ffn_up":
            out.append(Tensor("ffn_up", t.layer, t.row_length, 2 * t.rows))
        elif t.name not in ("attn_k", "attn_v", "ffn_gate"):
            out.append(t)
    return out


def tensor_type(ftype: str, t: Tensor, a: Architecture) -> str:
    """One tensor's type, in the context of the whole model (llama.cpp's counters)."""
    from advisor.sizing.precision import parse_precision
    from advisor.sizing.weights import _gguf_types

    return _gguf_types(a, parse_precision(ftype).name).get(t) or tensor_types(ftype, [t], a)[0]
