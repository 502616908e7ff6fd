"""Bytes of the weights of a model at a precision.

Two sources: the architecture (every tensor advisor.sizing.tensors derives, sized at the
precision: GGUF types tensor by tensor after llama.cpp's quantizer, checkpoint formats with their
scales and zeros) or, for a model read from a file, its exact tensor list
(advisor.sizing.inventory).

Sizing an architecture's weights goes tensor by tensor (700 to 4,000 tensors, each format
apart), so weight_summary's results are also kept on disk (advisor.cache; ADVISOR_NO_CACHE or
ADVISOR_NO_WEIGHTS_CACHE turn it off): one small pickle an architecture, mapping a precision
name to its WeightSummary, named by a digest of the architecture's fields, in a folder named by
a digest of the sizing code's source files (weights-<digest>/<digest>.pickle). A file is read
the first time its architecture is sized in a process; one that cannot be read or does not hold
summaries of that architecture is ignored. New summaries are written when the process exits (or
on save_cache()), merged with whatever another process wrote meanwhile, through a temporary
file renamed into place.
"""
from __future__ import annotations

import atexit
import hashlib
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from advisor import cache
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.ggml_types import tensor_bytes
from advisor.sizing.gguf_mix import tensor_types
from advisor.sizing.precision import MLX_BITS, MLX_GROUP_SIZE, Precision
from advisor.sizing.tensors import Tensor, model_tensors

INT4_GROUP_SIZE = c.GPTQ_AWQ_GROUP_SIZE


def _kept_16bit(t: Tensor) -> bool:
    """Embeddings, lm_head, norms, biases and the MoE router stay 16-bit in every quantized
    checkpoint format (transformers' get_keys_to_not_convert keeps lm_head; AWQ keeps 'gate')."""
    return not t.is_matrix or t.name in ("token_embd", "output") or t.name.startswith("ffn_gate_inp")


