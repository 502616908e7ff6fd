"""How N GPUs share a model: llama.cpp's layer split or tensor parallelism, over one node or more.

Layer split (llama.cpp's default, transformers' device_map="auto"): each GPU holds whole layers
and a token visits them one after another, so decode gets one card's bandwidth, plus a hop a
boundary. Prefill pipelines micro-batches over the cards. Tensor parallel (vLLM): every GPU
holds 1/N of every matrix and reads it at once, so decode gets N cards' bandwidth, minus two
all-reduces a layer. Beyond one node: tensor parallel inside each node, pipeline across nodes.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.kb.schema import GPU, Architecture, Model
from advisor.sizing import constants as c
from advisor.sizing.memory import MemoryParts
from advisor.sizing.speed import (
    active_compute_parameters,
    allreduce_seconds,
    gpu_decode_seconds,
    moe_decode_seconds,
    pipeline_speedup,
)
from advisor.sizing.vllm_memory import vllm_tensor_parallel_size


@dataclass(frozen=True)
class Split:
    kind: str                 # "single" | "layer" | "tensor"
    gpus: int
    tensor_parallel: int      # GPUs a layer is split over
    pipeline_stages: int      # groups of GPUs a token visits one after another
    nodes: int
    per_gpu_bytes: int        # the busiest GPU's weights + KV cache + overhead
    replicated_bytes: int     # bytes every GPU holds a copy of (per GPU)
    kv_replication: int       # copies of each KV head under tensor parallel (1: none)
    data_parallel: int = 1    # vLLM --data-parallel-size: replicas of tensor_parallel GPUs
    expert_parallel: bool = False  # vLLM --enable-expert-parallel: whole experts a GPU


def choose_split(model: Model, gpus: int, runtime: str, m: MemoryParts, layout=None) -> Split:
    """How `gpus` GPUs share the model under `runtime`. layout: vLLM's data/expert-parallel
    layout (advisor.sizing.vllm_parallel.VllmLayout) when asked."""
    a = model.architecture
    nodes = -(-gpus // c.GPUS_PER_NODE)
    per_gpu_overhead = m.overhead_bytes // gpus
    if gpus == 1:
        return Split("single", 1, 1, 1, 1, m.total_bytes, 0, 1)
    if runtime in c.TENSOR_PARALLEL_RUNTIMES and layout is not None:
        # data parallel (and expert parallel): every GPU alike (advisor.sizing.vllm_parallel);
        # a sequence decodes on one replica of tensor_parallel GPUs
        tp, dp, ep = layout.tensor_parallel, layout.data_parallel, layout.expert_parallel
        replication = max(1, tp // a.kv_heads)
        return Split("tensor", gpus, tp, 1, nodes, -(-m.total_bytes // gpus), per_gpu_overhead,
                     replication, dp, ep)
    if runtime in c.TENSOR_PARALLEL_RUNTIMES:
        # the largest tensor-parallel size inside a node that splits the heads and KV heads
        # evenly and divides the GPU count; the rest of the count becomes pipeline stages
        tp = vllm_tensor_parallel_size(a, gpus)
        pp = gpus // tp
        # vLLM shards the vocabulary of the embedding and lm_head; norms are replicated (tiny).
        kv_heads_per_gpu = max(1, a.kv_heads // tp)
        replication = max(1, tp // a.kv_heads)
        kv_gpu = m.kv_cache_bytes * kv_heads_per_gpu // a.kv_heads // pp
        weights_gpu = -(-m.weights_bytes // (tp * pp))
        return Split("tensor", gpus, tp, pp, nodes, weights_gpu + kv_gpu + per_gpu_overhead,
                     per_gpu_overhead, replication)
    # layer split: whole layers and their KV a GPU; the output head on the last one
    layers_gpu = -(-a.layers // gpus)
    share = layers_gpu / a.layers
    busiest = int((m.layers_bytes + m.kv_cache_bytes) * share) + m.output_bytes + per_gpu_overhead
    return Split("layer", gpus, 1, gpus, nodes, busiest, per_gpu_overhead, 1)


def split_decode_seconds(split: Split, gpu: GPU, a: Architecture, layer_bytes: int,
                         output_bytes: int, kv_bytes: int, quantized: bool,
                         era: str | None = None, gguf: bool = False) -> float:
    """Seconds a token, one sequence, weights and KV as read by the split; era: the llama.cpp
    build profile (advisor.sizing.speed.gpu_decode_seconds); gguf: the weights are a llama.cpp
    quantized type, whose matrix-vector kernels (MMVQ) the SMs' dot-product rate can limit
    (checkpoint formats such as AWQ/GPTQ run other kernels: bandwidth only)."""
    elements = active_compute_parameters(a) if gguf and quantized else 0
    if split is None or split.kind in ("single", "layer"):
        hops = 0 if split is None else split.gpus - 1
        return (gpu_decode_seconds(gpu, layer_bytes + output_bytes, kv_bytes, a.layers,
                                   quantized, hops, elements, era)
                + moe_decode_seconds(a, era))
    tp, pp = split.tensor_parallel, split.pipeline_stages
    kv_gpu = kv_bytes * max(1, a.kv_heads // tp) // a.kv_heads
    per_stage = gpu_decode_seconds(gpu, (layer_bytes + output_bytes) // tp // pp, kv_gpu // pp,
                                   -(-a.layers // pp), quantized, 0, elements // tp // pp, era)
    comm = -(-a.layers // pp) * c.ALLREDUCES_PER_LAYER * allreduce_seconds(gpu, a.hidden_size * 2, tp)
    hop = c.DECODE_PROFILES["nvidia"]["hop_seconds"]
    return pp * (per_stage + comm) + (pp - 1) * hop


def split_prefill_speedup(split: Split | None, prompt_tokens: int) -> float:
    """How much faster N GPUs prefill than one: pipelined micro-batches for a layer split;
    about N for tensor parallel (compute divides; communication is small next to it)."""
    if split is None or split.kind == "single":
        return 1.0
    if split.kind == "layer":
        return pipeline_speedup(prompt_tokens, split.gpus)
    return split.tensor_parallel * pipeline_speedup(prompt_tokens, split.pipeline_stages)
