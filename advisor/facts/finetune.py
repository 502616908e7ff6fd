"""Facts of a fine-tuning question: each memory part, the verdict inputs, and the ways out.

Absent for inference. For fine-tuning this module sets the core verdict facts (total_bytes,
headroom_bytes, margin_bytes ...) from the training memory, so the generic verdict rules apply.
Per-GPU facts are for one GPU; total_bytes is per GPU x GPUs, compared with all their memory.
"""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.sizing import constants as c
from advisor.sizing.finetune import (FinetuneMemory, FinetuneSpec, finetune_memory,
                                     with_changes)
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.plan import Placement

FACTS: dict[str, tuple[str, str]] = {
    "finetune_method": ("str", "full, lora or qlora"),
    "finetune_seq_len": ("int", "tokens a training sequence"),
    "finetune_micro_batch": ("int", "sequences a GPU a step"),
    "finetune_gradient_checkpointing": ("bool", "activations recomputed layer by layer"),
    "finetune_optimizer": ("str", "adamw, adamw-8bit, paged-adamw-8bit or sgd"),
    "finetune_sharding": ("str", "none, zero2, zero3 or fsdp"),
    "finetune_pure_bf16": ("bool", "full fine-tuning without fp32 master weights"),
    "finetune_lora_rank": ("int", "LoRA rank (lora and qlora)"),
    "finetune_lora_targets": ("str", "linear layers with adapters, comma-separated"),
    "finetune_trainable_parameters": ("int", "parameters the optimizer updates"),
    "finetune_weights_bytes": ("int", "weights on one GPU"),
    "finetune_gradients_bytes": ("int", "gradients on one GPU"),
    "finetune_optimizer_states_bytes": ("int", "optimizer states on one GPU"),
    "finetune_master_weights_bytes": ("int", "fp32 master weights on one GPU"),
    "finetune_adapters_bytes": ("int", "LoRA adapter weights on one GPU"),
    "finetune_activations_bytes": ("int", "activations and logits on one GPU"),
    "finetune_framework_bytes": ("int", "CUDA context, workspaces and transient buffers a GPU"),
    "finetune_per_gpu_bytes": ("int", "everything one GPU holds at the peak of a step"),
    "finetune_per_gpu_headroom_bytes": ("int", "one GPU's memory minus finetune_per_gpu_bytes"),
    "finetune_rule_of_thumb_bytes": ("int", "LLaMA-Factory's GB-per-billion rule for the method"),
    "finetune_checkpointing_per_gpu_bytes": ("int", "per GPU with gradient checkpointing on"),
    "finetune_checkpointing_saves_bytes": ("int", "what turning checkpointing on saves a GPU"),
    "finetune_checkpointing_fits": ("bool", "it then fits"),
    "finetune_8bit_optimizer_per_gpu_bytes": ("int", "per GPU with paged 8-bit AdamW"),
    "finetune_8bit_optimizer_saves_bytes": ("int", "what the 8-bit optimizer saves a GPU"),
    "finetune_8bit_optimizer_fits": ("bool", "it then fits"),
    "finetune_shorter_seq_len": ("int", "longest halved sequence length that fits"),
    "finetune_shorter_per_gpu_bytes": ("int", "per GPU at finetune_shorter_seq_len"),
    "finetune_shorter_saves_bytes": ("int", "what the shorter sequences save a GPU"),
    "finetune_shorter_fits": ("bool", "always true when the option exists"),
    "finetune_lora_per_gpu_bytes": ("int", "per GPU with LoRA instead of full"),
    "finetune_lora_saves_bytes": ("int", "what LoRA saves a GPU"),
    "finetune_lora_fits": ("bool", "it then fits"),
    "finetune_qlora_per_gpu_bytes": ("int", "per GPU with QLoRA"),
    "finetune_qlora_saves_bytes": ("int", "what QLoRA saves a GPU"),
    "finetune_qlora_fits": ("bool", "it then fits"),
    "finetune_shard_gpu_count": ("int", "fewest GPUs of this kind that fit it with ZeRO-3/FSDP"),
    "finetune_shard_node_count": ("int", "nodes of 8 GPUs that count needs"),
    "finetune_shard_per_gpu_bytes": ("int", "per GPU over finetune_shard_gpu_count GPUs"),
    "finetune_shard_saves_bytes": ("int", "what sharding saves a GPU"),
    "finetune_shard_fits": ("bool", "always true when the option exists"),
    "finetune_rent_gpu_id": ("str", "smallest KB GPU that trains it as asked"),
    "finetune_rent_gpu_name": ("str", "its name"),
    "finetune_rent_gpu_count": ("int", "how many of them"),
    "finetune_rent_sharding": ("str", "sharding on that set"),
    "finetune_rent_memory_bytes": ("int", "memory of one of them"),
    "finetune_rent_per_gpu_bytes": ("int", "per GPU on that set"),
    "finetune_rent_fits": ("bool", "always true when the option exists"),
}

