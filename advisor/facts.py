"""The facts the sizing core asserts into the rules engine, and their registry.

A situation is one flat fact (scalars only: the engine joins on fields, not on nested data).
Rule files may name only the facts in FACTS; `advisor rules check` says "did you mean" for others.
A fact that does not apply (an option that does not exist) is left out: a missing field makes
every comparison false, so a rule on it simply does not fire.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.sizing import constants as c
from advisor.sizing.plan import Placement, Workload, min_gpus, place, plan_offload
from advisor.sizing.precision import QUANTIZE_LADDER, Precision, parse_precision
from advisor.sizing.tensors import parameter_count

# name -> (type, meaning). Types: int, float, bool, str.
FACTS: dict[str, tuple[str, str]] = {
    "kind": ("str", "always 'situation'"),
    "model_id": ("str", "the model's KB id"),
    "model_parameters": ("int", "parameters computed from the architecture"),
    "gpu_id": ("str", "the GPU's KB id"),
    "gpu_vendor": ("str", "nvidia, amd, apple or intel"),
    "gpu_count": ("int", "GPUs asked for (--gpus)"),
    "gpu_native_fp8": ("bool", "the card runs FP8 tensor math"),
    "precision": ("str", "the weight format asked for"),
    "precision_family": ("str", "float, checkpoint or gguf"),
    "context_tokens": ("int", "context length asked for"),
    "batch": ("int", "sequences at once"),
    "weights_bytes": ("int", "bytes of the weights"),
    "kv_cache_bytes": ("int", "bytes of the KV cache for context x batch"),
    "overhead_bytes": ("int", "runtime reservation and compute buffers"),
    "total_bytes": ("int", "weights + KV cache + overhead"),
    "available_bytes": ("int", "memory of all the GPUs asked for"),
    "headroom_bytes": ("int", "available - total; negative is a deficit"),
    "deficit_bytes": ("int", "total - available when positive, else 0"),
    "margin_bytes": ("int", "headroom below which a fit is tight"),
    "weights_exceed_memory": ("bool", "the weights alone do not fit"),
    "decode_tokens_per_s": ("float", "decode speed at an empty context (when it fits)"),
    "decode_tokens_per_s_full_context": ("float", "decode speed with the whole context cached"),
    "quantize_precision": ("str", "highest-quality lower precision that fits"),
    "quantize_weights_bytes": ("int", "weights at quantize_precision"),
    "quantize_total_bytes": ("int", "total at quantize_precision"),
    "quantize_headroom_bytes": ("int", "headroom at quantize_precision"),
    "quantize_decode_tokens_per_s": ("float", "decode speed at quantize_precision"),
    "quantize_needs_more_than_4bit": ("bool", "quantize_precision has more than 4 bits a weight"),
    "shard_gpu_count": ("int", "GPUs of this kind needed at this precision"),
    "shard_node_count": ("int", "nodes of 8 GPUs that count needs"),
    "shard_total_bytes": ("int", "total over the shard_gpu_count GPUs"),
    "shard_headroom_bytes": ("int", "headroom over the shard_gpu_count GPUs"),
    "shard_interconnect": ("str", "the card's interconnect"),
    "offload_gpu_layers": ("int", "layers that stay on the GPU (llama.cpp -ngl)"),
    "offload_cpu_layers": ("int", "layers read from system RAM"),
    "offload_ram_bytes": ("int", "system RAM the offloaded part needs"),
    "offload_ram_assumed_bytes": ("int", "system RAM assumed"),
    "offload_ram_fits": ("bool", "offload_ram_bytes fits in the assumed RAM"),
    "offload_ram_bandwidth_gb_s": ("float", "system RAM bandwidth assumed"),
    "offload_decode_tokens_per_s": ("float", "decode speed with the offload"),
    "rent_gpu_id": ("str", "smallest KB GPU that runs it at this precision"),
    "rent_gpu_name": ("str", "its name"),
    "rent_gpu_count": ("int", "how many of them"),
    "rent_memory_bytes": ("int", "memory of one of them"),
    "rent_headroom_bytes": ("int", "headroom on that set"),
    "rent_decode_tokens_per_s": ("float", "decode speed on that set"),
    "rent_single_gpu_options": ("str", "every KB GPU that runs it on one card, smallest first"),
    "smaller_model_id": ("str", "largest smaller sibling that fits"),
    "smaller_model_name": ("str", "its name"),
    "smaller_model_parameters": ("int", "its parameters"),
    "smaller_model_precision": ("str", "the precision it fits at"),
    "smaller_model_total_bytes": ("int", "its total memory"),
    "smaller_model_headroom_bytes": ("int", "its headroom"),
    "smaller_model_decode_tokens_per_s": ("float", "its decode speed"),
}


@dataclass(frozen=True)
class Situation:
    model: Model
    gpu: GPU
    gpu_count: int
    precision: Precision
    work: Workload
    placement: Placement
    facts: dict


def _quantize_option(model, gpu, gpus, precision, work) -> tuple[Precision, Placement] | None:
    for name in QUANTIZE_LADDER:
        p = parse_precision(name)
        if p.quality_rank <= precision.quality_rank:
            continue
        if p.name == "fp8" and not gpu.native_fp8:
            continue
        pl = place(model, gpu, p, work, gpus)
        if pl.fits:
            return p, pl
    return None


def _rent_option(kb: KnowledgeBase, model, gpu, precision, work):
    singles, best = [], None
    for g in kb.all_gpus():
        n = min_gpus(model, g, precision, work)
        if n is None:
            continue
        if n == 1:
            singles.append(g)
        key = (n * g.memory_bytes, n, g.id)
        if best is None or key < best[0]:
            best = (key, g, n)
    singles.sort(key=lambda g: (g.memory_bytes, g.id))
    return singles, best


def _smaller_model(kb: KnowledgeBase, model, gpu, gpus, precision, work):
    sibs = sorted((kb.model(s) for s in model.siblings),
                  key=lambda m: parameter_count(m.architecture), reverse=True)
    mine = parameter_count(model.architecture)
    candidates = [m for m in sibs if parameter_count(m.architecture) < mine]
    for p in [precision, parse_precision("Q4_K_M")]:
        for m in candidates:
            pl = place(m, gpu, p, work, gpus)
            if pl.fits:
                return m, p, pl
    return None


def build_situation(kb: KnowledgeBase, model: Model, gpu: GPU, precision: Precision,
                    work: Workload, gpus: int = 1) -> Situation:
    pl = place(model, gpu, precision, work, gpus)
    f: dict = {
        "kind": "situation",
        "model_id": model.id,
        "model_parameters": parameter_count(model.architecture),
        "gpu_id": gpu.id,
        "gpu_vendor": gpu.vendor,
        "gpu_count": gpus,
        "gpu_native_fp8": gpu.native_fp8,
        "precision": precision.name,
        "precision_family": precision.family,
        "context_tokens": work.context_tokens,
        "batch": work.batch,
        "weights_bytes": pl.weights_bytes,
        "kv_cache_bytes": pl.kv_cache_bytes,
        "overhead_bytes": pl.overhead_bytes,
        "total_bytes": pl.total_bytes,
        "available_bytes": pl.available_bytes,
        "headroom_bytes": pl.headroom_bytes,
        "deficit_bytes": max(0, -pl.headroom_bytes),
        "margin_bytes": pl.margin_bytes,
        "weights_exceed_memory": pl.weights_bytes > pl.available_bytes,
    }
    if pl.decode_tokens_per_s() is not None:
        f["decode_tokens_per_s"] = round(pl.decode_tokens_per_s(), 2)
        f["decode_tokens_per_s_full_context"] = round(pl.decode_tokens_per_s(full_context=True), 2)

    if not pl.fits:
        q = _quantize_option(model, gpu, gpus, precision, work)
        if q:
            p, qpl = q
            f.update(quantize_precision=p.name, quantize_weights_bytes=qpl.weights_bytes,
                     quantize_total_bytes=qpl.total_bytes, quantize_headroom_bytes=qpl.headroom_bytes,
                     quantize_decode_tokens_per_s=round(qpl.decode_tokens_per_s(), 2),
                     quantize_needs_more_than_4bit=p.quality_rank < 5)
        n = min_gpus(model, gpu, precision, work)
        if n is not None and n > gpus:
            spl = place(model, gpu, precision, work, n)
            f.update(shard_gpu_count=n, shard_node_count=-(-n // c.GPUS_PER_NODE),
                     shard_total_bytes=spl.total_bytes, shard_headroom_bytes=spl.headroom_bytes,
                     shard_interconnect=gpu.interconnect or "unknown")
        off = plan_offload(model, gpu, precision, work)
        if off and gpus == 1:
            f.update(offload_gpu_layers=off.gpu_layers, offload_cpu_layers=off.cpu_layers,
                     offload_ram_bytes=off.ram_bytes, offload_ram_assumed_bytes=c.DEFAULT_RAM_BYTES,
                     offload_ram_fits=off.ram_bytes <= c.DEFAULT_RAM_BYTES,
                     offload_ram_bandwidth_gb_s=c.DEFAULT_RAM_BANDWIDTH_GB_S,
                     offload_decode_tokens_per_s=round(off.decode_tokens_per_s, 2))
        singles, best = _rent_option(kb, model, gpu, precision, work)
        singles = [g for g in singles if g.id != gpu.id]
        if best is not None and not (best[1].id == gpu.id and best[2] <= gpus):
            _, g, n = best
            if singles:
                g, n = singles[0], 1
            rpl = place(model, g, precision, work, n)
            f.update(rent_gpu_id=g.id, rent_gpu_name=g.name, rent_gpu_count=n,
                     rent_memory_bytes=g.memory_bytes, rent_headroom_bytes=rpl.headroom_bytes,
                     rent_decode_tokens_per_s=round(rpl.decode_tokens_per_s(), 2),
                     rent_single_gpu_options=", ".join(x.id for x in singles))
        s = _smaller_model(kb, model, gpu, gpus, precision, work)
        if s:
            m, p, spl = s
            f.update(smaller_model_id=m.id, smaller_model_name=m.name,
                     smaller_model_parameters=parameter_count(m.architecture),
                     smaller_model_precision=p.name, smaller_model_total_bytes=spl.total_bytes,
                     smaller_model_headroom_bytes=spl.headroom_bytes,
                     smaller_model_decode_tokens_per_s=round(spl.decode_tokens_per_s(), 2))
    unknown = set(f) - set(FACTS)
    assert not unknown, unknown
    return Situation(model, gpu, gpus, precision, work, pl, f)
