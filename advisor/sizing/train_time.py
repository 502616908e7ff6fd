"""How long fine-tuning takes: training throughput (tokens/s) and hours for N tokens.

Pure functions, no I/O. The model (docs/finetune.md, "Training time"):

FLOPs a token, matrix products only (P = the parameters a token multiplies: every linear layer
and the output head, not the embedding lookup; MoE: the active experts' share, as
advisor.sizing.speed.active_compute_parameters counts them; A = the same for the LoRA adapters):
- forward: 2P (+ 2A with adapters);
- backward, full fine-tuning: 4P (the gradient of the activations, 2P, and of the weights, 2P);
- backward, LoRA and QLoRA: 2P for the activations' gradient through the frozen weights (their
  weight gradient is never formed) + 4A for the adapters;
- gradient checkpointing recomputes the forward in the backward: + 2P (+ 2A), so full
  fine-tuning runs 8P instead of 6P (Chen et al. 2016; Korthikanti et al. 2022, section 4);
- attention's score and value products (QK^T and AV), which the parameter count leaves out:
  4 x layers x (heads x head_dim) x seq FLOPs a token forward when every token sees the whole
  sequence (PaLM, Chowdhery et al. 2022, appendix B: 6N + 12 x L x H x Q x T for training, the
  forward third of it), times the share of the score matrix a causal flash-attention kernel
  computes (FT_ATTENTION_CAUSAL_SHARE); the backward is twice the forward (gradients of Q, K
  and V), checkpointing adds one forward more.

Time a micro-step on one GPU = a fixed overhead (FT_MICRO_STEP_OVERHEAD_S) + FLOPs a token x
tokens a micro-step / (the card's dense BF16 tensor TFLOPS from the KB x a utilization fitted on
published runs, FT_TRAIN_UTILIZATION), plus, for QLoRA, the dequantization of the NF4 weights in
each pass (forward, backward, and the recomputed forward), timed as
FT_QLORA_DEQUANT_BYTES_PER_WEIGHT bytes a weight at the card's memory bandwidth. Data parallel:
every GPU runs its own micro-batches, so the tokens/s of the set is the GPUs times one GPU's. The utilization is fitted on executed FLOPs (recompute included),
so it is a hardware-FLOPs utilization; benchmarks/train_speed.py prints the fit and its errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from advisor.errors import AdvisorError
from advisor.kb.schema import GPU, Architecture
from advisor.sizing import constants as c
from advisor.sizing.finetune import _TARGET_TENSORS, FinetuneSpec
from advisor.sizing.speed import active_compute_parameters
from advisor.sizing.tensors import model_tensors

METHODS = ("full", "lora", "qlora")


@dataclass(frozen=True)
class TrainFlops:
    """FLOPs a trained token, by where they go (executed: recompute included)."""
    forward: float        # matrix products of the forward pass
    backward: float       # matrix products of the backward pass
    recompute: float      # the forward again, under gradient checkpointing
    attention: float      # QK^T and AV, forward + backward (+ recompute)

    @property
    def total(self) -> float:
        return self.forward + self.backward + self.recompute + self.attention


def flops_per_token(compute_parameters: int, adapter_parameters: int, layers: int, q_dim: int,
                    seq_len: int, method: str, gradient_checkpointing: bool,
                    causal_share: float | None = None) -> TrainFlops:
    """FLOPs to train one token. compute_parameters: the weights a token multiplies (no
    embedding lookup; MoE: active share); adapter_parameters: the same for the LoRA adapters
    (0 for full); q_dim: heads x head_dim; seq_len: tokens a sequence. Formulas in the module
    docstring. Raises AdvisorError for an unknown method."""
    if method not in METHODS:
        raise AdvisorError(f"unknown --method '{method}' (known: {', '.join(METHODS)})")
    p = float(compute_parameters)
    ad = float(adapter_parameters) if method != "full" else 0.0
    forward = 2 * p + 2 * ad
    backward = 4 * p if method == "full" else 2 * p + 4 * ad
    recompute = forward if gradient_checkpointing else 0.0
    share = c.FT_ATTENTION_CAUSAL_SHARE if causal_share is None else causal_share
    attn_forward = 4.0 * layers * q_dim * seq_len * share
    attention = attn_forward * (3 + (1 if gradient_checkpointing else 0))
    return TrainFlops(forward, backward, recompute, attention)


def dequant_passes(gradient_checkpointing: bool) -> int:
    """QLoRA dequantizes every NF4 weight once a pass: forward, backward, and the recomputed
    forward under gradient checkpointing."""
    return 3 if gradient_checkpointing else 2


def micro_step_seconds(flops: TrainFlops, tokens: int, peak_tflops: float, utilization: float,
                       nf4_weights: int = 0, bandwidth_gb_s: float | None = None,
                       dequant_bytes_per_weight: float | None = None,
                       gradient_checkpointing: bool = True,
                       overhead_s: float | None = None) -> float:
    """Seconds one GPU takes for a micro-step of `tokens` tokens: a fixed overhead
    (FT_MICRO_STEP_OVERHEAD_S unless given), the FLOPs at peak_tflops x utilization, plus
    (nf4_weights > 0, QLoRA) the dequantization of nf4_weights weights in each pass at
    bandwidth_gb_s, FT_QLORA_DEQUANT_BYTES_PER_WEIGHT bytes a weight unless given."""
    seconds = c.FT_MICRO_STEP_OVERHEAD_S if overhead_s is None else overhead_s
    seconds += flops.total * tokens / (peak_tflops * 1e12 * utilization)
    if nf4_weights:
        per = c.FT_QLORA_DEQUANT_BYTES_PER_WEIGHT if dequant_bytes_per_weight is None \
            else dequant_bytes_per_weight
        seconds += (dequant_passes(gradient_checkpointing) * nf4_weights * per
                    / (bandwidth_gb_s * 1e9))
    return seconds


# --- from a KB architecture --------------------------------------------------------------------

@lru_cache(maxsize=1024)
def adapter_compute_parameters(a: Architecture, rank: int, targets: tuple) -> int:
    """LoRA A and B parameters a token multiplies: rank x (inputs + outputs) of each targeted
    matrix, of the routed experts the active share."""
    names = {n for t in targets for n in _TARGET_TENSORS[t]}
    total = 0
    for t in model_tensors(a):
        if t.name not in names:
            continue
        n = (a.experts_total or 1) if t.name.endswith("_exps") else 1
        per = rank * (t.row_length + t.rows // n)
        total += per * (a.experts_active if n > 1 else 1)
    return total


@lru_cache(maxsize=1024)
def nf4_compute_weights(a: Architecture) -> int:
    """Weights QLoRA stores in NF4 (the linear layers of the blocks: advisor.sizing.finetune
    base_weight_bytes) that one token multiplies, dequantized each pass. Routed experts: all of
    them, since a micro-batch of thousands of tokens reaches every expert."""
    names = {n for ns in _TARGET_TENSORS.values() for n in ns}
    return sum(t.elements for t in model_tensors(a) if t.layer is not None and t.name in names)


def architecture_flops(a: Architecture, spec: FinetuneSpec,
                       causal_share: float | None = None) -> TrainFlops:
    """flops_per_token for a KB architecture and a training setup."""
    adapters = adapter_compute_parameters(a, spec.lora_rank, spec.lora_targets) \
        if spec.uses_lora else 0
    return flops_per_token(active_compute_parameters(a), adapters, a.layers,
                           a.attention_heads * a.head_dim, spec.seq_len, spec.method,
                           spec.gradient_checkpointing, causal_share)


def tensor_tflops(gpu: GPU) -> float | None:
    """The card's dense BF16 tensor TFLOPS from the KB (what mixed-precision training runs at),
    or None where the KB has none."""
    return gpu.bf16_tflops


def calibrated(gpu: GPU) -> bool:
    """Whether the utilization was fitted on runs on this vendor's cards (NVIDIA only)."""
    return gpu.vendor in c.FT_TRAIN_CALIBRATED_VENDORS