# Each option's facts are set together or not at all (what rule validation may rely on).
_OPTIONS = ("checkpointing", "8bit_optimizer", "shorter", "lora", "qlora", "shard")
TOGETHER = [{f"finetune_{k}_{part}" for part in ("per_gpu_bytes", "saves_bytes", "fits")}
            | ({"finetune_shorter_seq_len"} if k == "shorter" else set())
            | ({"finetune_shard_gpu_count", "finetune_shard_node_count"} if k == "shard" else set())
            for k in _OPTIONS]
TOGETHER.append({k for k in FACTS if k.startswith("finetune_rent_")})

SHARD_GPU_LIMIT = 64 * c.GPUS_PER_NODE
# Cards a rented training run is offered on: the stack sized here (PyTorch with DeepSpeed or FSDP,
# PEFT, bitsandbytes) runs on CUDA and ROCm; bitsandbytes' NF4 kernels (QLoRA) are CUDA-first
# (ROCm support is partial and version-bound), so QLoRA is offered on NVIDIA only. Apple's MPS
# and Intel Gaudi run other stacks (no DeepSpeed ZeRO-3 on MPS; Gaudi needs optimum-habana).
TRAINING_VENDORS = {"full": ("nvidia", "amd"), "lora": ("nvidia", "amd"), "qlora": ("nvidia",)}


def _fits(m: FinetuneMemory, memory_bytes: int) -> bool:
    return memory_bytes - m.per_gpu_bytes >= fit_margin_bytes(1)


