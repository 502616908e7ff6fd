"""What a plan costs in quality: its weight format against the published checkpoint, plus its KV
cache precision against a 16-bit cache, each a published measurement with its source.

Weight formats: advisor/data/quant_quality.yaml, several measurements a format on models of
stated sizes; a plan quotes the one measured on the model nearest in size (on a log scale:
quantization costs less as models grow). A format with no measurement takes the measured format
nearest to it in bits a weight on this model, and says it is an estimate. The checkpoint as
published costs nothing (it is the model), and so does a lossless conversion (bf16 <-> fp16,
any format to 32 bits). KV precisions: advisor/data/kv_quality.yaml.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from advisor.cache import data_file
from advisor.sizing import constants as c
from advisor.sizing.precision import Precision

_DATA = Path(__file__).resolve().parent.parent / "data"
_LOSSLESS = ("fp32", "fp16", "bf16")
# The GGUF types people download, best first: every step of the ladder a user would pick (the
# planner offers them in this order, advisor.plans.candidates). A type never counts as costing
# less than a type before it (weights_cost).
GGUF_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "IQ4_XS", "Q3_K_L",
               "Q3_K_M", "IQ3_M", "IQ3_XXS", "Q2_K", "IQ2_M", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S")
# Formats that quantize a subset of another format's tensors, in the same number format: one
# not measured itself costs at most the other's loss (Meta's Llama 3.1 FP8 leaves attention and
# the first and last layers in BF16, and quantizes the feed-forward layers as FP8 does).
_SUBSET_OF = {"fp8-ffn": "fp8"}
# mlx-lm's quantized KV caches and the llama.cpp cache of the same bits a value.
_MLX_KV_LIKE = {"mlx-8bit": "q8_0", "mlx-4bit": "q4_0"}


@dataclass(frozen=True)
class QualityCost:
    loss_pct: float            # weights + KV cache, the number plans are ranked by
    weights_loss_pct: float
    kv_loss_pct: float
    text: str                  # one line for the advisory, with what it was measured on
    source: str | None         # where the weight figure was published (None: no loss)
    estimated: bool = False    # no measurement of this format: a neighbour's figure

    def to_json(self) -> dict:
        return {"loss_pct": self.loss_pct, "weights_loss_pct": self.weights_loss_pct,
                "kv_loss_pct": self.kv_loss_pct, "text": self.text, "source": self.source,
                "estimated": self.estimated}


@lru_cache(maxsize=1)
def weight_table() -> dict[str, list[dict]]:
    return data_file(_DATA / "quant_quality.yaml")


@lru_cache(maxsize=1)
def kv_table() -> dict[str, dict]:
    return data_file(_DATA / "kv_quality.yaml")


def nearest_measurement(fmt: str, parameters: int) -> dict | None:
    """The measurement of `fmt` made on the model nearest in size (log scale); None if none."""
    rows = weight_table().get(fmt)
    if not rows:
        return None
    size = math.log(max(parameters, 1) / 1e9)
    return min(rows, key=lambda r: (abs(math.log(r["parameters_b"]) - size), r["parameters_b"]))


def _describe(row: dict) -> str:
    metric = "perplexity" if row["metric"] == "perplexity" else "accuracy"
    if not row["loss_pct"]:  # "-0% accuracy" would read as a loss
        return f"no {metric} lost on {row['model']} ({row['measure']})"
    sign = "+" if row["metric"] == "perplexity" else "-"
    return f"{sign}{row['loss_pct']:g}% {metric} on {row['model']} ({row['measure']})"


def weights_cost(p: Precision, native: str | None, parameters: int,
                 bits_of: dict[str, float] | None = None) -> tuple[float, str, str | None, bool]:
    """(loss %, text, source, estimated) of storing a model of `parameters` in format p, whose
    published checkpoint is `native`. bits_of: format -> bits a weight on this model, used to
    pick a measured neighbour for a format nobody measured."""
    if p.name == native or (p.name in _LOSSLESS and (native in _LOSSLESS or native is None)):
        return 0.0, "the weights as published", None, False
    if p.name == "fp32":
        return 0.0, "32-bit floats hold any published format exactly", None, False
    if p.name == "MXFP4_MOE" and native == "mxfp4":
        return 0.0, "the MXFP4 experts as published, the other tensors at Q8_0", None, False
    row = nearest_measurement(p.name, parameters)
    if row is not None:
        cap = _ladder_cap(p.name, parameters)
        if cap is not None and cap[0] < row["loss_pct"]:
            # a type never costs more than a type with fewer bits after it on the ladder
            loss, fmt, w = cap
            return (loss, f"counted just below {fmt}'s {_describe(w)}, a type with fewer bits: "
                          f"{p.name}'s own nearest measurement, {_describe(row)}, is higher, "
                          "measured on another model", w["source"], False)
        return float(row["loss_pct"]), _describe(row), row["source"], False
    whole = _SUBSET_OF.get(p.name)
    row = nearest_measurement(whole, parameters) if whole else None
    if row is not None:
        # quantizes some of the tensors the measured format does, the same way: at most its loss
        return (float(row["loss_pct"]),
                f"no published measurement of {p.name}, which quantizes a subset of the tensors "
                f"{whole} does: counted at {whole}'s {_describe(row)}", row["source"], True)
    if bits_of and p.name in bits_of:
        measured = [f for f in bits_of if f != p.name and weight_table().get(f)]
        # the finest measured format no finer than this one (2% allowed: mlx-8bit's 8.50 bits
        # and Q8_0's 8.51 are one width): an estimate never borrows a finer format's smaller
        # loss (mlx-3bit's 3.5 bits are not counted at nf4's 4.25, "no quality cost")
        within = [f for f in measured if bits_of[f] <= bits_of[p.name] * 1.02]
        if measured and not within:
            return (math.inf, f"no published measurement of {p.name}, nor of any format as coarse "
                              f"on this model ({bits_of[p.name]:.2f} bits a weight)", None, True)
        if within:
            near = max(within, key=lambda f: (bits_of[f], f))
            row = nearest_measurement(near, parameters)
            return (float(row["loss_pct"]),
                    f"no published measurement of {p.name}; {near}, at about the same bits a "
                    f"weight ({bits_of[near]:.2f} against {bits_of[p.name]:.2f}), costs {_describe(row)}",
                    row["source"], True)
    return (math.inf, f"no published measurement of {p.name}", None, True)


def _ladder_cap(fmt: str, parameters: int) -> tuple[float, str, dict] | None:
    """The most a GGUF type may be counted to cost on a model of `parameters`: just below (by
    0.01, the figures' precision) the least costly type after it on GGUF_LADDER, each counted
    so in turn from the last type up, each at its nearest measurement: (loss %, that type, its
    row), or None (off the ladder, or nothing measured after it). Each type is quoted on the
    model nearest in size that measured it, so two types of one model may come from two
    models, and a figure from a smaller model (which quantization costs more) can put a type
    above one with fewer bits: Q4_K_M's +2.43% on Llama 3 8B against Q4_K_S's +2.39% on
    Qwen-14B, for a 14B."""
    if fmt not in GGUF_LADDER:
        return None
    best = None   # (counted loss, type, row) of the least costly type after fmt so far
    for f in reversed(GGUF_LADDER[GGUF_LADDER.index(fmt) + 1:]):
        r = nearest_measurement(f, parameters)
        if r is None:
            continue
        own = float(r["loss_pct"])
        if best is not None and best[0] - 0.01 < own:
            own = round(best[0] - 0.01, 2)
            r, f = best[2], best[1]
        if best is None or own < best[0]:
            best = (own, f, r)
    return None if best is None else (round(best[0] - 0.01, 2), best[1], best[2])


def kv_cost(kv_dtype: str) -> tuple[float, str]:
    """(loss %, text) of a KV cache at kv_dtype against a 16-bit one."""
    row = kv_table().get(kv_dtype)
    if row is None and kv_dtype in c.LLAMACPP_QUANT_KV:
        # not measured (q5_1, q5_0, q4_1, iq4_nl): at most q4_0's loss, the coarsest measured
        # cache, whose 4.5 bits a value none of them is below
        row = kv_table()["q4_0"]
        return float(row["loss_pct"]), (f"KV cache at {kv_dtype}: not measured; counted at "
                                        f"q4_0's loss ({row['value']} {row['metric']} on "
                                        f"{row['measured_on']}, {row['source']}), a coarser or "
                                        f"equal cache")
    if row is None and kv_dtype in _MLX_KV_LIKE:
        # mlx-lm's --kv-bits cache: not measured; counted at the llama.cpp cache of the same
        # bits a value (8.5 or 4.5), as its loss
        like = kv_table()[_MLX_KV_LIKE[kv_dtype]]
        return float(like["loss_pct"]), (f"KV cache at {kv_dtype} (mlx-lm --kv-bits): not "
                                         f"measured; counted at {_MLX_KV_LIKE[kv_dtype]}'s loss, "
                                         "the same bits a value ("
                                         f"{like['value']} {like['metric']} on {like['measured_on']}, "
                                         f"{like['source']})")
    if row is None:
        return 0.0, ""
    return float(row["loss_pct"]), (f"KV cache at {kv_dtype}: {row['value']} {row['metric']} "
                                    f"on {row['measured_on']} ({row['source']})")


def quality_cost(p: Precision, native: str | None, parameters: int, kv_dtype: str,
                 bits_of: dict[str, float] | None = None) -> QualityCost:
    w_loss, w_text, source, est = weights_cost(p, native, parameters, bits_of)
    kv_loss, kv_text = kv_cost(kv_dtype)
    text = w_text if not kv_text else f"{w_text}; {kv_text}"
    return QualityCost(round(w_loss + kv_loss, 3), w_loss, kv_loss, text, source, est)
