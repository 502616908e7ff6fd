"""Facts of a fine-tuning question: each memory part and the verdict inputs. (The ways out,
sharding, pure bf16, an 8-bit optimizer, checkpointing, shorter sequences, another method,
more or rented cards, are fine-tuning plans: advisor/plans/finetune.py.)

Absent for inference. For fine-tuning this module sets the core verdict facts (total_bytes,
headroom_bytes, margin_bytes ...) from the training memory, so the generic verdict rules apply.
Per-GPU facts are for one GPU; total_bytes is per GPU x GPUs, compared with all their memory.
"""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.sizing import constants as c
from advisor.sizing.finetune import FinetuneSpec, finetune_memory
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
}

def _rule_of_thumb(spec: FinetuneSpec, parameters: int) -> int:
    key = "full-pure-bf16" if spec.method == "full" and spec.pure_bf16 else spec.method
    return round(c.FT_RULE_OF_THUMB_GB_PER_BILLION[key] * parameters)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    spec = q.work.finetune
    if q.work.task != "finetune" or spec is None:
        return
    a, mem, n = q.model.architecture, q.gpu.usable_memory_bytes, q.gpus  # a Mac: its GPU share
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
