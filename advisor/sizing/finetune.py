"""Memory of fine-tuning a model: full, LoRA and QLoRA, part by part, per GPU.

Pure functions over the architecture; every constant is in constants.py (section
`# --- fine-tuning`) with its source, and docs/finetune.md shows each formula.

Parts (bytes on one GPU at the peak of a training step):
- weights: the model as forward and backward read it (bf16; QLoRA: NF4 linear layers);
- gradients: of the trainable parameters (bf16 for full; fp32 for LoRA adapters);
- optimizer_states: AdamW's moments, 8-bit states, or SGD's momentum, of trainable parameters;
- master_weights: fp32 copy the optimizer updates (full fine-tuning in mixed precision);
- adapters: LoRA A and B matrices (fp32);
- activations: what autograd keeps for backward, from the architecture, sequence length and
  micro-batch, with or without gradient checkpointing, plus the loss's logits;
- framework: CUDA context and workspaces, QLoRA's dequantization buffer, gathered layers
  under full sharding.
ZeRO-2 divides gradients, optimizer states and master weights over the GPUs; ZeRO-3 and FSDP
(full shard) divide the weights and adapters too. Activations are per GPU (data parallel:
each GPU runs its own micro-batch).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.limits import check_question
from advisor.sizing import constants as c
from advisor.sizing.finetune_activations import (activation_bytes_per_token_per_layer,
                                                 activations_bytes)
from advisor.sizing.tensors import Tensor, model_tensors, parameter_count

METHODS = ("full", "lora", "qlora")
OPTIMIZERS = tuple(c.FT_OPTIMIZER_STATES)
SHARDINGS = ("none", "zero2", "zero3", "fsdp")
PART_NAMES = ("weights", "gradients", "optimizer_states", "master_weights", "adapters",
              "activations", "framework")

# LoRA target names (PEFT's Llama module names without _proj) -> the llama.cpp tensor names
# of model_tensors()
_TARGET_TENSORS = {
    "q": ("attn_q",), "k": ("attn_k",), "v": ("attn_v",), "o": ("attn_output",),
    "gate": ("ffn_gate", "ffn_gate_exps"), "up": ("ffn_up", "ffn_up_exps"),
    "down": ("ffn_down", "ffn_down_exps"),
}
_LINEAR_TENSORS = {t for names in _TARGET_TENSORS.values() for t in names}


@dataclass(frozen=True)
class FinetuneSpec:
    method: str = c.FT_DEFAULT_METHOD
    seq_len: int = c.FT_DEFAULT_SEQ_LEN
    micro_batch: int = c.FT_DEFAULT_MICRO_BATCH
    gradient_checkpointing: bool = c.FT_DEFAULT_GRADIENT_CHECKPOINTING
    optimizer: str = c.FT_DEFAULT_OPTIMIZER
    lora_rank: int = c.FT_DEFAULT_LORA_RANK
    lora_targets: tuple = c.FT_LORA_TARGETS
    sharding: str = "none"
    pure_bf16: bool = False          # full only: bf16 optimizer states, no fp32 master weights
    # tokens to train on (--train-tokens): the advisory gives tokens/s and hours
    # (advisor.sizing.train_time); no part of the memory depends on it
    train_tokens: int | None = None
    # whether the user gave the method (--method): a method left to its default (LoRA) may
    # become QLoRA on the user's own card without counting as unusable (advisor.plans.finetune)
    method_given: bool = True

    @property
    def uses_lora(self) -> bool:
        return self.method in ("lora", "qlora")

    @property
    def tokens(self) -> int:
        return self.seq_len * self.micro_batch


def _choice(what: str, value: str, known: tuple) -> None:
    if value not in known:
        raise AdvisorError(f"unknown {what} '{value}' (known: {', '.join(known)})")


def validate(spec: FinetuneSpec, a: Architecture, gpus: int) -> None:
    """Raise AdvisorError, one line, for a spec that cannot be trained as asked."""
    validate_spec(spec, gpus)
    if spec.seq_len > a.max_context:
        raise AdvisorError(f"--seq-len {spec.seq_len} is longer than the model's context "
                           f"of {a.max_context} tokens")
    if spec.lora_rank > min(a.hidden_size, a.kv_heads * a.head_dim):
        raise AdvisorError(f"--lora-rank {spec.lora_rank} is larger than the smallest targeted "
                           f"dimension ({min(a.hidden_size, a.kv_heads * a.head_dim)})")


def validate_spec(spec: FinetuneSpec, gpus: int) -> None:
    """The checks of validate that hold for every model: `fit --task finetune` runs them once,
    up front, so that a spec no model could take is refused in one line instead of being
    reported as "no model can be fine-tuned"."""
    _choice("--method", spec.method, METHODS)
    _choice("--optimizer", spec.optimizer, OPTIMIZERS)
    _choice("--sharding", spec.sharding, SHARDINGS)
    # the bounds every question shares (advisor.limits): a micro-batch has one too, since it is
    # what one GPU holds a step, and a number beyond it is a typo, not a training run to size
    check_question(seq_len=spec.seq_len, micro_batch=spec.micro_batch, lora_rank=spec.lora_rank,
                   train_tokens=spec.train_tokens)
    if not spec.lora_targets:
        raise AdvisorError("--lora-targets names no layer (known: "
                           f"{', '.join(c.FT_LORA_TARGETS)}, or all)")
    for t in spec.lora_targets:
        _choice("--lora-targets entry", t, c.FT_LORA_TARGETS)
    if spec.pure_bf16 and spec.method != "full":
        raise AdvisorError("--pure-bf16 applies to --method full (LoRA adapters train in fp32)")
    if spec.sharding != "none" and gpus < 2:
        raise AdvisorError(f"--sharding {spec.sharding} divides memory over GPUs: give --gpus 2 "
                           "or more")


def parse_lora_targets(text: str) -> tuple:
    """'q,v' -> ('q', 'v'); 'all' or 'all-linear' -> every linear layer of the blocks."""
    if text.strip().lower() in ("all", "all-linear"):
        return c.FT_LORA_TARGETS
    names = tuple(dict.fromkeys(p.strip().lower().removesuffix("_proj")
                                for p in text.split(",") if p.strip()))
    for t in names:
        _choice("--lora-targets entry", t, c.FT_LORA_TARGETS)
    return tuple(t for t in c.FT_LORA_TARGETS if t in names)


def spec_from_mapping(d: dict) -> FinetuneSpec:
    """A spec from a mapping's FinetuneSpec fields (rule test scenarios); others are ignored.
    lora_targets may be a list or a comma-separated string."""
    names = set(FinetuneSpec.__dataclass_fields__)
    kw = {k: v for k, v in d.items() if k in names}
    if isinstance(kw.get("lora_targets"), (list, tuple)):
        kw["lora_targets"] = parse_lora_targets(",".join(kw["lora_targets"]))
    elif isinstance(kw.get("lora_targets"), str):
        kw["lora_targets"] = parse_lora_targets(kw["lora_targets"])
    return FinetuneSpec(**kw)


# --- parameters -------------------------------------------------------------------------------

def _experts(t: Tensor, a: Architecture) -> int:
    return (a.experts_total or 1) if t.name.endswith("_exps") else 1


def lora_tensor_parameters(t: Tensor, a: Architecture, rank: int) -> int:
    """A (rank x d_in) and B (d_out x rank) for the matrix, per expert for MoE experts."""
    n = _experts(t, a)
    return n * rank * (t.row_length + t.rows // n)


def lora_parameters(a: Architecture, rank: int, targets: tuple) -> int:
    names = {n for t in targets for n in _TARGET_TENSORS[t]}
    return sum(lora_tensor_parameters(t, a, rank) for t in model_tensors(a) if t.name in names)


def nf4_tensor_bytes(elements: int) -> int:
    """NF4 with double quantization: 4-bit codes, an 8-bit absmax per 64 weights, an fp32
    scale per 256 absmax values and one fp32 offset."""
    blocks = -(-elements // c.FT_NF4_BLOCK)
    return elements // 2 + blocks + 4 * -(-blocks // c.FT_NF4_ABSMAX_BLOCK) + 4


def _is_block_linear(t: Tensor) -> bool:
    return t.layer is not None and t.name in _LINEAR_TENSORS


@lru_cache(maxsize=256)
def base_weight_bytes(a: Architecture, method: str) -> tuple[int, int]:
    """(weights, largest layer) in bytes: bf16, or for QLoRA NF4 block linears and bf16 rest."""
    per_layer = [0] * a.layers
    total = 0
    for t in model_tensors(a):
        b = (nf4_tensor_bytes(t.elements) if method == "qlora" and _is_block_linear(t)
             else t.elements * c.FT_WEIGHT_BYTES)
        total += b
        if t.layer is not None:
            per_layer[t.layer] += b
    return total, max(per_layer)


def _largest_linear_elements(a: Architecture) -> int:
    return max(t.elements // _experts(t, a) for t in model_tensors(a) if _is_block_linear(t))


def optimizer_state_bytes(elements: int, optimizer: str, pure_bf16: bool = False) -> int:
    """Optimizer states of one parameter tensor (pure bf16: 32-bit states held in bf16)."""
    states = c.FT_OPTIMIZER_STATES[optimizer]
    if c.FT_OPTIMIZER_STATE_BITS[optimizer] == 8 and elements >= c.FT_OPTIMIZER_8BIT_MIN_ELEMENTS:
        return states * (elements + 4 * -(-elements // c.FT_OPTIMIZER_8BIT_BLOCK))
    return states * (c.FT_WEIGHT_BYTES if pure_bf16 else 4) * elements


def trainable_tensors(a: Architecture, spec: FinetuneSpec) -> list[int]:
    """Element counts of the tensors the optimizer updates (LoRA: each A and B separately)."""
    if not spec.uses_lora:
        return [t.elements for t in model_tensors(a)]
    names = {n for tg in spec.lora_targets for n in _TARGET_TENSORS[tg]}
    out = []
    for t in model_tensors(a):
        if t.name in names:
            n = _experts(t, a)
            out += [spec.lora_rank * t.row_length, spec.lora_rank * (t.rows // n)] * n
    return out


# --- the whole -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FinetuneMemory:
    spec: FinetuneSpec
    gpus: int
    parameters: int
    trainable_parameters: int
    parts: dict = field(default_factory=dict)   # PART_NAMES -> bytes on one GPU

    @property
    def per_gpu_bytes(self) -> int:
        return sum(self.parts.values())

    @property
    def total_bytes(self) -> int:
        """Over all GPUs (what the generic verdict compares with all their memory)."""
        return self.per_gpu_bytes * self.gpus


def _div(n: int, by: int) -> int:
    return -(-n // by)


@lru_cache(maxsize=65536)  # pure; the architecture and the spec are frozen and hashable
def finetune_memory(a: Architecture, spec: FinetuneSpec, gpus: int = 1) -> FinetuneMemory:
    shard_states = gpus if spec.sharding != "none" else 1
    shard_weights = gpus if spec.sharding in ("zero3", "fsdp") else 1
    weights, layer_bytes = base_weight_bytes(a, spec.method)
    trainable = trainable_tensors(a, spec)
    n_train = sum(trainable)
    opt = sum(optimizer_state_bytes(n, spec.optimizer, spec.pure_bf16) for n in trainable)
    if spec.uses_lora:
        gradients = n_train * c.FT_ADAPTER_GRADIENT_BYTES
        adapters = n_train * c.FT_ADAPTER_WEIGHT_BYTES
        master = 0
    else:
        gradients = n_train * c.FT_GRADIENT_BYTES
        adapters = 0
        master = 0 if spec.pure_bf16 else n_train * c.FT_MASTER_WEIGHT_BYTES
    framework = c.FT_FRAMEWORK_BYTES_PER_GPU
    if spec.method == "qlora":
        framework += _largest_linear_elements(a) * c.FT_WEIGHT_BYTES
    if shard_weights > 1:
        framework += c.FT_SHARDED_GATHERED_LAYERS * layer_bytes
    parts = {
        "weights": _div(weights, shard_weights),
        "gradients": _div(gradients, shard_states),
        "optimizer_states": _div(opt, shard_states),
        "master_weights": _div(master, shard_states),
        "adapters": _div(adapters, shard_weights),
        "activations": activations_bytes(a, spec.seq_len, spec.micro_batch,
                                         spec.gradient_checkpointing),
        "framework": framework,
    }
    return FinetuneMemory(spec, gpus, parameter_count(a), n_train, parts)


def with_changes(spec: FinetuneSpec, **changes) -> FinetuneSpec:
    return replace(spec, **changes)


def explanation_numbers(a: Architecture, spec: FinetuneSpec) -> dict:
    """The intermediate numbers an advisory shows next to each part."""
    n = 1 << 20  # a large tensor, for the bits a weight NF4 costs in the limit
    return {
        "nf4_bits": nf4_tensor_bytes(n * c.FT_NF4_BLOCK * c.FT_NF4_ABSMAX_BLOCK) * 8
        / (n * c.FT_NF4_BLOCK * c.FT_NF4_ABSMAX_BLOCK),
        "layer_bytes_per_token": activation_bytes_per_token_per_layer(a),
        "layer_input_bytes_per_token": c.FT_ACTIVATION_BYTES * a.hidden_size,
        "logits_bytes_per_token": a.vocab_size * c.FT_LOGITS_BYTES_PER_VOCAB_ENTRY,
        "lora_parameters": lora_parameters(a, spec.lora_rank, spec.lora_targets),
        "largest_linear_bytes": _largest_linear_elements(a) * c.FT_WEIGHT_BYTES,
    }