def _checkpoint_tensor_bytes(p: Precision, t: Tensor, experts: int = 1, n_layer: int = 0) -> int:
    if _kept_16bit(t):
        return t.elements * 2
    if p.name == "fp8" or (p.name == "fp8-ffn" and t.name.startswith("ffn_")
                            and t.layer not in (0, n_layer - 1)):
        return t.elements + t.rows * c.FP8_SCALE_BYTES_PER_ROW
    if p.name == "fp8-ffn":
        return t.elements * 2
    if p.name == "int8":
        return t.elements + t.rows * c.INT8_SCALE_BYTES_PER_ROW
    if p.name in ("int4", "awq") or p.name.startswith("gptq"):
        bits = int(p.name[-1]) if p.name.startswith("gptq-int") else 4
        groups = t.rows * -(-t.row_length // c.GPTQ_AWQ_GROUP_SIZE)
        # packed weights, an fp16 scale and a `bits`-bit zero per group
        b = -(-t.elements * bits // 8) + groups * 2 + -(-groups * bits // 8)
        if p.name.startswith("gptq"):  # g_idx: an int32 per input column of each expert's matrix
            b += t.row_length * 4 * (experts if t.name.endswith("_exps") else 1)
        return b
    if p.name == "mxfp4":  # experts in MXFP4 blocks (32 values: 16 bytes + an E8M0 scale); rest BF16
        if t.name.endswith("_exps"):
            return -(-t.elements // c.MXFP4_BLOCK_SIZE) * c.MXFP4_BLOCK_BYTES
        return t.elements * 2
    if p.name == "nf4":
        blocks = -(-t.elements // c.NF4_BLOCK_SIZE)
        return (t.elements + 1) // 2 + blocks + 4 * -(-blocks // c.NF4_NESTED_BLOCK_SIZE) \
            + c.NF4_CONSTANT_BYTES_PER_TENSOR
    raise ValueError(p.name)


# mlx-lm keeps the MoE router at 8 bits whatever --q-bits says in the models whose class has a
# quant_predicate for it (gpt_oss "router", qwen3_moe "mlp.gate", qwen3_next, minimax
# "block_sparse_moe.gate": {"group_size": 64, "bits": 8}, mlx_lm/models/*.py at d78bf58); others
# (Mixtral) quantize it at --q-bits: a few MB either way, sized here at 8.
MLX_ROUTER_BITS = 8


def mlx_tensor_bytes(bits: int, t: Tensor, group_size: int = MLX_GROUP_SIZE) -> int:
    """Bytes of one tensor as mlx_lm.convert -q stores it (mlx.core.quantize, mode "affine"):
    a matrix whose row length (input width) divides by group_size is `bits` bits a weight,
    packed into uint32 words, plus a 16-bit scale and a 16-bit bias for every group of
    group_size weights of a row (bits + 32 / group_size bits a weight); quantize_model leaves
    a matrix whose rows do not split into groups unquantized (its wrapped_predicate), and 1-D
    tensors (norms, biases) are no module's weight: both stay 16-bit. Every matrix is
    quantized, the token embedding (QuantizedEmbedding) and lm_head included."""
    if not t.is_matrix or t.row_length % group_size:
        return t.elements * 2
    if t.name.startswith("ffn_gate_inp"):
        bits = MLX_ROUTER_BITS
    words = -(-t.row_length * bits // 32)          # uint32 words a row
    groups = t.row_length // group_size
    return t.rows * (words * 4 + groups * 2 * 2)


def tensor_weight_bytes(p: Precision, t: Tensor, a: Architecture) -> int:
    if p.family == "mlx":
        return mlx_tensor_bytes(MLX_BITS[p.name], t)
    if p.family == "float":
        width = {"fp32": 4, "fp16": 2, "bf16": 2}[p.name]
        return t.elements * width
    if p.family == "checkpoint":
        return _checkpoint_tensor_bytes(p, t, a.experts_total or 1, a.layers)
    ty = _gguf_types(a, p.name).get(t) or tensor_types(p.name, [t], a)[0]
    return tensor_bytes(ty, t.row_length, t.rows)


@lru_cache(maxsize=256)
def _gguf_types(a: Architecture, ftype: str) -> dict:
    ts = model_tensors(a)
    return dict(zip(ts, tensor_types(ftype, ts, a)))


def format_mismatch(a: Architecture, p: Precision, gguf_repos: tuple[str, ...] | None = None
                    ) -> str | None:
    """Why a weight format cannot describe this model, or None. MXFP4 checkpoints quantize MoE
    experts only (a dense model in "mxfp4" would be plain BF16). qat-q4_0 is a publisher's
    quantization-aware-trained file, which no converter makes: a model whose GGUF repos
    (`gguf_repos`, the KB's; None: not known, as for a model file) hold none has no such file."""
    if p.name == "mxfp4" and not a.experts_total:
        return "mxfp4 checkpoints quantize mixture-of-experts weights; this model has no experts"
    if p.name == "qat-q4_0" and gguf_repos is not None \
            and not any("qat-q4_0" in r.lower() for r in gguf_repos):
        return ("qat-q4_0 is a publisher's quantization-aware-trained file (Google's Gemma 3 QAT "
                "GGUFs), which llama-quantize cannot make; this model has none published (Q4_0 "
                "is the post-training type)")
    return None


def weights_bytes(a: Architecture, p: Precision) -> int:
    return weight_summary(a, p).total


@dataclass(frozen=True)
class WeightSummary:
    """Everything the sizing reads about a model's weights at a precision, from one pass over
    its tensors (memoised by weight_summary: architectures and precisions are immutable)."""
    embedding: int                    # token embedding table (a lookup: one row read a token)
    output: int                       # output head and final norm
    layers: int                       # all repeating blocks
    largest_layer: int
    active_layers: int                # bytes of the blocks a token reads (MoE: active experts)
    dense_per_layer: tuple[int, ...]  # each layer's bytes outside the routed experts
    experts_per_layer: tuple[int, ...]  # each layer's routed-expert bytes

    @property
    def total(self) -> int:
        return self.embedding + self.output + self.layers


# A summary a (architecture, format): fit asks about every model at some 25 formats, so 2,048
# user models are some 50,000 (the summaries are kept in _STORE's memory anyway; this saves
# hashing the architecture again).
@lru_cache(maxsize=1 << 16)
def weight_summary(a: Architecture, p: Precision) -> WeightSummary:
    w = _STORE.get(a, p.name)
    if w is None:
        w = _summarise(a, p)
        _STORE.put(a, p.name, w)
    return w


def _summarise(a: Architecture, p: Precision) -> WeightSummary:
    dense = [0] * a.layers
    experts = [0] * a.layers
    embedding = output = active = 0
    for t, _, b in tensor_list_bytes(a, p):
        if t.layer is None:
            if t.name == "token_embd":
                embedding += b
            else:
                output += b
        elif t.name.endswith("_exps") and a.experts_total:
            experts[t.layer] += b
            active += b * a.experts_active // a.experts_total
        else:
            dense[t.layer] += b
            active += b
    per_layer = [d + e for d, e in zip(dense, experts)]
    return WeightSummary(embedding, output, sum(per_layer), max(per_layer), active,
                         tuple(dense), tuple(experts))


# What a summary depends on besides the architecture and the precision name: the code that
# computes it and the block sizes it reads.
_SIZING_CODE = ("sizing/weights.py", "sizing/gguf_mix.py", "sizing/ggml_types.py", "sizing/tensors.py",
                "sizing/precision.py", "sizing/constants.py", "data/ggml_types.json", "kb/schema.py",
                "cache.py")


class _DiskStore:
    """weight_summary's results on disk, an architecture a file (see the module docstring). A
    file holds {"code": the code digest, "architecture": a, "summaries": {precision: summary}}:
    one copied from another architecture or version is not used."""

    def __init__(self):
        self._code: str | None = None
        self._known: dict[Architecture, dict] = {}   # architecture -> precision -> summary
        self._new: dict[Architecture, dict] = {}     # the summaries computed here, not yet saved
        self._at_exit = False

    def _code_digest(self) -> str:
        if self._code is None:
            self._code = cache.Key(cache.code_files(*_SIZING_CODE)).digest()
        return self._code

    def _path(self, a: Architecture) -> Path:
        text = "\n".join(f"{f.name}={getattr(a, f.name)!r}" for f in fields(a))
        name = hashlib.sha256(text.encode()).hexdigest()[:32]
        return cache.cache_dir() / f"weights-{self._code_digest()}" / f"{name}.pickle"

    def _read(self, a: Architecture) -> dict:
        """The summaries of `a` on disk; {} when there are none or the file is not a cache of `a`."""
        def valid(d) -> bool:
            return (isinstance(d, dict) and d.get("code") == self._code_digest()
                    and d.get("architecture") == a and isinstance(d.get("summaries"), dict)
                    and all(isinstance(k, str) and type(w) is WeightSummary
                            for k, w in d["summaries"].items()))
        try:
            hit = cache.read_pickle(self._path(a), valid)
        except OSError:
            return {}
        return dict(hit["summaries"]) if hit else {}

    def get(self, a: Architecture, precision: str) -> WeightSummary | None:
        if not cache.enabled("WEIGHTS"):
            return None
        known = self._known.get(a)
        if known is None:
            known = self._known[a] = self._read(a)
        return known.get(precision)

    def put(self, a: Architecture, precision: str, w: WeightSummary) -> None:
        if not cache.enabled("WEIGHTS"):
            return
        self._known.setdefault(a, {})[precision] = w
        self._new.setdefault(a, {})[precision] = w
        if not self._at_exit:
            self._at_exit = True
            atexit.register(self.save)

    def save(self) -> None:
        """Write the summaries computed since the last save, each file merged with its copy on
        disk (another process may have added to it)."""
        new, self._new = self._new, {}
        for a, entries in new.items():
            try:
                cache.write_pickle(self._path(a), {"code": self._code_digest(), "architecture": a,
                                                   "summaries": {**self._read(a), **entries}})
            except OSError:
                pass


_STORE = _DiskStore()


def save_cache() -> None:
    """Write the weight summaries this process computed to the cache now (also done at exit)."""
    _STORE.save()


def weights_breakdown_bytes(a: Architecture, p: Precision) -> dict[str, int]:
    """Bytes split into what every layer repeats and what is outside the layers."""
    w = weight_summary(a, p)
    return {"embedding": w.embedding, "output": w.output, "layers": w.layers,
            "largest_layer": w.largest_layer}


def tensor_list_bytes(a: Architecture, p: Precision) -> list[tuple[Tensor, str, int]]:
    """Every tensor with the type it is stored as and its bytes."""
    ts = model_tensors(a)
    if p.family == "gguf":
        types = tensor_types(p.name, ts, a)
        return [(t, ty, tensor_bytes(ty, t.row_length, t.rows)) for t, ty in zip(ts, types)]
    return [(t, p.name, tensor_weight_bytes(p, t, a)) for t in ts]


def weights_assumptions(p: Precision) -> list[str]:
    """What the weight bytes assume, for the advisory and memory.breakdown."""
    if p.family == "float":
        return [f"every tensor at {p.name} ({ {'fp32': 4}.get(p.name, 2) } bytes a weight)"]
    if p.family == "gguf":
        return [f"{p.name}: llama.cpp's per-tensor type choice (llama_tensor_get_type), block "
                "sizes from the gguf package; norms and the MoE router F32",
                "importance matrix only where llama-quantize requires one (IQ1/IQ2, IQ3_XXS, Q2_K_S)"]
    if p.family == "mlx":
        b = MLX_BITS[p.name]
        return [f"{p.name}: MLX affine quantization as mlx_lm.convert -q --q-bits {b} writes it: "
                f"{b}-bit weights with a 16-bit scale and bias a group of {MLX_GROUP_SIZE} "
                f"({b + 32 / MLX_GROUP_SIZE:g} bits a weight) in every linear layer, the token "
                "embedding and lm_head; norms and biases 16-bit; the MoE router at "
                f"{MLX_ROUTER_BITS} bits"]
    kept = "embeddings, lm_head, norms and the MoE router stay 16-bit; every expert is resident"
    return {
        "fp8": ["FP8 E4M3 linear layers with an fp32 scale per output channel", kept],
        "fp8-ffn": ["FP8 E4M3 feed-forward weights except in the first and last layers; "
                    "attention BF16 (the Llama 3 paper, section 6.2: Meta's FP8 recipe)", kept],
        "int8": ["bitsandbytes LLM.int8: int8 linear layers, an fp32 scale (SCB) per row", kept],
        "int4": [f"4-bit linear layers, group size {c.GPTQ_AWQ_GROUP_SIZE}: an fp16 scale and a "
                 "4-bit zero per group", kept],
        "awq": [f"AWQ 4-bit, group size {c.GPTQ_AWQ_GROUP_SIZE}: fp16 scales, 4-bit zeros", kept],
        "gptq": [f"GPTQ 4-bit, group size {c.GPTQ_AWQ_GROUP_SIZE}: fp16 scales, 4-bit zeros, an "
                 "int32 g_idx per input column", kept],
        **{f"gptq-int{b}": [f"GPTQ {b}-bit, group size {c.GPTQ_AWQ_GROUP_SIZE}: fp16 scales, "
                            f"{b}-bit zeros, an int32 g_idx per input column", kept] for b in (8, 3, 2)},
        "mxfp4": ["MXFP4 routed experts (blocks of 32 4-bit values with a shared 8-bit "
                  "exponent: 4.25 bits a weight); attention, router and embeddings BF16, as the "
                  "published checkpoint", kept],
        "nf4": [f"bitsandbytes NF4, blocks of {c.NF4_BLOCK_SIZE} with double quantization "
                f"(8-bit absmax, fp32 per {c.NF4_NESTED_BLOCK_SIZE} blocks)", kept],
    }[p.name]
