"""vLLM's data parallel and expert parallel layout: what each rank holds.

`vllm serve --data-parallel-size DP [--tensor-parallel-size TP] [--enable-expert-parallel]`
runs DP engine replicas of TP GPUs each, DP x TP GPUs in all (here: the --gpus of the
question, so TP = gpus / DP). As vLLM implements it:

- attention, the dense layers, the embedding and lm_head are replicated on every DP rank and
  sharded over its TP GPUs (each DP rank is a whole model replica outside the experts);
- the routed experts of a mixture-of-experts layer are sharded over all DP x TP GPUs: with
  --enable-expert-parallel each GPU holds whole experts (ep_size = DP x TP, tp_size 1 inside
  the MoE layer); without it, DP is flattened into the MoE layer's tensor parallelism and each
  GPU holds a 1/(DP x TP) slice of every expert. The bytes a GPU holds are the same either
  way (vllm/model_executor/layers/fused_moe/config.py, FusedMoEParallelConfig.make and
  flatten_tp_across_dp_and_pcp);
- each DP rank schedules its own sequences and keeps its own KV cache for them, sharded over
  its TP GPUs by KV heads: a rank must hold max_model_len tokens of KV for one sequence, so
  the longest context does not grow with DP;
- each GPU profiles and reserves as a TP=TP rank does (advisor.sizing.vllm_memory), with the
  NCCL buffers of its data-parallel / expert-parallel group when DP > 1; a mixture-of-experts
  layer gathers every DP rank's tokens before its experts, so the profiling run's MoE
  activations grow with DP (advisor.sizing.vllm_memory.vllm_moe_dispatch_peak_bytes).

SGLang (--runtime sglang) is sized on the same layout (sglang_layout_command says how it is
launched): for a mixture-of-experts model `--tp-size GPUS --dp-size DP --enable-dp-attention`
(attention and its KV cache data parallel over DP groups of GPUS / DP, the experts over all
GPUs; `--ep-size GPUS` with expert parallel), for a dense model DP replicas of `--tp-size GPUS /
DP`; its overhead is SGLang's (advisor.sizing.sglang_memory), not vLLM's.

All sizes are bytes; pure functions, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.vllm_memory import splits_kv_heads


@dataclass(frozen=True)
class VllmLayout:
    """How `gpus` GPUs run one vLLM model: DP replicas of TP GPUs, experts over all of them."""
    data_parallel: int      # --data-parallel-size: engine replicas, each with its own KV cache
    tensor_parallel: int    # --tensor-parallel-size inside each replica (gpus / DP)
    expert_parallel: bool   # --enable-expert-parallel: whole experts a GPU
    experts_per_gpu: int    # routed experts a GPU holds (with EP; 0 for a dense model)

    @property
    def gpus(self) -> int:
        return self.data_parallel * self.tensor_parallel

    @property
    def expert_shards(self) -> int:
        """GPUs the routed experts are spread over: DP x TP (with or without EP)."""
        return self.gpus

    def to_json(self) -> dict:
        return {"data_parallel": self.data_parallel, "tensor_parallel": self.tensor_parallel,
                "expert_parallel": self.expert_parallel, "expert_shards": self.expert_shards,
                "experts_per_gpu": self.experts_per_gpu}


def layout_problem(a: Architecture, gpus: int, data_parallel: int,
                   expert_parallel: bool) -> str | None:
    """Why vLLM cannot run this layout on `gpus` GPUs, in one line (None: it can): DP must
    divide the GPU count (TP = gpus / DP), TP must fit in a node and split the attention heads
    (and the KV heads, or be a multiple of them: vLLM then replicates KV heads), and expert
    parallel needs routed experts."""
    if data_parallel < 1:
        return f"--data-parallel-size must be at least 1, not {data_parallel}"
    if expert_parallel and not a.experts_total:
        return ("--enable-expert-parallel shards a mixture-of-experts model's routed experts; "
                "this model has none (dense)")
    if gpus % data_parallel:
        return (f"--data-parallel-size {data_parallel} does not divide --gpus {gpus}: vLLM runs "
                f"data parallel x tensor parallel GPUs, so --gpus must be a multiple of it")
    tp = gpus // data_parallel
    if tp > c.GPUS_PER_NODE:
        return (f"--gpus {gpus} over --data-parallel-size {data_parallel} is tensor parallel {tp}, "
                f"beyond one node of {c.GPUS_PER_NODE}: give a larger --data-parallel-size")
    if a.attention_heads % tp or not splits_kv_heads(a, tp):
        return (f"--gpus {gpus} over --data-parallel-size {data_parallel} is tensor parallel {tp}, "
                f"which does not split {a.attention_heads} attention heads and {a.kv_heads} KV "
                f"heads evenly")
    return None


def vllm_layout(a: Architecture, gpus: int, data_parallel: int,
                expert_parallel: bool) -> VllmLayout:
    """The layout of `gpus` GPUs at --data-parallel-size data_parallel; AdvisorError (one line)
    when vLLM cannot run it (layout_problem)."""
    bad = layout_problem(a, gpus, data_parallel, expert_parallel)
    if bad:
        raise AdvisorError(bad)
    per = -(-a.experts_total // gpus) if (expert_parallel and a.experts_total) else 0
    return VllmLayout(data_parallel, gpus // data_parallel, expert_parallel, per)


def uses_layout(runtime: str, data_parallel: int, expert_parallel: bool) -> bool:
    """Whether a workload asks vLLM or SGLang for data or expert parallelism (else the plain
    TP/PP split)."""
    return runtime in ("vllm", "sglang") and (data_parallel > 1 or expert_parallel)


def rank_weight_bytes(layout: VllmLayout, a: Architecture, weights_bytes: int,
                      expert_bytes: int) -> int:
    """Weights one GPU holds: everything outside the routed experts (attention, dense layers,
    embeddings, lm_head, norms, routers), replicated on each DP rank and split over its TP
    GPUs, plus its share of the routed experts: with EP whole experts, ceil(experts / (DP x
    TP)) of them; without, a 1/(DP x TP) slice of each. expert_bytes: all routed experts of
    all layers (advisor.sizing.weights.WeightSummary.experts_per_layer)."""
    other = -(-(weights_bytes - expert_bytes) // layout.tensor_parallel)
    if layout.expert_parallel and a.experts_total:
        return other + -(-expert_bytes * layout.experts_per_gpu // a.experts_total)
    return other + -(-expert_bytes // layout.expert_shards)


def sequences_per_rank(layout: VllmLayout, batch: int) -> int:
    """Sequences each DP rank holds when `batch` run at once: vLLM's front end spreads requests
    over the DP ranks, so the busiest holds ceil(batch / DP)."""
    return -(-batch // layout.data_parallel)


@dataclass(frozen=True)
class LayoutMemory:
    """Bytes over all GPUs of a vLLM data/expert-parallel layout (every GPU alike), and one
    GPU's share of each part."""
    layout: VllmLayout
    weights_bytes: int           # all GPUs: rank_weight_bytes x gpus
    kv_cache_bytes: int          # all GPUs: DP replicas' caches
    overhead: dict               # all GPUs, by part (as advisor.sizing.runtime.overhead_parts)
    rank_weights_bytes: int      # one GPU
    rank_replicated_bytes: int   # one GPU's share of the non-expert weights (replicated per DP rank)
    rank_expert_bytes: int       # one GPU's routed experts
    rank_kv_cache_bytes: int     # one GPU's KV cache
    sequences_per_rank: int


