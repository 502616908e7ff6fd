"""Weight formats a user can ask for, by name, any case.

Three families:
- float: every tensor at the same width (fp32, fp16, bf16).
- checkpoint: the formats of quantized Hugging Face checkpoints (fp8, int8, int4), whose
  linear layers are quantized while embeddings, lm_head and norms stay 16-bit.
- gguf: llama.cpp file types (Q4_K_M ...), sized tensor by tensor (advisor.sizing.gguf_mix).
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import AdvisorError


@dataclass(frozen=True)
class Precision:
    name: str        # canonical spelling, as shown to users
    family: str      # float | checkpoint | gguf
    quality_rank: int  # lower is closer to the 16-bit original; used to order quantize options
    summary: str


_ALL = [
    Precision("fp32", "float", 0, "32-bit floats"),
    Precision("fp16", "float", 1, "16-bit floats"),
    Precision("bf16", "float", 1, "bfloat16"),
    Precision("fp8", "checkpoint", 2, "FP8 (E4M3) linear layers, 16-bit embeddings and lm_head"),
    Precision("Q8_0", "gguf", 2, "llama.cpp 8-bit (8.5 bits a weight)"),
    Precision("int8", "checkpoint", 2, "8-bit integer linear layers (per-channel scales)"),
    Precision("Q6_K", "gguf", 3, "llama.cpp 6-bit k-quant"),
    Precision("Q5_K_M", "gguf", 4, "llama.cpp 5-bit k-quant, medium mix"),
    Precision("Q4_K_M", "gguf", 5, "llama.cpp 4-bit k-quant, medium mix"),
    Precision("int4", "checkpoint", 5, "4-bit GPTQ/AWQ, group size 128"),
    Precision("Q3_K_M", "gguf", 6, "llama.cpp 3-bit k-quant, medium mix"),
    Precision("Q2_K", "gguf", 7, "llama.cpp 2-bit k-quant"),
]
_BY_KEY = {p.name.lower(): p for p in _ALL}

# The ladder the quantize recommendation walks, best quality first. FP8 is offered only on
# cards that run it natively; the GGUF types run everywhere llama.cpp does.
QUANTIZE_LADDER = ["fp8", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"]


def parse_precision(name: str) -> Precision:
    p = _BY_KEY.get(name.strip().lower())
    if p is None:
        from advisor.errors import closest

        near = closest(name, [q.name for q in _ALL])
        hint = f"; closest known: {', '.join(near)}" if near else ""
        known = ", ".join(q.name for q in _ALL)
        raise AdvisorError(f"unknown precision '{name}'{hint} (known: {known})")
    return p


def all_precisions() -> list[Precision]:
    return list(_ALL)
