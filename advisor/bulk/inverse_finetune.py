"""`advisor fit GPU --task finetune`: the models that can be fine-tuned on a GPU (or N of them).

"Can be" means the training memory of one GPU leaves llama.cpp's margin free, the verdict
`fits` of the explain path for the same question (the fine-tuning facts compare the total over
the GPUs with the memory of all of them; the parts are the same on every GPU). Without --method
each model is listed with the most thorough method that fits: full fine-tuning, then LoRA, then
QLoRA.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import AdvisorError
from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.sizing.finetune import FinetuneMemory, FinetuneSpec, finetune_memory, validate, with_changes
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.tensors import parameter_count

METHODS_BEST_FIRST = ("full", "lora", "qlora")


@dataclass(frozen=True)
class FinetuneFitRow:
    model: Model
    gpu: GPU
    gpu_count: int
    memory: FinetuneMemory
    parameters: int

    @property
    def spec(self) -> FinetuneSpec:
        return self.memory.spec

    @property
    def headroom_bytes(self) -> int:
        return self.gpu.usable_memory_bytes - self.memory.per_gpu_bytes

    def to_json(self) -> dict:
        s = self.spec
        return {"model": self.model.id, "name": self.model.name, "parameters": self.parameters,
                "method": s.method, "trainable_parameters": self.memory.trainable_parameters,
                "per_gpu_bytes": self.memory.per_gpu_bytes, "headroom_bytes": self.headroom_bytes,
                "seq_len": s.seq_len, "micro_batch": s.micro_batch, "sharding": s.sharding}


def trains(gpu: GPU, m: FinetuneMemory) -> bool:
    return gpu.usable_memory_bytes - m.per_gpu_bytes >= fit_margin_bytes(1)


def models_to_finetune(kb: KnowledgeBase, gpu: GPU, base: FinetuneSpec, gpus: int = 1,
                       any_method: bool = True) -> list[FinetuneFitRow]:
    """Every KB model that trains on gpus x gpu with `base` (its method, or with any_method the
    best of full, LoRA, QLoRA that fits). Models whose context is shorter than base.seq_len are
    left out. Largest first, then the more thorough method, then the id."""
    methods = METHODS_BEST_FIRST if any_method else (base.method,)
    rows = []
    for model in kb.all_models():
        a = model.architecture
        for method in methods:
            spec = with_changes(base, method=method, pure_bf16=base.pure_bf16 and method == "full")
            try:
                validate(spec, a, gpus)
            except AdvisorError:
                continue  # the sequence is longer than this model's context, or the like
            mem = finetune_memory(a, spec, gpus)
            if trains(gpu, mem):
                rows.append(FinetuneFitRow(model, gpu, gpus, mem, parameter_count(a)))
                break
    rows.sort(key=lambda r: (-r.parameters, METHODS_BEST_FIRST.index(r.spec.method), r.model.id))
    return rows
