"""What a plan costs in quality: its weight format against the published checkpoint, plus its KV
cache precision against a 16-bit cache, each a published measurement with its source.

Weight formats: advisor/data/quant_quality.yaml, several measurements a format on models of
stated sizes; a plan quotes the one measured on the model nearest in size (on a log scale:
quantization costs less as models grow), of the model's own family where one within
FAR_SIZE_RATIO of its size was measured (families lose differently at one size), and says so where that model is more than
FAR_SIZE_RATIO times larger or smaller than the one asked about, or dense where the one asked
about is a mixture of experts: its loss is then a stand-in, not its own. A format with no
measurement takes the measured format
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
# Quantization-aware-trained files of a post-training format: (that format, the share of its
# loss left, source). Google's Gemma 3 QAT Q4_0 GGUFs: "reduced the perplexity drop by 54% (using
# llama.cpp perplexity evaluation) when quantizing down to Q4_0" (Google's announcement, 18 April
# 2025); no measurement against BF16 per model is published, so the loss is an estimate: Q4_0's
# nearest measurement times 0.46.
_QAT_OF = {"qat-q4_0": ("Q4_0", 0.46, "https://developers.googleblog.com/ja/gemma-3-quantized-"
                        "aware-trained-bringing-state-of-the-art-ai-to-consumer-gpus")}
# A measurement on a model more than this many times larger or smaller (in parameters) than the
# one asked about is quoted with a word that it is a stand-in: the same format loses less on a
# larger model (SIZE_EVIDENCE), so an 8B's loss overstates a 70B's and understates a 1B's.
FAR_SIZE_RATIO = 4.0
# The evidence for that word, from this table: one format measured on two sizes of one family in
# one source (llama.cpp's perplexity README: Llama 2 7B and 70B at Q4_K_M). Its figures are read
# from the table, never written here; tests/test_quality_wording.py checks the larger loses less.
SIZE_EVIDENCE = ("Q4_K_M", "Llama 2 7B", "Llama 2 70B")
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


def nearest_measurement(fmt: str, parameters: int, family: str | None = None) -> dict | None:
    """The measurement of `fmt` to quote for a model of `parameters` of KB family `family`: the
    one made on the model nearest in size (log scale) of that family (a row's `families`) within
    FAR_SIZE_RATIO of its size, else the one nearest in size of any; None if none."""
    rows = weight_table().get(fmt)
    if not rows:
        return None
    size = math.log(max(parameters, 1) / 1e9)
    own = [r for r in rows if family in r.get("families", ())
           and abs(math.log(r["parameters_b"]) - size) <= math.log(FAR_SIZE_RATIO)]
    return min(own or rows, key=lambda r: (abs(math.log(r["parameters_b"]) - size), r["parameters_b"]))


def _percent(loss_pct: float, metric: str) -> str:
    """'+2.43%' (perplexity grows) or '-0.71%' (accuracy falls); loss_pct > 0."""
    return f"{'+' if metric == 'perplexity' else '-'}{loss_pct:g}%"


def _figure(loss_pct: float, metric: str) -> str:
    """'+2.43% perplexity', '-0.71% accuracy', or 'no perplexity lost' for a zero ("-0%
    accuracy" would read as a loss)."""
    metric = "perplexity" if metric == "perplexity" else "accuracy"
    if not loss_pct:
        return f"no {metric} lost"
    return f"{_percent(loss_pct, metric)} {metric}"


def _describe(row: dict, of_model: str = "") -> str:
    """'+2.43% perplexity on Llama 3 8B (its raw figures)'; of_model follows the model's name
    (', of this model's family')."""
    return f"{_figure(row['loss_pct'], row['metric'])} on {row['model']}{of_model} ({row['measure']})"


def _billions(n: float) -> str:
    return f"{n:.3g}B" if n < 100 else f"{n:.0f}B"


def size_evidence() -> str:
    """'Q4_K_M: +1.42% perplexity on Llama 2 7B, +1.2% on Llama 2 70B', read from the table
    (SIZE_EVIDENCE)."""
    fmt, small, large = SIZE_EVIDENCE
    rows = {r["model"]: r for r in weight_table()[fmt]}
    s, l = rows[small], rows[large]
    return (f"{fmt}: {_figure(s['loss_pct'], s['metric'])} on {small}, "
            f"{_percent(l['loss_pct'], l['metric'])} on {large}")


def stand_in_note(row: dict, parameters: int, active_parameters: int | None = None) -> str:
    """What a reader must know to take `row`'s loss for a model of `parameters` (and, for a
    mixture of experts, `active_parameters` used a token): '' where it was measured on a model
    of about that size and kind; else, from ', ', that it was measured on a model more than
    FAR_SIZE_RATIO times larger or smaller (and which way that errs, with the table's own
    evidence), and that a dense model stands in for a mixture of experts."""
    size = max(parameters, 1) / 1e9
    ratio = row["parameters_b"] / size
    notes = []
    if ratio > FAR_SIZE_RATIO or ratio < 1 / FAR_SIZE_RATIO:
        larger = ratio > 1
        notes.append(f"a model {ratio if larger else 1 / ratio:.0f}x {'larger' if larger else 'smaller'} "
                     f"than this {_billions(size)} one: "
                     f"{'smaller models usually lose more' if larger else 'larger models usually lose less'} "
                     f"({size_evidence()})")
    if active_parameters and "active_parameters_b" not in row:
        notes.append(f"{'and ' if notes else ''}a dense model: {_moe_words(parameters, active_parameters)}")
    return "".join(f", {n}" for n in notes)


def _moe_words(parameters: int, active_parameters: int) -> str:
    return (f"this mixture of experts uses {_billions(active_parameters / 1e9)} of its "
            f"{_billions(parameters / 1e9)} parameters a token, and which of the two its loss "
            "follows was not measured")


def weights_cost(p: Precision, native: str | None, parameters: int,
                 bits_of: dict[str, float] | None = None,
                 active_parameters: int | None = None,
                 family: str | None = None) -> tuple[float, str, str | None, bool]:
    """(loss %, text, source, estimated) of storing a model of `parameters` in format p, whose
    published checkpoint is `native`. bits_of: format -> bits a weight on this model, used to
    pick a measured neighbour for a format nobody measured. active_parameters: a mixture of
    experts' parameters used a token (None for a dense model), for the text's word on a
    dense model's figure (stand_in_note); it picks no measurement. family: the model's KB
    family, whose own measurements are preferred (nearest_measurement)."""
    if p.name == native or (p.name in _LOSSLESS and (native in _LOSSLESS or native is None)):
        return 0.0, "the weights as published", None, False
    if p.name == "fp32":
        return 0.0, "32-bit floats hold any published format exactly", None, False
    if p.name == "MXFP4_MOE" and native == "mxfp4":
        return 0.0, "the MXFP4 experts as published, the other tensors at Q8_0", None, False

    def quoted(row: dict, fmt: str) -> str:
        # a measurement of the model's own family taken before a nearer one of another says so
        own = (family in row.get("families", ())
               and row is not nearest_measurement(fmt, parameters))
        return (_describe(row, ", of this model's family" if own else "")
                + stand_in_note(row, parameters, active_parameters))

    def moe(*rows: dict) -> str:  # once for the rows a capped figure quotes
        dense = active_parameters and any("active_parameters_b" not in r for r in rows)
        return f"; measured on dense models: {_moe_words(parameters, active_parameters)}" if dense else ""

    row = nearest_measurement(p.name, parameters, family)
    if row is not None:
        cap = _ladder_cap(p.name, parameters, family)
        if cap is not None and cap[0] < row["loss_pct"]:
            # a type never costs more than a type with fewer bits after it on the ladder: the
            # two figures come from two models (each type's nearest in size), and the fewer-bit
            # type's is the lower
            loss, fmt, w = cap
            about = "" if round(loss, 1) == loss else "about "
            return (loss, f"{about}{_figure(round(loss, 1), w['metric'])}: {p.name} measured "
                          f"{_percent(row['loss_pct'], row['metric'])} on {row['model']} "
                          f"({row['measure']}){stand_in_note(row, parameters)}, "
                          f"and {fmt}, a type with fewer bits, "
                          f"{_percent(w['loss_pct'], w['metric'])} on {w['model']} "
                          f"({w['measure']}){stand_in_note(w, parameters)}; "
                          f"counted at {_percent(loss, w['metric'])}, as a type never counts as "
                          "costing more than one with fewer bits" + moe(row, w),
                    w["source"], False)
        return float(row["loss_pct"]), quoted(row, p.name), row["source"], False
    whole = _SUBSET_OF.get(p.name)
    row = nearest_measurement(whole, parameters, family) if whole else None
    if row is not None:
        # quantizes some of the tensors the measured format does, the same way: at most its loss
        return (float(row["loss_pct"]),
                f"no published measurement of {p.name}, which quantizes a subset of the tensors "
                f"{whole} does: counted at {whole}'s {quoted(row, whole)}", row["source"], True)
    qat = _QAT_OF.get(p.name)
    row = nearest_measurement(qat[0], parameters, family) if qat else None
    if row is not None:
        base, left, source = qat
        loss = round(float(row["loss_pct"]) * left, 2)
        return (loss, f"about {_figure(loss, row['metric'])}: Google trained these weights for "
                      f"{base} and measured {1 - left:.0%} less perplexity lost than a {base} "
                      f"file made after training, applied here to {base}'s "
                      f"{quoted(row, base)}", source, True)
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
            row = nearest_measurement(near, parameters, family)
            return (float(row["loss_pct"]),
                    f"no published measurement of {p.name}; {near}, at about the same bits a "
                    f"weight ({bits_of[near]:.2f} against {bits_of[p.name]:.2f}), costs {quoted(row, near)}",
                    row["source"], True)
    return (math.inf, f"no published measurement of {p.name}", None, True)


def _ladder_cap(fmt: str, parameters: int, family: str | None = None) -> tuple[float, str, dict] | None:
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
        r = nearest_measurement(f, parameters, family)
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
                 bits_of: dict[str, float] | None = None,
                 active_parameters: int | None = None, family: str | None = None) -> QualityCost:
    """Weights (weights_cost) and KV cache (kv_cost) together; active_parameters: a mixture of
    experts' parameters used a token, None for a dense model; family: the model's KB family."""
    w_loss, w_text, source, est = weights_cost(p, native, parameters, bits_of, active_parameters,
                                               family)
    kv_loss, kv_text = kv_cost(kv_dtype)
    text = w_text if not kv_text else f"{w_text}; {kv_text}"
    return QualityCost(round(w_loss + kv_loss, 3), w_loss, kv_loss, text, source, est)
