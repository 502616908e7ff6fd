"""Facts about the ways out of a miss: quantize, shard, offload, a smaller model, a distilled
model (renting: rent.py)."""
from __future__ import annotations

from dataclasses import replace

from advisor.facts.question import Question
from advisor.kb.store import KnowledgeBase
from advisor.sizing import constants as c
from advisor.sizing.offload import plan_expert_offload, plan_offload
from advisor.sizing.plan import Placement, min_gpus, place
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
    "offload_decode_tokens_per_s": ("float", "decode speed with the offload, empty context"),
    "offload_decode_tokens_per_s_full_context": ("float", "decode speed with the offload, full context"),
    "offload_gpu_bytes": ("int", "bytes on the GPU with the offload"),
    "shard_decode_tokens_per_s": ("float", "decode speed on shard_gpu_count GPUs"),
    "shard_split": ("str", "layer or tensor, as the runtime splits shard_gpu_count GPUs"),
    "shard_per_gpu_bytes": ("int", "bytes on the busiest of shard_gpu_count GPUs"),
    "offload_moe_cpu_layers": ("int", "MoE: layers whose experts stay in RAM (llama.cpp --n-cpu-moe)"),
    "offload_moe_ram_bytes": ("int", "MoE: system RAM the experts in RAM and the embedding need"),
    "offload_moe_ram_fits": ("bool", "offload_moe_ram_bytes fits in the assumed RAM"),
    "offload_moe_decode_tokens_per_s": ("float", "MoE: decode speed with experts in RAM"),
    "smaller_model_id": ("str", "largest smaller sibling that fits"),
    "smaller_model_name": ("str", "its name"),
    "smaller_model_parameters": ("int", "its parameters"),
    "smaller_model_precision": ("str", "the precision it fits at"),
    "smaller_model_total_bytes": ("int", "its total memory"),
    "smaller_model_headroom_bytes": ("int", "its headroom"),
    "smaller_model_decode_tokens_per_s": ("float", "its decode speed"),
    "distilled_model_id": ("str", "the largest model distilled from this one that fits"),
    "distilled_model_name": ("str", "its name"),
    "distilled_model_parameters": ("int", "its parameters"),
    "distilled_model_precision": ("str", "the precision it fits at"),
    "distilled_model_total_bytes": ("int", "its total memory"),
    "distilled_model_headroom_bytes": ("int", "its headroom"),
    "distilled_model_decode_tokens_per_s": ("float", "its decode speed"),
}
# Each option's facts are set all together or not at all (tests check it over the KB).
TOGETHER = [{k for k in FACTS if k.startswith(prefix) and not k.startswith("offload_moe_")}
            for prefix in ("quantize_", "shard_", "offload_", "smaller_model_", "distilled_model_")]
TOGETHER.append({k for k in FACTS if k.startswith("offload_moe_")})


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


def _smaller_model(kb: KnowledgeBase, model, gpu, gpus, precision, work):
    sibs = sorted((kb.model(s) for s in model.siblings),
                  key=lambda m: parameter_count(m.architecture), reverse=True)
    mine = parameter_count(model.architecture)
    # a distill of this model is the distilled-model option's, not a smaller sibling
    candidates = [m for m in sibs if parameter_count(m.architecture) < mine
                  and m.distilled_from != model.id]
    return _first_fit(candidates, gpu, gpus, precision, work)


def _distilled_model(kb: KnowledgeBase, model, gpu, gpus, precision, work):
    """Models the KB records as distilled from this one (distilled_from), largest first."""
    distills = sorted((m for m in kb.all_models() if m.distilled_from == model.id),
                      key=lambda m: parameter_count(m.architecture), reverse=True)
    return _first_fit(distills, gpu, gpus, precision, work)


def _first_fit(candidates, gpu, gpus, precision, work):
    """The largest candidate that fits at the precision asked or, failing that, at Q4_K_M (a
    larger model at 4 bits usually answers better than a smaller one at 16); a candidate whose
    own limit is below the asked context is left out."""
    q4 = parse_precision("Q4_K_M")
    tries = [precision] + ([q4] if q4.quality_rank > precision.quality_rank else [])
    for m in candidates:
        if m.architecture.max_context < work.context_tokens:
            continue
        for p in tries:
            pl = place(m, gpu, p, work, gpus)
            if pl.fits:
                return m, p, pl
    return None


