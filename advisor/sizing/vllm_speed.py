"""vLLM's decode step: one step of B sequences on a tensor-parallel group, and serving at a batch.

A decode step of B sequences (continuous batching: every running sequence adds one token a step)
on tp GPUs (tensor parallel; pp pipeline stages visited one after another) takes

    step(B) = overhead(B) + max(memory(B), compute(B))

memory(B): bytes a GPU reads, at constants.VLLM_DECODE_PROFILE["bandwidth_fraction"] of its
  bandwidth (other vendors: times vendor_factor): the weights outside the routed experts once a step (shared by the B sequences);
  the routed experts that B tokens touch (a MoE layer of E experts with k a token: the expected
  distinct experts E x (1 - (1 - k/E)^B), read by the grouped expert GEMM at its own, lower
  share of the bandwidth); every sequence's KV cache (B x its KV bytes, split over the KV heads
  a GPU holds).
compute(B): 2 FLOPs a multiplied parameter a token, B tokens, at a fitted share of the card's
  dense peak for the format (FP8 natively where the card has it).
overhead(B): a fixed time a step (scheduling, sampling, the output head's gather), a time a
  layer (kernels with CUDA graphs on, vLLM's default), a time a MoE layer (routing: top-k,
  sorting tokens by expert, the combine) and two all-reduces a layer of B x hidden 16-bit values
  (advisor.sizing.speed.allreduce_seconds: latency plus bytes over the link; the latency is
  the profile's fitted allreduce_hop_latency_s for each of a ring's 2(tp - 1) steps, at least
  the link's own,
  what a small all-reduce over a tensor-parallel group costs inside vLLM's step, launch and
  synchronisation included), plus a hop a pipeline boundary.

Every term adds time and the bandwidth term reads at most the card's bandwidth, so no step is
faster than the bandwidth roofline. Total tokens/s = B / step(B) never falls as B grows (step
is a positive constant plus terms that grow at most linearly or saturate); tokens/s a
sequence = 1 / step(B) never rises. The profile is fitted by benchmarks/fit_vllm.py on
benchmarks/data/vllm_serving.csv (published serving runs with source, date and version).
Pure functions; times in seconds, bytes in bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.kb.schema import GPU, Architecture
from advisor.sizing import constants as c
from advisor.sizing.precision import Precision
from advisor.sizing.speed import active_compute_parameters, allreduce_seconds, peak_tflops
from advisor.sizing.weights import weight_summary


def distinct_experts(total: int, active: int, tokens: int) -> float:
    """Expected distinct experts that `tokens` tokens touch in one MoE layer when each picks
    `active` of `total` uniformly: total x (1 - (1 - active/total)^tokens). Routing is not
    uniform in practice (some experts are hot), so this is an upper bound on the experts read."""
    if tokens <= 0:
        return 0.0
    return min(float(total), total * (1.0 - (1.0 - active / total) ** tokens))


@dataclass(frozen=True)
class StepTime:
    """One decode step's parts, in seconds (their sum, `seconds`, is the step)."""
    weights_s: float
    kv_s: float
    compute_s: float
    overhead_s: float

    @property
    def seconds(self) -> float:
        return self.overhead_s + max(self.weights_s + self.kv_s, self.compute_s)


def vendor_factor(gpu: GPU) -> float:
    """The profile was fitted on NVIDIA runs only. Other vendors keep the share of NVIDIA's
    bandwidth their llama.cpp decode profile gives them (constants.DECODE_PROFILES: AMD 0.78,
    Intel 0.65, whichllm's measured backend factors): unfitted for vLLM, and no faster than that."""
    prof = c.DECODE_PROFILES.get(gpu.vendor, c.DECODE_PROFILES["intel"])
    return prof["bandwidth_fraction"] / c.DECODE_PROFILES["nvidia"]["bandwidth_fraction"]


def _kv_share(a: Architecture, tp: int) -> float:
    """The share of a sequence's KV bytes one GPU of tp holds: its KV heads (a head is copied
    to several GPUs when tp exceeds the KV heads), as advisor.sizing.parallel splits it. A
    latent (MLA) cache has no heads to split: vLLM keeps all of it on every GPU of the group."""
    if a.kv_lora_rank and not a.mla_per_head_cache:
        return 1.0
    return max(1, a.kv_heads // tp) / a.kv_heads


def vllm_step(gpu: GPU, a: Architecture, p: Precision, batch: int, kv_bytes_per_sequence: int,
              tp: int = 1, pp: int = 1, profile: dict | None = None) -> StepTime:
    """One decode step of `batch` sequences, each with kv_bytes_per_sequence bytes of KV cache
    (all layers, all heads), on tp x pp GPUs of kind `gpu` (see the module docstring).
    profile: constants.VLLM_DECODE_PROFILE unless given (the fit passes trial values).
    Raises ValueError for a batch, tp or pp below 1."""
    if batch < 1 or tp < 1 or pp < 1:
        raise ValueError("batch, tp and pp must be at least 1")
    prof = profile or c.VLLM_DECODE_PROFILE
    w = weight_summary(a, p)
    # pipeline stages run one after another within a step: a step reads every stage's share,
    # so the time is that of the tp GPUs of one stage reading all of it
    bw = prof["bandwidth_fraction"] * vendor_factor(gpu) * gpu.bandwidth_gb_s * 1e9
    # the output head is read every step; the embedding is a lookup unless tied to the head
    shared = sum(w.dense_per_layer) + w.output + (w.embedding if a.tied_embeddings else 0)
    weights_s = shared / tp / bw
    moe_layers = sum(1 for e in w.experts_per_layer if e)
    if moe_layers and a.experts_total:
        touched = distinct_experts(a.experts_total, a.experts_active, batch) / a.experts_total
        weights_s += sum(w.experts_per_layer) * touched / tp / (bw * prof["moe_bandwidth_fraction"])
    kv_s = batch * kv_bytes_per_sequence * _kv_share(a, tp) / bw
    compute_s = 0.0
    peak = peak_tflops(gpu, p, "vllm")
    if peak:
        compute_s = batch * 2 * active_compute_parameters(a) / (tp * prof["compute_fraction"] * peak * 1e12)
    hidden_bytes = a.hidden_size * 2 * batch
    per_layer = prof["layer_seconds"] + c.ALLREDUCES_PER_LAYER * allreduce_seconds(
        gpu, hidden_bytes, tp, prof.get("allreduce_hop_latency_s"))
    overhead = (prof["step_seconds"] + a.layers * per_layer + moe_layers * prof["moe_layer_seconds"]
                + (pp - 1) * prof["hop_seconds"])
    return StepTime(weights_s, kv_s, compute_s, overhead)


@dataclass(frozen=True)
class BatchSpeed:
    batch: int
    tokens_per_s_per_sequence: float
    total_tokens_per_s: float
    compute_bound: bool


def batch_speed(gpu: GPU, a: Architecture, p: Precision, batch: int, kv_bytes_per_sequence: int,
                tp: int = 1, pp: int = 1, profile: dict | None = None) -> BatchSpeed:
    """Decode tokens/s of each of `batch` sequences and of all of them (vllm_step)."""
    s = vllm_step(gpu, a, p, batch, kv_bytes_per_sequence, tp, pp, profile)
    t = s.seconds
    return BatchSpeed(batch, 1.0 / t, batch / t, s.compute_s > s.weights_s + s.kv_s)