def layout_memory(a: Architecture, layout: VllmLayout, weights_bytes: int, expert_bytes: int,
                  context_tokens: int, batch: int, kv_dtype: str, gpu=None,
                  gpu_memory_utilization: float = c.VLLM_GPU_MEMORY_UTILIZATION,
                  runtime: str = "vllm", mem_fraction_static: float | None = None) -> LayoutMemory:
    """Every GPU of the layout holds rank_weight_bytes, its DP rank's KV cache for
    ceil(batch / DP) sequences of context_tokens (split over the TP GPUs by KV heads, as
    advisor.sizing.kv_cache.kv_cache_bytes under vLLM), and a TP=TP rank's profiled overhead
    (advisor.sizing.vllm_memory); vLLM's unused share (1 - u) / u of it all on top. runtime
    "sglang": the same weights and caches (its KV pool one slot a token), and SGLang's overhead
    (sglang_layout_overhead) instead of vLLM's."""
    from advisor.sizing.kv_cache import kv_cache_bytes
    from advisor.sizing.runtime import with_unreported_memory
    from advisor.sizing.vllm_memory import (vllm_default_batch, vllm_rank_overhead,
                                            vllm_utilization_reserve)

    n, tp, dp = layout.gpus, layout.tensor_parallel, layout.data_parallel
    w_rank = rank_weight_bytes(layout, a, weights_bytes, expert_bytes)
    replicated = -(-(weights_bytes - expert_bytes) // tp)
    seqs = sequences_per_rank(layout, batch)
    kv_replica = kv_cache_bytes(a, context_tokens, seqs, kv_dtype, runtime, tp)  # a DP rank's TP GPUs
    if runtime == "sglang":
        parts = sglang_layout_overhead(a, layout, gpu, mem_fraction_static)
        return LayoutMemory(layout, n * w_rank, dp * kv_replica, parts, w_rank, replicated,
                            w_rank - replicated, kv_replica // tp, seqs)
    rank = vllm_rank_overhead(a, n, vllm_default_batch(gpu), tp, dp, layout.expert_parallel)
    parts = {k: n * v for k, v in rank.items()}
    used = n * w_rank + dp * kv_replica + sum(parts.values())
    parts["gpu_memory_utilization_reserve"] = vllm_utilization_reserve(used, gpu_memory_utilization)
    parts = with_unreported_memory(parts, gpu, n)
    return LayoutMemory(layout, n * w_rank, dp * kv_replica, parts, w_rank, replicated,
                        w_rank - replicated, kv_replica // tp, seqs)


def sglang_layout_command(a: Architecture, layout: VllmLayout) -> dict[str, int | bool]:
    """SGLang's flags for the layout: a mixture-of-experts model runs DP attention over all the
    GPUs (tp_size = GPUS, dp_size = DP, --enable-dp-attention, and --ep-size GPUS with expert
    parallel); a dense model DP replicas of tp_size = GPUS / DP (--dp-size DP)."""
    if a.experts_total:
        return {"tp_size": layout.gpus, "dp_size": layout.data_parallel,
                "dp_attention": layout.data_parallel > 1,
                "ep_size": layout.gpus if layout.expert_parallel else 1}
    return {"tp_size": layout.tensor_parallel, "dp_size": layout.data_parallel,
            "dp_attention": False, "ep_size": 1}


def sglang_layout_overhead(a: Architecture, layout: VllmLayout, gpu=None,
                           mem_fraction_static: float | None = None) -> dict[str, int]:
    """SGLang's overhead over all the layout's GPUs (advisor.sizing.sglang_memory), its default
    --mem-fraction-static taken at the tp_size and DP attention it is launched with
    (sglang_layout_command)."""
    from advisor.sizing.sglang_memory import sglang_overhead_parts

    flags = sglang_layout_command(a, layout)
    return sglang_overhead_parts(gpu, layout.gpus, flags["tp_size"], 1, mem_fraction_static,
                                 dp_attention=flags["dp_size"] if flags["dp_attention"] else 1,
                                 ranks=flags["tp_size"])


def expert_weight_bytes(a: Architecture, precision, weights_total: int) -> int:
    """Bytes of all routed experts at `precision` (0 for a dense model), at most weights_total
    (a model file's own total may be smaller than the architecture's)."""
    if not a.experts_total:
        return 0
    from advisor.sizing.weights import weight_summary

    return min(sum(weight_summary(a, precision).experts_per_layer), weights_total)
