"""Facts about the ways out of a miss: quantize, shard, offload, rent, a smaller model."""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.kb.store import KnowledgeBase
from advisor.sizing import constants as c
from advisor.sizing.plan import Placement, min_gpus, place, plan_offload
from advisor.sizing.precision import QUANTIZE_LADDER, Precision, parse_precision
from advisor.sizing.tensors import parameter_count

FACTS: dict[str, tuple[str, str]] = {
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


def contribute(q: Question, pl: Placement, f: dict) -> None:
    if q.work.task != "inference":
        return  # quantize, offload, shard, rent, smaller model: inference options
    if not pl.fits:
        quant = _quantize_option(q.model, q.gpu, q.gpus, q.precision, q.work)
        if quant:
            p, qpl = quant
            f.update(quantize_precision=p.name, quantize_weights_bytes=qpl.weights_bytes,
                     quantize_total_bytes=qpl.total_bytes, quantize_headroom_bytes=qpl.headroom_bytes,
                     quantize_decode_tokens_per_s=round(qpl.decode_tokens_per_s(), 2),
                     quantize_needs_more_than_4bit=p.quality_rank < 5)
        n = min_gpus(q.model, q.gpu, q.precision, q.work)
        if n is not None and n > q.gpus:
            spl = place(q.model, q.gpu, q.precision, q.work, n)
            f.update(shard_gpu_count=n, shard_node_count=-(-n // c.GPUS_PER_NODE),
                     shard_total_bytes=spl.total_bytes, shard_headroom_bytes=spl.headroom_bytes,
                     shard_interconnect=q.gpu.interconnect or "unknown")
        off = plan_offload(q.model, q.gpu, q.precision, q.work)
        if off and q.gpus == 1:
            f.update(offload_gpu_layers=off.gpu_layers, offload_cpu_layers=off.cpu_layers,
                     offload_ram_bytes=off.ram_bytes, offload_ram_assumed_bytes=c.DEFAULT_RAM_BYTES,
                     offload_ram_fits=off.ram_bytes <= c.DEFAULT_RAM_BYTES,
                     offload_ram_bandwidth_gb_s=c.DEFAULT_RAM_BANDWIDTH_GB_S,
                     offload_decode_tokens_per_s=round(off.decode_tokens_per_s, 2))
        singles, best = _rent_option(q.kb, q.model, q.gpu, q.precision, q.work)
        singles = [g for g in singles if g.id != q.gpu.id]
        if best is not None and not (best[1].id == q.gpu.id and best[2] <= q.gpus):
            _, g, n = best
            if singles:
                g, n = singles[0], 1
            rpl = place(q.model, g, q.precision, q.work, n)
            f.update(rent_gpu_id=g.id, rent_gpu_name=g.name, rent_gpu_count=n,
                     rent_memory_bytes=g.memory_bytes, rent_headroom_bytes=rpl.headroom_bytes,
                     rent_decode_tokens_per_s=round(rpl.decode_tokens_per_s(), 2),
                     rent_single_gpu_options=", ".join(x.id for x in singles))
        s = _smaller_model(q.kb, q.model, q.gpu, q.gpus, q.precision, q.work)
        if s:
            m, p, spl = s
            f.update(smaller_model_id=m.id, smaller_model_name=m.name,
                     smaller_model_parameters=parameter_count(m.architecture),
                     smaller_model_precision=p.name, smaller_model_total_bytes=spl.total_bytes,
                     smaller_model_headroom_bytes=spl.headroom_bytes,
                     smaller_model_decode_tokens_per_s=round(spl.decode_tokens_per_s(), 2))
