"""Fine-tuning plans: the training setup and the cards that train a model, every knob set.

Levers, in the order an engineer reaches for them (issue 17): shard the model states over the
cards you have (ZeRO-2, ZeRO-3 or FSDP), train in pure bf16 (no fp32 master weights), an 8-bit
optimizer, gradient checkpointing, shorter sequences; only then another method (LoRA, then
QLoRA). Placements: the cards given (your-hardware), more of the same card (up to a node),
rented cards (one card, or whole nodes of cluster-class cards, on the vendors the training stack
runs on). Every plan is sized by advisor.sizing.finetune.finetune_memory, per GPU, with the
margin; a plan's key sorts it within its path: the method as asked first, the whole sequence,
the fewest knobs changed, one node, the cheapest rented hour, the fewest cards.

The plan rules choose among the paths' best plans exactly as for inference
(rules/plan-*.yaml; the plan facts carry task == 'finetune').
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, replace
from functools import lru_cache

from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.plans.candidates import rental_counts, rentable
from advisor.plans.prices import rent_cost
from advisor.render import count
from advisor.sizing import constants as c
from advisor.sizing.finetune import FinetuneSpec, finetune_memory
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.tensors import parameter_count
from advisor.sizing.train_time import TrainingTime, training_time

METHOD_RANK = {"full": 0, "lora": 1, "qlora": 2}
# The stack sized (PyTorch with DeepSpeed or FSDP, PEFT, bitsandbytes) runs on CUDA and ROCm;
# bitsandbytes' NF4 kernels (QLoRA) are CUDA-first, so QLoRA is offered on NVIDIA only.
TRAINING_VENDORS = {"full": ("nvidia", "amd"), "lora": ("nvidia", "amd"), "qlora": ("nvidia",)}
_METHOD_NAMES = {"full": "full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}
_SHARD_NAMES = {"none": "no sharding", "zero2": "ZeRO-2", "zero3": "ZeRO-3", "fsdp": "FSDP"}


@dataclass(frozen=True)
class FinetunePlan:
    path: str
    model: Model
    parameters: int
    spec: FinetuneSpec
    gpu: GPU
    gpu_count: int
    owned: bool
    per_gpu_bytes: int
    weights_bytes: int               # on one GPU
    usd_per_hour: float | None
    price_note: str | None
    changes: tuple[str, ...]
    levers: int
    command: str | None
    notes: tuple[str, ...] = ()
    # tokens/s and hours for spec.train_tokens (advisor.sizing.train_time); None when not asked
    training: TrainingTime | None = None
    # what the plan rules read, with inference's meanings where they have one; usable: the
    # method asked is kept (another method is the last lever: LoRA for full, QLoRA for LoRA)
    usable: bool = True
    offload: bool = False
    runtime: str = "transformers"
    task: str = "finetune"

    def with_(self, **fields) -> "FinetunePlan":
        new = copy.copy(self)
        for k, v in fields.items():
            object.__setattr__(new, k, v)
        return new

    @property
    def nodes(self) -> int:
        return -(-self.gpu_count // c.GPUS_PER_NODE)

    @property
    def available_bytes(self) -> int:
        return self.gpu.usable_memory_bytes

    @property
    def headroom_bytes(self) -> int:
        return self.gpu.usable_memory_bytes - self.per_gpu_bytes

    @property
    def quality_class(self) -> int:
        return METHOD_RANK[self.spec.method]

    quality_loss_pct = 0.0
    decode_tokens_per_s = 0.0
    usd_per_million_tokens = None
    native = True
    kv_cache_dtype = "fp16"

    @property
    def bits_per_weight(self) -> float:
        return 4.13 if self.spec.method == "qlora" else 16.0

    @property
    def identity(self) -> tuple:
        # rented cards are another plan than the same cards bought (Plan.identity)
        return (self.path == "rent", self.model.id, self.spec, self.gpu.id, self.gpu_count)

    def to_json(self, rule: str | None = None) -> dict:
        s = self.spec
        return {"path": self.path, "rule": rule, "model_id": self.model.id,
                "parameters": self.parameters, "precision": "nf4" if s.method == "qlora" else "bf16",
                "weights_bytes": self.weights_bytes, "kv_cache_dtype": None,
                "context_tokens": s.seq_len, "runtime": self.runtime, "gpu_id": self.gpu.id,
                "gpu_count": self.gpu_count, "nodes": self.nodes, "cpu_offload_layers": 0,
                "moe_cpu_layers": 0, "owned": self.owned,
                "total_bytes": self.per_gpu_bytes * self.gpu_count,
                "per_gpu_bytes": self.per_gpu_bytes, "headroom_bytes": self.headroom_bytes,
                "decode_tokens_per_s": None, "prefill_tokens_per_s": None,
                "usd_per_hour": self.usd_per_hour, "usd_per_million_tokens": None,
                "price_note": self.price_note,
                "quality_cost": {"method": s.method,
                                 "text": {"full": "none: every weight trains",
                                          "lora": "LoRA trains low-rank adapters, not the weights",
                                          "qlora": "QLoRA trains adapters over NF4 weights"}[s.method]},
                "method": s.method, "sharding": s.sharding, "optimizer": s.optimizer,
                "pure_bf16": s.pure_bf16, "gradient_checkpointing": s.gradient_checkpointing,
                "seq_len": s.seq_len, "micro_batch": s.micro_batch, "changes": list(self.changes),
                "command": self.command, "notes": list(self.notes),
                **({"training": self.training.to_json(self.usd_per_hour)}
                   if self.training is not None else {})}


def _fits(per_gpu: int, g: GPU) -> bool:
    return g.usable_memory_bytes - per_gpu >= fit_margin_bytes(1)


@lru_cache(maxsize=512)
def variants(spec: FinetuneSpec, multi_gpu: bool) -> tuple[tuple[FinetuneSpec, int], ...]:
    """Every training setup reachable from `spec` by the levers, with the number of levers it
    moves, best first: the method asked, then LoRA, then QLoRA; the whole sequence, then halves;
    the fewest knobs changed, in the order sharding, pure bf16, 8-bit optimizer, checkpointing."""
    methods = {"full": ("full", "lora", "qlora"), "lora": ("lora", "qlora"), "qlora": ("qlora",)}[spec.method]
    seqs = [spec.seq_len]
    while seqs[-1] // 2 >= c.FT_SHORTEST_SEQ_LEN:
        seqs.append(seqs[-1] // 2)
    shard = [spec.sharding]
    if multi_gpu:  # ZeRO-2 (states only, less traffic) before ZeRO-3 (weights too)
        shard += [s for s in ("zero2", "zero3") if s != spec.sharding and spec.sharding != "fsdp"]
    out = []
    for mi, method in enumerate(methods):
        pures = [spec.pure_bf16 and method == "full"] + ([True] if method == "full" and not spec.pure_bf16 else [])
        opts = [spec.optimizer] + (["paged-adamw-8bit"] if spec.optimizer in ("adamw", "sgd") else [])
        ckpts = [spec.gradient_checkpointing] + ([True] if not spec.gradient_checkpointing else [])
        for si, seq in enumerate(seqs):
            for (a, sh), (b, pure), (d, opt), (e, ck) in itertools.product(
                    enumerate(shard), enumerate(pures), enumerate(opts), enumerate(ckpts)):
                v = replace(spec, method=method, seq_len=seq, sharding=sh, pure_bf16=pure,
                            optimizer=opt, gradient_checkpointing=ck)
                knobs = (a > 0) + (b > 0) + (d > 0) + (e > 0)
                # among as many knobs, sharding is reached for first, checkpointing last
                order = (mi, si, knobs, a == 0, b == 0, d == 0, e == 0, a)
                out.append((order, v, (mi > 0) + (si > 0) + knobs))
    out.sort(key=lambda t: t[0])
    return tuple((v, levers) for _, v, levers in out)


def changes_of(spec: FinetuneSpec, asked: FinetuneSpec, g: GPU, n: int, ask_gpu: GPU,
               ask_n: int, rented: bool) -> tuple[str, ...]:
    out = []
    if spec.method != asked.method:
        out.append(f"{_METHOD_NAMES[spec.method]} instead of {_METHOD_NAMES[asked.method]}"
                   + ("" if asked.method_given else " (the default)"))
    if spec.sharding != asked.sharding:
        out.append(f"{_SHARD_NAMES[spec.sharding]} sharding")
    if spec.pure_bf16 != asked.pure_bf16:
        out.append("pure bf16 (no fp32 master weights)")
    if spec.optimizer != asked.optimizer:
        out.append(f"optimizer {spec.optimizer}")
    if spec.gradient_checkpointing != asked.gradient_checkpointing:
        out.append("gradient checkpointing")
    if spec.seq_len != asked.seq_len:
        out.append(f"sequences of {count(spec.seq_len, 'token')}")
    if rented:
        out.append(f"rented {n} x {g.name}")
    elif g.id != ask_gpu.id:
        out.append(f"{n} x {g.name}")
    elif n != ask_n:
        out.append(f"{n} cards")
    return tuple(out)


def command(model: Model, spec: FinetuneSpec, n: int) -> str:
    """TRL's `trl sft` command (its documented flags, TRL 1.16). On several GPUs `trl sft` is its
    own launcher: it runs its sft script under `accelerate launch`, passing on the options
    accelerate takes (--num_processes, --num_machines) and `--accelerate_config NAME`, one of the
    accelerate configs TRL ships (multi_gpu, zero1-3, fsdp1, fsdp2; trl/cli/accelerate_config.py).
    Pure bf16 loads the weights in bfloat16 (`--dtype bfloat16`, TRL's ModelConfig.dtype, whose
    default float32 is mixed precision with fp32 master weights), so AdamW keeps its moments in
    bfloat16 too; under FSDP mixed precision is turned off as well, since accelerate upcasts
    bfloat16 parameters to fp32 masters under it. `accelerate launch -m trl.cli sft` does not
    run (trl.cli has no __main__).
    https://huggingface.co/docs/trl/main/en/clis (Scaling Up with Accelerate) and
    https://huggingface.co/docs/accelerate/main/en/package_reference/cli"""
    repo = (model.transformers_repo or model.instruct_repo
            or next((a for a in model.aliases if "/" in a), model.id))
    opt = {"adamw": "adamw_torch", "adamw-8bit": "adamw_bnb_8bit",
           "paged-adamw-8bit": "paged_adamw_8bit", "sgd": "sgd"}[spec.optimizer]
    args = [f"--model_name_or_path {repo}", "--dataset_name YOUR_DATASET",
            f"--max_length {spec.seq_len}", f"--per_device_train_batch_size {spec.micro_batch}",
            f"--optim {opt}", "--bf16"]
    if spec.pure_bf16:
        args.append("--dtype bfloat16")
    if model.trust_remote_code:
        args.append("--trust_remote_code")  # TRL's ModelConfig.trust_remote_code
    if spec.gradient_checkpointing:
        args.append("--gradient_checkpointing")
    if spec.uses_lora:
        args += ["--use_peft", f"--lora_r {spec.lora_rank}", "--lora_target_modules all-linear"]
    if spec.method == "qlora":
        args += ["--load_in_4bit", "--bnb_4bit_quant_type nf4", "--use_bnb_nested_quant"]
    if n == 1:
        return "trl sft " + " ".join(args)
    config = {"fsdp": "fsdp2", "zero2": "zero2", "zero3": "zero3"}.get(spec.sharding, "multi_gpu")
    launch = [f"trl sft --accelerate_config {config} --num_processes {n}"]
    if n > c.GPUS_PER_NODE:
        launch.append(f"--num_machines {-(-n // c.GPUS_PER_NODE)}")
    if spec.pure_bf16 and spec.sharding == "fsdp":
        # accelerate's FSDP upcasts bfloat16 parameters to fp32 masters while mixed precision is
        # on ("Upcasted low precision parameters ... because mixed precision turned on in
        # FSDP", accelerate's Accelerator.prepare_model): off in the launcher and the trainer
        launch.append("--mixed_precision no")
        args[args.index("--bf16")] = "--bf16 False"
    return " ".join(launch + args)


