"""What a model needs in memory for a workload: weights, KV cache, overhead.

The single entry point placement code calls; how each part is sized lives in weights.py
(or, for a model read from a file, its exact tensor list), kv_cache.py and runtime.py.
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
from dataclasses import dataclass, field

from advisor.kb.schema import GPU, Model
from advisor.render import count
from advisor.sizing.kv_cache import check_kv_dtype, kv_assumptions, kv_cache_bytes
from advisor.sizing.precision import Precision
from advisor.sizing.runtime import overhead_parts, runtime_assumptions
from advisor.sizing.weights import weight_summary, weights_assumptions, weights_breakdown_bytes
from advisor.sizing.vllm_parallel import expert_weight_bytes, layout_memory, uses_layout, vllm_layout
from advisor.sizing.workload import Workload


@dataclass(frozen=True)
class MemoryParts:
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    embedding_bytes: int        # token embedding table (a lookup: one row read a token)
    output_bytes: int           # output head, final norm
    layers_bytes: int           # all repeating blocks
    largest_layer_bytes: int
    breakdown: dict = field(default_factory=dict)  # name -> bytes, and "assumptions", for JSON
    assumptions: tuple[str, ...] = ()
    exact_weights: bool = False  # weights summed from a file's tensor list

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes


def gpu_weight_bytes(w: dict[str, int], a, runtime: str) -> int:
    """Weight bytes the GPUs hold, from a breakdown (embedding/output/layers). llama.cpp keeps
    the input layer, the token embedding table, in host memory (src/llama-model.cpp load_tensors:
    "there is very little benefit to offloading the input layer, so always keep it on the CPU";
    token_embd is LLM_TENSOR_LAYER_INPUT in src/llama-arch.cpp); with tied embeddings the output
    layer is token_embd itself, loaded a second time (TENSOR_DUPLICATED) onto the output
    layer's GPU, so the GPU holds the whole file. Measured (llama.cpp 0c1e570, H200, Llama 3.1
    8B shapes at Q4_K_M, benchmarks/measured/h200-llamacpp-2026-11-30/memory_logs.txt):
    CPU_Mapped 281.81 MiB (token_embd) and CUDA0 4403.49 MiB of a 4685.30 MiB file. Other
    runtimes load everything onto the GPUs."""
    if runtime not in GGML_RUNTIMES or a.tied_embeddings:
        return w["embedding"] + w["output"] + w["layers"]
    return w["output"] + w["layers"]


def host_weight_bytes(w: dict[str, int], runtime: str) -> int:
    """Weight bytes llama.cpp keeps in (memory-mapped) system RAM when every layer is on the
    GPUs: the token embedding table, tied or not (gpu_weight_bytes); 0 for other runtimes."""
    return w["embedding"] if runtime in GGML_RUNTIMES else 0


def model_weights(model: Model, precision: Precision) -> tuple[dict[str, int], list[str], bool]:
    """(embedding/output/layers/largest_layer bytes, assumptions, exact?)"""
    inv = getattr(model, "weights_inventory", None)
    if inv is not None and inv.precision == precision.name:
        total = inv.total_bytes or 1
        mix = ", ".join(f"{t} {100 * b / total:.1f}%" for t, b in list(inv.dtype_bytes().items())[:6])
        return inv.breakdown(), list(inv.assumptions) + [f"stored types by bytes: {mix}"], True
    return weights_breakdown_bytes(model.architecture, precision), weights_assumptions(precision), False


def model_weights_bytes(model: Model, precision: Precision, runtime: str) -> int:
    """The weights' bytes on the GPUs that memory_total_bytes counts with every layer there (a
    file's tensors at its own precision, else the architecture's at `precision`; under llama.cpp
    without token_embd, which stays in RAM: gpu_weight_bytes): a lower bound of the total at any
    context."""
    inv = getattr(model, "weights_inventory", None)
    if inv is not None and inv.precision == precision.name:
        w = inv.breakdown()
    else:
        s = weight_summary(model.architecture, precision)
        w = {"embedding": s.embedding, "output": s.output, "layers": s.layers}
    return gpu_weight_bytes(w, model.architecture, runtime)


def _layout_memory(model: Model, precision: Precision, work: Workload, gpus: int, weights: int,
                   context_tokens: int, kv_dtype: str, gpu: GPU | None):
    """vLLM's data/expert-parallel layout of `gpus` (advisor.sizing.vllm_parallel)."""
    a = model.architecture
    layout = vllm_layout(a, gpus, work.data_parallel, work.expert_parallel)
    return layout_memory(a, layout, weights, expert_weight_bytes(a, precision, weights),
                         context_tokens, work.batch, kv_dtype, gpu, work.gpu_memory_utilization,
                         work.runtime, work.mem_fraction_static)


