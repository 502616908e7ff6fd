"""CPU offload with llama.cpp: which layers stay on the GPU (-ngl), what system RAM holds, speed.

llama.cpp offloads from the last layer backwards and the output layer first
(i_gpu_start = n_layer + 1 - n_gpu_layers; gguf-parser #42); the token embedding table always
stays in system RAM. Layers in RAM are computed by the CPU, reading their weights and KV cache
at RAM bandwidth, one after the GPU's layers each token. vLLM does not offload layers.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.overhead import fit_margin_bytes, overhead_bytes
from advisor.sizing.precision import Precision
from advisor.sizing.speed import active_weight_bytes, cpu_decode_seconds, gpu_decode_seconds
from advisor.sizing.weights import weight_summary, weights_breakdown_bytes
from advisor.sizing.workload import Workload


@dataclass(frozen=True)
class Offload:
    gpu_layers: int
    cpu_layers: int
    ram_bytes: int
    decode_tokens_per_s: float
    gpu_bytes: int = 0
    ram_fits: bool = True
    decode_tokens_per_s_full_context: float = 0.0


def plan_offload(model: Model, gpu: GPU, precision: Precision, work: Workload,
                 ram_bandwidth_gb_s: float | None = None) -> Offload | None:
    """The most whole layers (weights and their KV) the GPU holds with llama.cpp's margin, the
    rest in system RAM. None when everything fits, when not one layer fits, on unified memory
    (the RAM is the GPU's memory), or under a runtime that does not offload layers (vLLM)."""
    if work.runtime == "vllm" or gpu.unified_memory:
        return None
    ram_bw = ram_bandwidth_gb_s or work.ram_bandwidth_gb_s
    a = model.architecture
    w = weights_breakdown_bytes(a, precision)
    kv_layer = kv_cache_bytes(a, work.context_tokens, work.batch, work.kv_cache_dtype) // a.layers
    layer = w["largest_layer"] + kv_layer
    budget = gpu.usable_memory_bytes - overhead_bytes(a) - fit_margin_bytes() - w["output"]
    if budget < layer:
        return None
    gpu_layers = min(a.layers, budget // layer)
    if gpu_layers >= a.layers:
        return None  # everything fits: no offload needed
    cpu_layers = a.layers - gpu_layers
    mean_layer = w["layers"] // a.layers
    cpu_bytes = cpu_layers * (mean_layer + kv_layer)
    gpu_bytes = gpu_layers * (mean_layer + kv_layer) + w["output"] + overhead_bytes(a)
    act_layers, act_out = active_weight_bytes(a, precision)
    act_layer = act_layers // a.layers
    quantized = precision.family != "float"

    def speed(ctx: int) -> float:
        kv_l = kv_cache_bytes(a, ctx, 1, work.kv_cache_dtype) // a.layers
        s = (gpu_decode_seconds(gpu, gpu_layers * act_layer + act_out, gpu_layers * kv_l,
                                gpu_layers, quantized)
             + cpu_decode_seconds(cpu_layers * act_layer, cpu_layers * kv_l, ram_bw))
        return 1.0 / s

    ram = cpu_bytes + w["embedding"]
    return Offload(gpu_layers=int(gpu_layers), cpu_layers=int(cpu_layers), ram_bytes=ram,
                   decode_tokens_per_s=speed(0), gpu_bytes=gpu_bytes,
                   ram_fits=ram <= work.ram_bytes,
                   decode_tokens_per_s_full_context=speed(work.context_tokens))


@dataclass(frozen=True)
class ExpertOffload:
    cpu_moe_layers: int          # llama.cpp --n-cpu-moe N: experts of the first N layers in RAM
    moe_layers: int
    ram_bytes: int
    gpu_bytes: int
    ram_fits: bool
    decode_tokens_per_s: float


def plan_expert_offload(model: Model, gpu: GPU, precision: Precision,
                        work: Workload) -> ExpertOffload | None:
    """MoE with llama.cpp: dense weights (attention, router, shared experts, output) and the KV
    cache on the GPU, routed experts of the first N layers in system RAM (--n-cpu-moe N, or
    -ot "blk\\.(0|..|N-1)\\.ffn_.*_exps=CPU"). A token reads only its active experts, so RAM
    bandwidth hurts far less than offloading whole layers. None for dense models, under vLLM,
    on unified memory, when it fits without, or when the dense part alone does not fit."""
    a = model.architecture
    if not a.experts_total or work.runtime == "vllm" or gpu.unified_memory:
        return None
    w = weight_summary(a, precision)
    dense, experts, out = w.dense_per_layer, w.experts_per_layer, w.output
    kv = kv_cache_bytes(a, work.context_tokens, work.batch, work.kv_cache_dtype)
    budget = gpu.usable_memory_bytes - overhead_bytes(a) - fit_margin_bytes() - out - sum(dense) - kv
    if budget < 0:
        return None
    moe_layers = [i for i in range(a.layers) if experts[i]]
    n = 0
    on_gpu = sum(experts[i] for i in moe_layers)
    while n < len(moe_layers) and on_gpu > budget:
        on_gpu -= experts[moe_layers[n]]
        n += 1
    if n == 0:
        return None
    cpu = moe_layers[:n]
    cpu_experts = sum(experts[i] for i in cpu)
    share = a.experts_active / a.experts_total
    gpu_read = sum(dense) + out + int(share * (sum(experts) - cpu_experts))
    quantized = precision.family != "float"
    seconds = (gpu_decode_seconds(gpu, gpu_read, 0, a.layers, quantized)
               + cpu_decode_seconds(int(share * cpu_experts), 0, work.ram_bandwidth_gb_s))
    ram = cpu_experts + w.embedding
    gpu_bytes = overhead_bytes(a) + out + sum(dense) + kv + sum(experts) - cpu_experts
    return ExpertOffload(cpu_moe_layers=n, moe_layers=len(moe_layers), ram_bytes=ram,
                         gpu_bytes=gpu_bytes,
                         ram_fits=ram <= work.ram_bytes, decode_tokens_per_s=1.0 / seconds)