def _plan(path: str, model: Model, spec: FinetuneSpec, g: GPU, n: int, owned: bool,
          levers: int, asked: FinetuneSpec, ask_gpu: GPU, ask_n: int) -> FinetunePlan | None:
    m = finetune_memory(model.architecture, spec, n)
    if not _fits(m.per_gpu_bytes, g):
        return None
    rented = path == "rent"
    usd, note = rent_cost(g, n) if rented else (None, None)
    notes = []
    if spec.pure_bf16:
        notes.append("pure bf16: the weights load in bfloat16 (`--dtype bfloat16`) and AdamW "
                     "keeps its moments in bfloat16, with no fp32 master copy"
                     + ("; DeepSpeed ZeRO keeps fp32 masters unless its config's bf16 section "
                        "sets `bf16_master_weights_and_grads` and `bf16_optimizer_states` "
                        "(added by DeepSpeed PR #7700; with `torch_autocast` enabled)"
                        if spec.sharding in ("zero2", "zero3") else
                        "; mixed precision is off (`--mixed_precision no`, `--bf16 False`) as "
                        "accelerate's FSDP upcasts bfloat16 weights to fp32 masters under it, and "
                        "the bfloat16 weights compute in bfloat16" if spec.sharding == "fsdp" else ""))
    if spec.method == "qlora" and spec.sharding in ("zero3", "fsdp"):
        notes.append("with QLoRA under ZeRO-3/FSDP, store the NF4 weights as bf16 "
                     "(`bnb_4bit_quant_storage=torch.bfloat16`) so they can be sharded")
    return FinetunePlan(path, model, parameter_count(model.architecture), spec, g, n, owned,
                        m.per_gpu_bytes, m.parts["weights"], usd, note,
                        changes_of(spec, asked, g, n, ask_gpu, ask_n, rented), levers,
                        command(model, spec, n), tuple(notes),
                        training=None if spec.train_tokens is None else training_time(
                            model.architecture, spec, g, n, spec.train_tokens),
                        usable=method_usable(spec, asked))


