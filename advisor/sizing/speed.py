"""Decode and prefill speed: rooflines with fitted efficiencies (advisor/sizing/constants.py).

Decode is bound by memory bandwidth: a token reads every active weight once (the token
embedding table is a lookup) and the KV cache of the tokens so far. Prefill is bound by compute:
2 FLOPs a parameter a token plus attention. Every function is pure; times are in seconds.
No prediction here can exceed the roofline bandwidth / bytes read a token: every term adds time.
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
from functools import lru_cache

from advisor.kb.schema import GPU, Architecture
from advisor.sizing import constants as c
from advisor.sizing.precision import Precision
from advisor.sizing.tensors import model_tensors
from advisor.sizing.weights import weight_summary


def _vendor(gpu: GPU) -> str:
    return gpu.vendor if gpu.vendor in c.DECODE_PROFILES else "intel"


def compute_units(gpu: GPU) -> int | None:
    """Streaming multiprocessors (NVIDIA) or compute units (AMD) of one card; None where unknown.

    NVIDIA: the KB's tensor cores over the tensor cores an SM of its architecture
    (constants.TENSOR_CORES_PER_SM: 8 on Volta and Turing, 4 from Ampere on), else its CUDA
    cores over the FP32 lanes an SM (constants.FP32_LANES_PER_SM: cards without tensor cores,
    Pascal and the GTX 16xx); None for an architecture neither table knows, or a card with
    neither count. AMD: stream processors over 64 a CU. Apple: None (no core count in the KB;
    its rates go by FP16 TFLOPS).

    Why derived, not a KB field of its own: the SMs follow from two sourced KB facts and one
    figure an architecture that NVIDIA's whitepapers state, so a card added with its datasheet's
    core counts gets its SMs right with nothing more to source, and an SM count could not
    disagree with the cores it is made of. The SMs set the decode compute side
    (current_decode_rates: weights and KV elements a second an SM) and the May-2024 profile's
    bytes in flight (effective_bandwidth_gb_s); the MMQ prefill counts FP32 lanes (fp32_lanes).
    """
    if gpu.vendor == "nvidia":
        per_sm = c.TENSOR_CORES_PER_SM.get(gpu.architecture)
        if per_sm and gpu.tensor_cores:
            return gpu.tensor_cores // per_sm
        lanes = c.FP32_LANES_PER_SM.get(gpu.architecture)
        if lanes and gpu.shader_cores:
            return gpu.shader_cores // lanes
        return None
    lanes = c.LANES_PER_UNIT.get(gpu.vendor)
    if lanes and gpu.shader_cores:
        return gpu.shader_cores // lanes
    return None


def _lanes_per_unit(gpu: GPU) -> int | None:
    """FP32 lanes an SM (NVIDIA, by architecture) or stream processors a CU (AMD); None else."""
    if gpu.vendor == "nvidia":
        return c.FP32_LANES_PER_SM.get(gpu.architecture)
    return c.LANES_PER_UNIT.get(gpu.vendor)


def fp32_lanes(gpu: GPU) -> int | None:
    """FP32 lanes (CUDA cores, stream processors) of the card: the KB's shader cores, else its
    compute units times the lanes a unit of its architecture; None where unknown."""
    if gpu.shader_cores:
        return gpu.shader_cores
    units = compute_units(gpu)
    lanes = _lanes_per_unit(gpu)
    return units * lanes if units and lanes else None


def effective_bandwidth_gb_s(gpu: GPU) -> float:
    """The bandwidth llama.cpp's decode kernels reach: a fraction of the spec, in series with
    what the compute units can keep in flight (Little's law)."""
    prof = c.DECODE_PROFILES[_vendor(gpu)]
    inv = 1.0 / (prof["bandwidth_fraction"] * gpu.bandwidth_gb_s)
    units = compute_units(gpu)
    if prof["unit_gb_s"] and units:
        inv += 1.0 / (units * prof["unit_gb_s"])
    return 1.0 / inv


def decode_roofline_tokens_per_s(bytes_per_token: int, bandwidth_gb_s: float) -> float:
    """The physical ceiling: no prediction may exceed it."""
    return bandwidth_gb_s * 1e9 / bytes_per_token


def current_profile(gpu: GPU, era: str | None = None) -> dict | None:
    """The current-build decode profile for this card's vendor (constants.DECODE_PROFILES_CURRENT),
    or None where the era is May 2024 or the vendor has no current measurements."""
    era = era or c.DEFAULT_LLAMACPP_ERA
    if era not in c.LLAMACPP_ERAS:
        raise ValueError(f"unknown llama.cpp era '{era}' (known: {', '.join(c.LLAMACPP_ERAS)})")
    if era in ("2024-05", "2025-01"):
        return None
    return c.DECODE_PROFILES_CURRENT.get(_vendor(gpu))


def current_decode_rates(gpu: GPU, cur: dict) -> tuple[float | None, float | None]:
    """(quantized weights a second, f16 KV elements a second) a card's ALUs get through in
    llama.cpp's current decode kernels, the compute side of each roofline in gpu_decode_seconds:
    NVIDIA per streaming multiprocessor (weights_per_s_unit, kv_elements_per_s_unit x
    compute_units); Apple per FP16 TFLOPS of the
    GPU (weights_per_s_tflop, kv_elements_per_s_tflop x fp16_tflops: the KB gives no Apple core
    count, and a core's rate follows its clock and ALU width as the TFLOPS do). None where the
    profile or the card has no such figure (then the bytes alone set the time)."""
    units = compute_units(gpu)
    if "weights_per_s_unit" in cur:
        if not units:
            return None, None
        return units * cur["weights_per_s_unit"], units * cur["kv_elements_per_s_unit"]
    tflops = gpu.fp16_tflops
    if not tflops:
        return None, None
    w = cur.get("weights_per_s_tflop")
    kv = cur.get("kv_elements_per_s_tflop")
    return (tflops * w if w else None), (tflops * kv if kv else None)


def gpu_decode_seconds(gpu: GPU, weight_bytes: int, kv_bytes: int, layers: int,
                       quantized: bool, hops: int = 0, weight_elements: int | None = None,
                       era: str | None = None) -> float:
    """Seconds one token spends on GPUs of this kind holding `layers` layers whose weights
    (active bytes) and KV cache total weight_bytes and kv_bytes; `hops` GPU boundaries crossed
    (llama.cpp layer split). weight_elements: the weights those bytes hold (the SMs' dot-product
    rate limits quantized formats on current builds; None: bandwidth only). era: the llama.cpp
    build whose profile applies ("current" by default, "2024-05"). Never faster than the
    roofline: every term adds time or is a max with the bandwidth term."""
    cur = current_profile(gpu, era)
    if cur is not None:
        bw = cur["bandwidth_fraction"] * gpu.bandwidth_gb_s * 1e9
        w_rate, kv_rate = current_decode_rates(gpu, cur)
        w_s = weight_bytes / bw
        if quantized and weight_elements and w_rate:
            w_s = max(w_s, weight_elements / w_rate)
        kv_s = kv_bytes / bw
        if kv_rate and kv_bytes:
            kv_s = max(kv_s, (kv_bytes / 2) / kv_rate)
        return w_s + kv_s + layers * cur["layer_seconds"] + hops * cur["hop_seconds"]
    prof = c.DECODE_PROFILES[_vendor(gpu)]
    q = prof["quant_factor"] if quantized else 1.0
    streamed = weight_bytes * q + kv_bytes * prof["attention_factor"]
    return (streamed / (effective_bandwidth_gb_s(gpu) * 1e9) + layers * prof["layer_seconds"]
            + hops * prof["hop_seconds"])


def moe_layers(a: Architecture) -> int:
    """Layers with routed experts (all but the first dense_layers); 0 for a dense model."""
    return a.layers - a.dense_layers if a.experts_total else 0


def moe_decode_seconds(a: Architecture, era: str | None = None, layers: int | None = None,
                       expert_layers: int | None = None) -> float:
    """Seconds a token that llama.cpp's MoE layers spend beyond reading their bytes
    (constants.MOE_DECODE_PROFILES): a time a MoE layer (router, top-k, weighting, the sum of
    the expert outputs) and a time a routed expert in each MoE layer whose experts the GPU holds
    (MUL_MAT_ID's work a routed expert). layers: MoE layers on the GPUs (all by default);
    expert_layers: those of them whose routed experts are on the GPUs too (as many by default).
    era: the llama.cpp build ("current" by default); 0.0 for the 2024-05 profile (no MoE rows in
    it; also what other runtimes' decode is timed with) and for dense models. A model with
    multi-head latent attention (kv_lora_rank: DeepSeek V2/V3/R1, Kimi K2) adds a time a layer
    on the GPUs (all layers, or `layers` when given): current builds decode MLA in its absorbed
    form (llama.cpp PR 12801), per-head products with attn_k_b and attn_v_b around the latent
    cache, kernels the dense attention the profile was fitted on does not run. Never negative."""
    era = era or c.DEFAULT_LLAMACPP_ERA
    prof = c.MOE_DECODE_PROFILES.get(era)
    if prof is None or not a.experts_total:
        return 0.0
    n = moe_layers(a) if layers is None else layers
    e = n if expert_layers is None else expert_layers
    t = n * prof["moe_layer_seconds"] + e * a.experts_active * prof["routed_expert_seconds"]
    if a.kv_lora_rank:
        t += (a.layers if layers is None else layers) * prof.get("mla_layer_seconds", 0.0)
    return t


def cpu_decode_seconds(weight_bytes: int, kv_bytes: int, ram_bandwidth_gb_s: float,
                       layers: int = 0) -> float:
    """Seconds one token spends on weights held in system RAM (llama.cpp computes them on the
    CPU): their bytes at CPU_BANDWIDTH_FRACTION of the RAM bandwidth (GB/s), plus
    CPU_LAYER_SECONDS for each of the `layers` layers the CPU computes (constants: both fitted on
    benchmarks/data/llamacpp_offload_decode.csv by benchmarks/fit_offload_speed.py). Never
    faster than the RAM roofline."""
    return ((weight_bytes + kv_bytes) / (c.CPU_BANDWIDTH_FRACTION * ram_bandwidth_gb_s * 1e9)
            + layers * c.CPU_LAYER_SECONDS)


def allreduce_seconds(gpu: GPU, hidden_bytes: int, tp: int,
                      hop_latency_s: float | None = None) -> float:
    """One ring all-reduce of `hidden_bytes` over `tp` GPUs: latency + 2(n-1)/n of the bytes.
    The latency is constants.ALLREDUCE_LATENCY_S for the link; when hop_latency_s is given
    (vLLM's fitted figure, constants.VLLM_DECODE_PROFILE: what the runtime's step pays, launch
    and synchronisation, whatever the wire), that time for each of a ring's 2(n-1) steps (a
    reduce-scatter and an all-gather of n-1 steps each), never less than the link's own
    latency. Never negative."""
    if tp <= 1:
        return 0.0
    link = "nvlink" if gpu.interconnect and "nvlink" in gpu.interconnect.lower() else "other"
    bw = (gpu.interconnect_gb_s or 32.0) * 1e9
    latency = c.ALLREDUCE_LATENCY_S[link]
    if hop_latency_s is not None:
        latency = max(latency, 2 * (tp - 1) * hop_latency_s)
    return latency + 2 * (tp - 1) / tp * hidden_bytes / bw


def active_weight_bytes(a: Architecture, p: Precision) -> tuple[int, int]:
    """(bytes read a token from the repeating layers, from the output head and final norm).
    MoE layers read only experts_active of experts_total expert tensors; the token embedding is
    a lookup and is left out, except with tied embeddings, where the output head is that table
    and every token multiplies it whole."""
    w = weight_summary(a, p)
    return w.active_layers, w.output + (w.embedding if a.tied_embeddings else 0)


@lru_cache(maxsize=4096)
def active_compute_parameters(a: Architecture) -> int:
    """Parameters multiplied a token (the embedding lookup is no matrix product, but a tied
    output head multiplies the embedding table)."""
    total = 0
    for t in model_tensors(a):
        if t.name == "token_embd" and not a.tied_embeddings:
            continue
        share = (a.experts_active / a.experts_total) if (t.name.endswith("_exps") and a.experts_total) else 1
        total += int(t.elements * share)
    return total


def peak_tflops(gpu: GPU, p: Precision, runtime: str = "llama.cpp") -> float | None:
    """Dense tensor TFLOPS the format runs at: FP8 where the card and runtime run it natively,
    else FP16/BF16 (weight-only formats compute in FP16). GeForce cards under llama.cpp get the
    FP16-accumulate rate."""
    if p.name == "fp8" and gpu.fp8_tflops and runtime not in GGML_RUNTIMES:
        return gpu.fp8_tflops
    base = gpu.bf16_tflops if p.name == "bf16" and gpu.bf16_tflops else gpu.fp16_tflops
    if gpu.fp32_tflops is not None and (base is None or gpu.fp32_tflops > base):
        # a card whose FP16 is slower than its FP32 (Pascal GP102, the Tesla P40: FP16 at 1/64,
        # no tensor cores) is run in FP32: llama.cpp computes there in FP32, and cuBLAS's FP16
        # GEMMs with FP32 compute run at the FP32 rate
        base = gpu.fp32_tflops
    if base is None:
        return None
    if gpu.vendor == "nvidia" and gpu.segment == "consumer" and runtime in GGML_RUNTIMES:
        base *= c.CONSUMER_FP16_ACCUMULATE_SPEEDUP
    return base


def prefill_seconds_per_token(gpu: GPU, a: Architecture, p: Precision, prompt_tokens: int,
                              quantized_weight_bytes: int | None = None,
                              runtime: str = "llama.cpp", era: str | None = None,
                              cached_tokens: int = 0) -> float | None:
    """Mean seconds a prompt token takes on one GPU holding the whole model, after
    cached_tokens already in the cache (0: an empty cache, what advisories quote; llama-bench's
    ppN@dD runs have D). quantized_weight_bytes: the weights' bytes when llama.cpp dequantizes
    them a micro-batch (May-2024 builds; current builds multiply quantized weights in place,
    MMQ). era: the llama.cpp build profile (constants.LLAMACPP_ERAS; current by default)."""
    peak = peak_tflops(gpu, p, runtime)
    if peak is None:
        return None
    cur = None
    if runtime in GGML_RUNTIMES and (era or c.DEFAULT_LLAMACPP_ERA) != "2024-05":
        cur = c.PREFILL_PROFILES_CURRENT.get(_vendor(gpu))
    prof = cur or c.PREFILL_PROFILES[_vendor(gpu)]
    ctx = cached_tokens + prompt_tokens / 2  # the mean context a prompt token attends to
    q_dim = a.attention_heads * a.head_dim
    flops = 2 * active_compute_parameters(a) + 4 * a.layers * q_dim * ctx
    inv_rate = 1 / (prof["compute_fraction"] * peak * 1e12)
    cap = prof["runtime_cap_tflops"]
    lanes = fp32_lanes(gpu)
    if cur is not None and p.family != "float" and lanes and "mmq_gflops_per_lane" in cur:
        # MMQ: its tiles' unpacking and scaling run on the FP32/INT32 lanes, which bound it
        # (not the tensor cores), at a rate a lane of their own, or the card's peak share
        inv_rate = max(inv_rate, 1 / (lanes * cur["mmq_gflops_per_lane"] * 1e9))
        cap = None
    elif isinstance(cap, dict):
        cap = cap["float"]
    if cap:
        inv_rate += 1 / (cap * 1e12)
    moved = a.layers * a.attention_heads * ctx * c.ACTIVATION_BYTES * prof["kq_passes"]
    if quantized_weight_bytes is not None and cur is None:
        moved += (2 * active_compute_parameters(a) + quantized_weight_bytes) / c.PREFILL_UBATCH_TOKENS
    return flops * inv_rate + moved / (gpu.bandwidth_gb_s * 1e9)


def pipeline_speedup(prompt_tokens: int, gpus: int) -> float:
    """llama.cpp's layer split pipelines micro-batches over the GPUs: U micro-batches over G
    stages take U + G - 1 stage times instead of U x G; U counts the micro-batches of one
    n_batch, the unit llama.cpp pipelines."""
    u = -(-min(prompt_tokens, c.PREFILL_BATCH_TOKENS) // c.PREFILL_UBATCH_TOKENS)
    return u * gpus / (u + gpus - 1)