def layout_note(lm, runtime: str = "vllm") -> str:
    """The layout in words, for the advisory's assumptions (vLLM's, or SGLang's launch of it:
    advisor.sizing.vllm_parallel.sglang_layout_command)."""
    lay, gib, moe = lm.layout, 2**30, lm.rank_expert_bytes > 0
    experts = (f"{lay.experts_per_gpu} whole routed experts a GPU (expert parallel over "
               f"{lay.expert_shards})" if lay.expert_parallel and lay.experts_per_gpu
               else f"routed experts sliced over all {lay.expert_shards} GPUs")
    who = "vLLM"
    if runtime == "sglang":
        who = ("SGLang DP attention (--enable-dp-attention)" if moe and lay.data_parallel > 1
               else "SGLang")
    return (f"{who} data parallel {lay.data_parallel} x tensor parallel {lay.tensor_parallel}: "
            f"attention, dense layers and embeddings replicated on each of the {lay.data_parallel} "
            f"ranks ({lm.rank_replicated_bytes / gib:.2f} GiB a GPU), "
            f"{experts if moe else 'no routed experts (dense model)'}"
            f"{f' ({lm.rank_expert_bytes / gib:.2f} GiB a GPU)' if moe else ''}; each rank "
            f"keeps its own KV cache for its {lm.sequences_per_rank} sequence(s) of the full "
            f"context ({lm.rank_kv_cache_bytes / gib:.2f} GiB a GPU)")


def sglang_pool(a, gpu: GPU, gpus: int, weights: int, work: Workload, lm=None) -> tuple[float, int, int]:
    """(--mem-fraction-static, max_total_num_tokens a GPU, sequences a rank) of SGLang's launch
    on `gpus` of `gpu` with `weights` bytes in all (lm: a data/expert-parallel layout, as
    advisor.sizing.vllm_parallel sizes it): the KV pool these weights leave, as SGLang logs it
    at start (advisor.sizing.sglang_memory.sglang_max_total_num_tokens; 0 or less: none)."""
    from advisor.sizing.sglang_memory import sglang_max_total_num_tokens, sglang_mem_fraction
    from advisor.sizing.vllm_memory import vllm_tensor_parallel_size

    tp = vllm_tensor_parallel_size(a, gpus) if gpus > 1 else 1
    pp, dp_attn, w_rank, seqs = gpus // tp, 1, -(-weights // gpus), work.batch
    if lm is not None:  # a data/expert-parallel layout: as SGLang launches it
        from advisor.sizing.vllm_parallel import sglang_layout_command

        flags = sglang_layout_command(a, lm.layout)
        tp, pp, w_rank, seqs = flags["tp_size"], 1, lm.rank_weights_bytes, lm.sequences_per_rank
        dp_attn = flags["dp_size"] if flags["dp_attention"] else 1
    f = sglang_mem_fraction(gpu, tp, pp, work.mem_fraction_static, dp_attn)
    n = sglang_max_total_num_tokens(a, gpu, w_rank, work.kv_cache_dtype, tp, pp,
                                    work.mem_fraction_static, dp_attn)
    return f, n, seqs


def share_problem(a, gpu: GPU | None, gpus: int, work: Workload) -> str | None:
    """Why the runtime cannot start with the share of each GPU the workload gives it, or None:
    vLLM's --gpu-memory-utilization beyond what is free once its CUDA context is up
    (advisor.sizing.vllm_memory.vllm_utilization_problem), SGLang's --mem-fraction-static
    leaving less than it allocates outside its pool (advisor.sizing.sglang_memory.
    sglang_share_problem, at the TP and PP sizes of its launch, a data/expert-parallel layout's
    TP size included). None for other runtimes and for SGLang's own default share."""
    if work.runtime == "vllm":
        from advisor.sizing.vllm_memory import vllm_utilization_problem

        return vllm_utilization_problem(gpu, work.gpu_memory_utilization, work.vllm_version)
    if work.runtime != "sglang" or work.mem_fraction_static is None or gpu is None:
        return None
    from advisor.sizing.sglang_memory import sglang_share_problem
    from advisor.sizing.vllm_memory import vllm_tensor_parallel_size

    tp = vllm_tensor_parallel_size(a, gpus) if gpus > 1 else 1
    pp = gpus // tp
    if uses_layout(work.runtime, work.data_parallel, work.expert_parallel):
        from advisor.sizing.vllm_parallel import sglang_layout_command

        tp, pp = sglang_layout_command(a, vllm_layout(a, gpus, work.data_parallel,
                                                      work.expert_parallel))["tp_size"], 1
    return sglang_share_problem(a, gpu, work.mem_fraction_static, tp, pp)