def method_usable(spec: FinetuneSpec, asked: FinetuneSpec) -> bool:
    """Whether a plan training with spec.method keeps the question usable: the method asked;
    or QLoRA where LoRA was only the default (no --method): QLoRA's NF4 base with bf16 adapters
    matched 16-bit LoRA and full fine-tuning on every benchmark of its paper (Dettmers et al.
    2023, https://arxiv.org/abs/2305.14314, tables 3-4), so an expert fine-tunes an 8B with
    QLoRA on a 12 GB card rather than renting one for LoRA. A method given is a choice: kept."""
    if spec.method == asked.method:
        return True
    return not asked.method_given and asked.method == "lora" and spec.method == "qlora"


def _first(path: str, model: Model, asked: FinetuneSpec, g: GPU, counts, owned: bool,
           ask_gpu: GPU, ask_n: int) -> FinetunePlan | None:
    """The best setup on g: the first variant (best first) that fits on some count, at the
    smallest such count. Unsharded variants gain nothing from more cards (each holds a whole
    copy), so only the first count is tried for them; sharded ones need less a GPU with every
    card, so a variant that does not fit on the most cards is skipped. QLoRA only where
    bitsandbytes' NF4 kernels run; rented cards only on the vendors the training stack runs on."""
    if not owned and g.vendor not in TRAINING_VENDORS["full"]:
        return None
    counts = tuple(counts)
    a = model.architecture
    for v, levers in variants(asked, counts[-1] > 1):
        if v.method == "qlora" and g.vendor not in TRAINING_VENDORS["qlora"]:
            continue
        tried = counts[:1] if v.sharding == "none" else counts
        if not _fits(finetune_memory(a, v, tried[-1]).per_gpu_bytes, g):
            continue
        for n in tried:
            p = _plan(path, model, v, g, n, owned, levers, asked, ask_gpu, ask_n)
            if p is not None:
                return p
    return None