@dataclass(frozen=True)
class TrainingTime:
    """Throughput and time of a training run on a set of GPUs; reason is set (and the numbers
    are None) where none can be given."""
    tokens: int
    gpus: int
    tokens_per_s: float | None = None
    hours: float | None = None
    flops_per_token: float | None = None
    utilization: float | None = None
    peak_tflops: float | None = None
    calibrated: bool = False
    reason: str | None = None

    def cost_usd(self, usd_per_hour: float | None) -> float | None:
        if usd_per_hour is None or self.hours is None:
            return None
        cost = self.hours * usd_per_hour
        # to the cent, and a cost under half a cent to two significant digits, not 0.0 (a run
        # that costs something is not free: advisor.render.usd prints it)
        return round(cost, 2) if cost >= 0.005 or cost == 0 else float(f"{cost:.2g}")

    def to_json(self, usd_per_hour: float | None = None) -> dict:
        return {"train_tokens": self.tokens, "gpus": self.gpus,
                "tokens_per_s": None if self.tokens_per_s is None else round(self.tokens_per_s, 1),
                "hours": None if self.hours is None else round(self.hours, 3),
                "flops_per_token": None if self.flops_per_token is None else round(self.flops_per_token),
                "utilization": self.utilization, "peak_tflops": self.peak_tflops,
                "calibrated": self.calibrated,
                # the fit's measured error, as every other speed in the JSON carries its band
                # (none measured on this card's vendor: uncalibrated, no figures, as speed bands)
                "band": None if self.tokens_per_s is None else {
                    "uncalibrated": not self.calibrated,
                    **{k: (round(100 * c.FT_TRAIN_FIT[f], 1) if self.calibrated else None)
                       for k, f in (("median_pct", "median"), ("p90_pct", "p90"),
                                    ("held_out_median_pct", "loso_median"))},
                    "rows": c.FT_TRAIN_FIT["rows"], "sources": c.FT_TRAIN_FIT["sources"],
                    "gpus": c.FT_TRAIN_FIT["gpus"]},
                "cost_usd": self.cost_usd(usd_per_hour), "reason": self.reason}


def training_time(a: Architecture, spec: FinetuneSpec, gpu: GPU, gpus: int,
                  tokens: int) -> TrainingTime:
    """Tokens/s over `gpus` cards of `gpu` (data parallel, each its own micro-batch) and the
    hours `tokens` training tokens take. A card without a dense BF16 tensor rate in the KB gets
    a reason instead of numbers (never a guess)."""
    peak = tensor_tflops(gpu)
    if not peak:
        return TrainingTime(tokens, gpus, reason=f"no training time: {gpu.name} has no tensor "
                                                 "throughput in the KB")
    flops = architecture_flops(a, spec)
    util = c.FT_TRAIN_UTILIZATION["full" if spec.method == "full" else "lora"]
    step_tokens = spec.seq_len * spec.micro_batch
    nf4 = nf4_compute_weights(a) if spec.method == "qlora" else 0
    seconds = micro_step_seconds(flops, step_tokens, peak, util, nf4, gpu.bandwidth_gb_s,
                                 gradient_checkpointing=spec.gradient_checkpointing)
    per_s = gpus * step_tokens / seconds
    return TrainingTime(tokens, gpus, per_s, tokens / per_s / 3600, flops.total, util, peak,
                        calibrated(gpu))