def sglang_pool_note(a, gpu: GPU, gpus: int, weights: int, work: Workload, lm=None) -> str:
    """SGLang's own figure for the KV pool these weights leave on each GPU (sglang_pool), and
    what it means for the question: the longest request, and whether `batch` requests of the
    whole context fit in it."""
    f, n, seqs = sglang_pool(a, gpu, gpus, weights, work, lm)
    need = work.context_tokens * seqs
    if n <= 0:
        return (f"SGLang's KV pool: none; the weights fill --mem-fraction-static {f:g} of each "
                "GPU, and SGLang stops with \"Not enough memory. Please try to increase "
                "--mem-fraction-static\"")
    verdict = "holds" if n >= need else "is shorter than"
    return (f"SGLang's KV pool: max_total_num_tokens {n:,} a GPU, as it would log it at start "
            f"(the longest request it accepts); it {verdict} the {need:,} tokens asked "
            f"({seqs} x {work.context_tokens:,})")


def on_gpu(work: Workload, model: Model, w: dict[str, int], kv: int) -> tuple[int, int]:
    """(weights, KV cache) on the GPU of the whole model's `w` (model_weights' breakdown) and
    `kv`: all of them, or under llama.cpp's -ngl N below all its slots (work.gpu_layers, read
    by advisor.sizing.offload.gpu_layers_of_ngl: a GGUF's trailing blocks count) the share of
    the repeating layers it puts there (the mean layer, the cache spread evenly over the
    layers), the output layer and the token embeddings staying in system RAM
    (src/llama-model.cpp load_tensors). Every layer on the GPU: gpu_weight_bytes (llama.cpp
    keeps token_embd in RAM then too)."""
    from advisor.sizing.offload import gpu_layers_of_ngl

    a = model.architecture
    n = gpu_layers_of_ngl(model, work.gpu_layers)
    if n is None:
        return gpu_weight_bytes(w, a, work.runtime), kv
    return n * (w["layers"] // a.layers), n * (kv // a.layers)


def memory_total_bytes(model: Model, precision: Precision, work: Workload, gpus: int,
                       context_tokens: int, kv_dtype: str, gpu: GPU | None = None) -> int:
    """memory_parts(...).total_bytes at another context and KV precision, without building the
    breakdown and the notes (the largest-context searches call it thousands of times). gpu: the
    card, for vLLM's scheduler defaults (advisor.sizing.vllm_memory.vllm_default_batch)."""
    a = model.architecture
    inv = getattr(model, "weights_inventory", None)
    if inv is not None and inv.precision == precision.name:
        w = inv.breakdown()
    else:
        w = weights_breakdown_bytes(a, precision)
    if uses_layout(work.runtime, work.data_parallel, work.expert_parallel):
        lm = _layout_memory(model, precision, work, gpus, w["embedding"] + w["output"] + w["layers"],
                            context_tokens, kv_dtype, gpu)
        return lm.weights_bytes + lm.kv_cache_bytes + sum(lm.overhead.values())
    kv = kv_cache_bytes(a, context_tokens, work.batch, kv_dtype, work.runtime, gpus)
    weights, kv = on_gpu(work, model, w, kv)
    over = overhead_parts(a, work.runtime, gpus, work.prompt_tokens, work.batch, weights, kv,
                          context_tokens, gpu, work.gpu_memory_utilization, work.flash_attn,
                          work.vllm_version, work.mem_fraction_static)
    return weights + kv + sum(over.values())


def memory_parts(model: Model, precision: Precision, work: Workload, gpus: int = 1,
                 vendor: str = "nvidia", detail: bool = True, gpu: GPU | None = None) -> MemoryParts:
    """Weights, KV cache and overhead; detail=False leaves out the breakdown and the notes (the
    planner sizes thousands of candidates and reads only the totals). gpu: the card (vLLM's
    scheduler defaults depend on it)."""
    a = model.architecture
    check_kv_dtype(work.kv_cache_dtype, work.runtime)
    w, w_notes, exact = model_weights(model, precision)
    host = host_weight_bytes(w, work.runtime)
    lm = None
    if uses_layout(work.runtime, work.data_parallel, work.expert_parallel):
        lm = _layout_memory(model, precision, work, gpus, w["embedding"] + w["output"] + w["layers"],
                            work.context_tokens, work.kv_cache_dtype, gpu)
        weights, kv, over_parts = lm.weights_bytes, lm.kv_cache_bytes, dict(lm.overhead)
    else:
        kv = kv_cache_bytes(a, work.context_tokens, work.batch, work.kv_cache_dtype, work.runtime,
                            gpus)
        weights, kv = on_gpu(work, model, w, kv)
        over_parts = overhead_parts(a, work.runtime, gpus, work.prompt_tokens, work.batch, weights,
                                    kv, work.context_tokens, gpu, work.gpu_memory_utilization,
                                    work.flash_attn, work.vllm_version, work.mem_fraction_static)
    over = sum(over_parts.values())
    if not detail:
        return MemoryParts(weights, kv, over, w["embedding"], w["output"], w["layers"],
                           w["largest_layer"], exact_weights=exact)
    rope = model.rope_scaling
    if work.context_tokens > a.max_context and rope is not None and rope.source.startswith("file:"):
        w_notes = w_notes + [  # the config declares its YaRN: a warning, within original x factor
            f"a context of {count(work.context_tokens, 'token')} is beyond config.json's "
            f"max_position_embeddings ({a.max_context:,}), within {model.context_limit_source} "
            f"({model.context_limit:,} tokens): the positions past {rope.original_context:,} "
            "are YaRN-scaled, which can cost quality on short texts; the commands pass that "
            "scaling explicitly, and llama.cpp warns that n_ctx exceeds n_ctx_train"]
    elif work.context_tokens > a.max_context:  # within the advertised limit (Advisor.explain checks)
        w_notes = w_notes + [
            f"a context of {count(work.context_tokens, 'token')} is beyond config.json's "
            f"max_position_embeddings ({a.max_context:,}), within {model.context_limit_source} "
            f"({model.context_limit:,}): run it as the model card says for that length (some "
            "models need rope scaling turned on, as Qwen2.5's YaRN; others, as Command R, only a "
            "larger context); llama.cpp warns that n_ctx exceeds n_ctx_train, vLLM needs "
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 or the card's rope_scaling override"]
    if host:
        w_notes = w_notes + [
            f"llama.cpp keeps the token embedding table ({host / 2**30:.2f} GiB) in system RAM "
            "(memory-mapped from the file) and looks up one row a token there"
            + (": the tied output layer is a second copy of it on the GPU"
               if a.tied_embeddings else "; the GPU holds the rest of the file")]
    notes = w_notes + kv_assumptions(a, work.kv_cache_dtype, work.runtime, work.flash_attn) \
        + runtime_assumptions(work.runtime, gpus, vendor, a, gpu, work.gpu_memory_utilization,
                              work.flash_attn, work.vllm_version, work.context_tokens,
                              lm.layout if lm else None, work.mem_fraction_static)
    if work.runtime in ("vllm", "sglang"):
        from advisor.sizing.runtime_models import SGLANG, VLLM

        reg, version = (VLLM, work.vllm_version) if work.runtime == "vllm" else (SGLANG, None)
        notes += [n for n in (reg.unchecked_note(model, version), reg.release_note(model, version)) if n]
    if lm is not None:
        notes.append(layout_note(lm, work.runtime))
    if work.runtime == "sglang" and gpu is not None:
        notes.append(sglang_pool_note(a, gpu, gpus, weights, work, lm))
    if work.runtime == "ollama" and gpu is not None:
        from advisor.sizing.ollama import assumptions as ollama_assumptions

        notes += ollama_assumptions(gpu, gpus, work.flash_attn)
    from advisor.sizing.offload import partial_offload

    if not partial_offload(model, work):
        breakdown = {"weights": weights, "weights_embedding": w["embedding"],
                     "weights_output": w["output"], "weights_layers": w["layers"],
                     "weights_host_ram": host, "kv_cache": kv, "overhead": over}
    else:  # -ngl N: the GPU's share; the rest is in system RAM (JSON placement.ram_bytes)
        breakdown = {"weights": weights, "weights_embedding": 0, "weights_output": 0,
                     "weights_layers": weights, "weights_host_ram": host, "kv_cache": kv,
                     "overhead": over}
    breakdown.update({f"overhead_{k}": v for k, v in over_parts.items()})
    breakdown["runtime"] = work.runtime
    breakdown["kv_cache_dtype"] = work.kv_cache_dtype
    breakdown["weights_source"] = "file" if exact else "architecture"
    if lm is not None:
        breakdown["vllm_layout"] = lm.layout.to_json() | {
            "per_gpu_weights_bytes": lm.rank_weights_bytes,
            "per_gpu_replicated_weights_bytes": lm.rank_replicated_bytes,
            "per_gpu_expert_weights_bytes": lm.rank_expert_bytes,
            "per_gpu_kv_cache_bytes": lm.rank_kv_cache_bytes,
            "sequences_per_data_parallel_rank": lm.sequences_per_rank}
    breakdown["assumptions"] = notes
    return MemoryParts(
        weights_bytes=weights, kv_cache_bytes=kv, overhead_bytes=over,
        embedding_bytes=w["embedding"], output_bytes=w["output"], layers_bytes=w["layers"],
        largest_layer_bytes=w["largest_layer"], breakdown=breakdown, assumptions=tuple(notes),
        exact_weights=exact,
    )