def contribute(q: Question, pl: Placement, f: dict) -> None:
    if not pl.fits:
        quant = _quantize_option(q.model, q.gpu, q.gpus, q.precision, q.work)
        if quant:
            p, qpl = quant
            f.update(quantize_precision=p.name, quantize_weights_bytes=qpl.weights_bytes,
                     quantize_total_bytes=qpl.total_bytes, quantize_headroom_bytes=qpl.headroom_bytes,
                     quantize_decode_tokens_per_s=round(qpl.decode_tokens_per_s(), 2),
                     quantize_needs_more_than_4bit=p.quality_rank <= 5)  # Q4_K_M: 4.8 bits
        n = min_gpus(q.model, q.gpu, q.precision, q.work)
        shard_work = q.work
        if n is not None and n > c.GPUS_PER_NODE:
            # beyond one node llama.cpp has no multi-node split: tensor parallel inside each node
            # and pipeline across nodes (vLLM) is the plan the shard-across-nodes rule gives, so
            # the count is sized for vLLM's allocations (its KV precisions)
            kv = q.work.kv_cache_dtype
            shard_work = replace(q.work, runtime="vllm",
                                 kv_cache_dtype=kv if kv in c.RUNTIME_KV_DTYPES["vllm"] else "fp16")
            n = min_gpus(q.model, q.gpu, q.precision, shard_work)
        if n is not None and n > q.gpus and not q.gpu.unified_memory:
            # a Mac's unified memory is one machine's, not a card to put beside another
            spl = place(q.model, q.gpu, q.precision, shard_work, n)
            f.update(shard_gpu_count=n, shard_node_count=-(-n // c.GPUS_PER_NODE),
                     shard_total_bytes=spl.total_bytes, shard_headroom_bytes=spl.headroom_bytes,
                     shard_interconnect=q.gpu.interconnect or "unknown",
                     shard_decode_tokens_per_s=round(spl.decode_tokens_per_s(), 2),
                     shard_split=spl.split.kind, shard_per_gpu_bytes=spl.split.per_gpu_bytes)
        off = plan_offload(q.model, q.gpu, q.precision, q.work)
        if off and q.gpus == 1:
            f.update(offload_gpu_layers=off.gpu_layers, offload_cpu_layers=off.cpu_layers,
                     offload_ram_bytes=off.ram_bytes, offload_ram_assumed_bytes=q.work.ram_bytes,
                     offload_ram_fits=off.ram_fits,
                     offload_ram_bandwidth_gb_s=float(q.work.ram_bandwidth_gb_s),
                     offload_gpu_bytes=off.gpu_bytes,
                     offload_decode_tokens_per_s=round(off.decode_tokens_per_s, 2),
                     offload_decode_tokens_per_s_full_context=round(
                         off.decode_tokens_per_s_full_context, 2))
        moe = plan_expert_offload(q.model, q.gpu, q.precision, q.work)
        if moe and q.gpus == 1:
            f.update(offload_moe_cpu_layers=moe.cpu_moe_layers, offload_moe_ram_bytes=moe.ram_bytes,
                     offload_moe_ram_fits=moe.ram_fits,
                     offload_moe_decode_tokens_per_s=round(moe.decode_tokens_per_s, 2))
        for prefix, find in (("smaller_model_", _smaller_model), ("distilled_model_", _distilled_model)):
            found = find(q.kb, q.model, q.gpu, q.gpus, q.precision, q.work)
            if found:
                _other_model_facts(f, prefix, *found)


def _other_model_facts(f: dict, prefix: str, m, p: Precision, pl: Placement) -> None:
    """The facts of another model to run instead (smaller_model_*, distilled_model_*)."""
    f.update({prefix + k: v for k, v in (
        ("id", m.id), ("name", m.name), ("parameters", parameter_count(m.architecture)),
        ("precision", p.name), ("total_bytes", pl.total_bytes),
        ("headroom_bytes", pl.headroom_bytes),
        ("decode_tokens_per_s", round(pl.decode_tokens_per_s(), 2)))})