def key(p: FinetunePlan) -> tuple:
    """Within a path: the method asked first, the whole sequence, fewest levers, one node, the
    cheapest rented hour, the fewest cards, the least memory."""
    return (METHOD_RANK[p.spec.method], -p.spec.seq_len, p.levers, p.nodes,
            p.usd_per_hour if p.usd_per_hour is not None else float("inf"), p.gpu_count,
            p.per_gpu_bytes, p.gpu.id)


def finetune_plans(kb: KnowledgeBase, model: Model, gpu: GPU, gpus: int,
                   spec: FinetuneSpec) -> dict:
    """path -> the path's best FinetunePlan (paths with no plan are absent)."""
    best: dict = {}
    asked = _plan("as-asked", model, spec, gpu, gpus, True, 0, spec, gpu, gpus)
    if asked is not None:
        best["as-asked"] = asked
    mine = _first("your-hardware", model, spec, gpu, (gpus,), True, gpu, gpus)
    if mine is not None:
        best["your-hardware"] = mine
    if not gpu.unified_memory and gpus < c.GPUS_PER_NODE:
        more = _first("more-cards", model, spec, gpu, range(gpus + 1, c.GPUS_PER_NODE + 1), False,
                      gpu, gpus)
        if more is not None:
            best["more-cards"] = more
    rented = []
    for g in rentable(kb):
        counts = rental_counts(g, 8 * c.GPUS_PER_NODE)
        p = _first("rent", model, spec, g, counts, False, gpu, gpus)
        if p is not None:
            rented.append(p)
    if rented:
        best["rent"] = min(rented, key=key)
    return best