def _gpu_counts(start: int):
    """2..8, then whole nodes, up to SHARD_GPU_LIMIT."""
    for n in range(start, c.GPUS_PER_NODE + 1):
        yield n
    n = max(2 * c.GPUS_PER_NODE, -(-start // c.GPUS_PER_NODE) * c.GPUS_PER_NODE)
    while n <= SHARD_GPU_LIMIT:
        yield n
        n += c.GPUS_PER_NODE


def min_sharded_gpus(a, spec: FinetuneSpec, memory_bytes: int, start: int = 2):
    sharding = spec.sharding if spec.sharding in ("zero3", "fsdp") else "zero3"
    s = with_changes(spec, sharding=sharding)
    for n in _gpu_counts(start):
        m = finetune_memory(a, s, n)
        if _fits(m, memory_bytes):
            return n, m
    return None


def _option(f: dict, key: str, here: FinetuneMemory, alt: FinetuneMemory, memory_bytes: int,
            **extra) -> None:
    """The option's facts (and `extra` facts with it) when it saves memory."""
    if alt.per_gpu_bytes >= here.per_gpu_bytes:
        return
    f.update(extra)
    f[f"finetune_{key}_per_gpu_bytes"] = alt.per_gpu_bytes
    f[f"finetune_{key}_saves_bytes"] = here.per_gpu_bytes - alt.per_gpu_bytes
    f[f"finetune_{key}_fits"] = _fits(alt, memory_bytes)


def _rule_of_thumb(spec: FinetuneSpec, parameters: int) -> int:
    key = "full-pure-bf16" if spec.method == "full" and spec.pure_bf16 else spec.method
    return round(c.FT_RULE_OF_THUMB_GB_PER_BILLION[key] * parameters)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    spec = q.work.finetune
    if q.work.task != "finetune" or spec is None:
        return
    a, mem, n = q.model.architecture, q.gpu.memory_bytes, q.gpus
    m = finetune_memory(a, spec, n)
    p = m.parts
    f.update({
        "finetune_method": spec.method, "finetune_seq_len": spec.seq_len,
        "finetune_micro_batch": spec.micro_batch,
        "finetune_gradient_checkpointing": spec.gradient_checkpointing,
        "finetune_optimizer": spec.optimizer, "finetune_sharding": spec.sharding,
        "finetune_pure_bf16": spec.pure_bf16,
        "finetune_trainable_parameters": m.trainable_parameters,
        "finetune_weights_bytes": p["weights"], "finetune_gradients_bytes": p["gradients"],
        "finetune_optimizer_states_bytes": p["optimizer_states"],
        "finetune_master_weights_bytes": p["master_weights"],
        "finetune_adapters_bytes": p["adapters"], "finetune_activations_bytes": p["activations"],
        "finetune_framework_bytes": p["framework"], "finetune_per_gpu_bytes": m.per_gpu_bytes,
        "finetune_per_gpu_headroom_bytes": mem - m.per_gpu_bytes,
        "finetune_rule_of_thumb_bytes": _rule_of_thumb(spec, m.parameters),
    })
    if spec.uses_lora:
        f["finetune_lora_rank"] = spec.lora_rank
        f["finetune_lora_targets"] = ",".join(spec.lora_targets)
    # the generic verdict inputs, for the training total
    f.update({
        "weights_bytes": p["weights"] * n,
        "overhead_bytes": p["framework"] * n,
        "total_bytes": m.total_bytes,
        "available_bytes": mem * n,
        "headroom_bytes": mem * n - m.total_bytes,
        "deficit_bytes": max(0, m.total_bytes - mem * n),
        "margin_bytes": fit_margin_bytes(n),
        "weights_exceed_memory": p["weights"] > mem,
    })
    if _fits(m, mem):
        return
    if not spec.gradient_checkpointing:
        _option(f, "checkpointing", m, finetune_memory(a, with_changes(
            spec, gradient_checkpointing=True), n), mem)
    if spec.optimizer == "adamw":
        _option(f, "8bit_optimizer", m, finetune_memory(a, with_changes(
            spec, optimizer="paged-adamw-8bit"), n), mem)
    seq = spec.seq_len // 2
    while seq >= c.FT_SHORTEST_SEQ_LEN:
        alt = finetune_memory(a, with_changes(spec, seq_len=seq), n)
        if _fits(alt, mem):
            _option(f, "shorter", m, alt, mem, finetune_shorter_seq_len=seq)
            break
        seq //= 2
    if spec.method == "full":
        _option(f, "lora", m, finetune_memory(a, with_changes(
            spec, method="lora", pure_bf16=False), n), mem)
    if spec.method in ("full", "lora"):
        _option(f, "qlora", m, finetune_memory(a, with_changes(
            spec, method="qlora", pure_bf16=False), n), mem)
    shard = min_sharded_gpus(a, spec, mem, start=max(2, n + 1 if spec.sharding in ("zero3", "fsdp") else n))
    if shard:
        k, sm = shard
        _option(f, "shard", m, sm, mem, finetune_shard_gpu_count=k,
                finetune_shard_node_count=-(-k // c.GPUS_PER_NODE))
    _rent(q, spec, m, f)


def _rent(q: Question, spec: FinetuneSpec, here: FinetuneMemory, f: dict) -> None:
    a, best = q.model.architecture, None
    for g in q.kb.all_gpus():
        if g.id == q.gpu.id or g.memory_bytes <= q.gpu.memory_bytes:
            continue
        if g.vendor not in TRAINING_VENDORS[spec.method]:
            continue
        m = finetune_memory(a, spec, q.gpus)
        if _fits(m, g.memory_bytes):
            key = (0, g.memory_bytes, g.id)
            option = (g, q.gpus, spec.sharding, m)
        else:
            shard = min_sharded_gpus(a, spec, g.memory_bytes)
            if shard is None:
                continue
            k, m = shard
            key = (1, k * g.memory_bytes, g.id)
            option = (g, k, m.spec.sharding, m)
        if best is None or key < best[0]:
            best = (key, option)
    if best is None:
        return
    g, k, sharding, m = best[1]
    f.update(finetune_rent_gpu_id=g.id, finetune_rent_gpu_name=g.name, finetune_rent_gpu_count=k,
             finetune_rent_sharding=sharding, finetune_rent_memory_bytes=g.memory_bytes,
             finetune_rent_per_gpu_bytes=m.per_gpu_bytes, finetune_rent_fits=True)
