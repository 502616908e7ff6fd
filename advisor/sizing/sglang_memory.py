"""SGLang's memory on each GPU: the static share (--mem-fraction-static) and its KV token pool.

SGLang (python -m sglang.launch_server) sizes its KV cache once, at start-up, on every rank
(ModelRunnerKVCacheMixin.profile_max_num_token, sources in constants.py):

    total_gpu_memory  = free memory after the distributed set-up, before the weights (GiB)
    available         = free memory after the weights are loaded
    rest              = available - total_gpu_memory x (1 - mem_fraction_static)
    max_total_num_tokens = rest / cell_size            (the smallest over all ranks)

so the weights and the KV pool share mem_fraction_static of what was free at start, and
everything else SGLang allocates later (prefill activations, CUDA graphs, the sampler) lives in
the remaining 1 - mem_fraction_static. The pool is one token a slot (page size 1) shared by
every running request: a request of N tokens needs N slots, so the largest context one request
can have is max_total_num_tokens (SGLang refuses longer inputs), and `batch` requests of the
whole context need batch x context slots.

cell_size, bytes a token on one rank over all layers with a KV cache
(get_cell_size_per_token):
- multi-head latent attention (DeepSeek V2/V3, Kimi K2): (kv_lora_rank + qk_rope_head_dim) x
  layers x dtype bytes, the same latent on every tensor-parallel rank; DeepSeek V3.2 adds its
  indexer key, index_head_dim FP8 values and an fp32 scale a 128 (NSATokenToKVPool);
- otherwise: kv_heads / TP (at least one: heads are replicated when ranks outnumber them) x
  (head_dim + v_head_dim) x layers x dtype bytes.

--kv-cache-dtype auto keeps the model's 16 bits; fp8_e4m3 / fp8_e5m2 store one byte a value.

The default --mem-fraction-static (ServerArgs._handle_gpu_memory_settings, the 0.5 line from
sgl-project/sglang PR 10975 of autumn 2025; the release it first shipped in was not read):
reserved_mem = 512 + 1.5 x max(chunked_prefill_size, 2048) + 2 x cuda_graph_max_bs
+ tp x pp / 8 x 1024 MiB, at least 10 GiB on cards above 60 GiB, and
mem_fraction_static = round((gpu_mem - reserved_mem) / gpu_mem, 3), where chunked_prefill_size
and cuda_graph_max_bs are themselves defaults by the card's memory
(constants.SGLANG_GPU_MEMORY_DEFAULTS). On an 80 GiB H100 that is 0.836 at TP 1 (13,440 MiB
reserved) and 0.819 at TP 8; on a 24 GiB RTX 4090, 0.847 at TP 1. With --enable-dp-attention
(DP attention, sglang_reserved_mib's dp_attention) it reserves 3 MiB more a CUDA-graph batch a DP
rank, 4.5 above 300 graph batches: 0.769 on 8 x H200 at DP 8.

Which total: total_gpu_memory is free memory as torch.cuda.mem_get_info reads it, so it starts
from the total the CUDA/ROCm driver reports (GPU.driver_total_bytes: the KB's
reported_memory_bytes, 79.18 GiB on an H100 80GB, else the marketed figure) less the context;
the part of each card the driver keeps is an overhead part of its own (not_reported_by_driver).
The default fraction's gpu_mem is another reading: nvidia-smi's memory.total on NVIDIA
(get_nvgpu_memory_capacity; 81,559 MiB on an H100 80GB, between the driver's total and the
marketed 81,920), which the KB does not hold, so the card's memory_bytes stands in for it (0.836
where nvidia-smi's figure gives 0.835 on an H100 at TP 1); on AMD torch's total_memory
(get_amdgpu_memory_capacity), the driver's total (sglang_capacity_mib).

What lives outside the pool (sglang_outside_pool_bytes): SGLang sizes the pool to fill
mem_fraction_static and sets nothing aside for the rest itself; what it allocates afterwards
comes from the remaining (1 - mem_fraction_static) x total_gpu_memory: the attention backend's
buffers (reserved_mem's constant 512 MiB), the CUDA graphs it captures right after the pool
(reserved_mem's 2 MiB a graph batch, up to cuda_graph_max_bs) and the activations of one
chunked-prefill step (chunked_prefill_size tokens, sized from the model's shape as vLLM's
forward pass is: advisor.sizing.vllm_memory.vllm_forward_peak_bytes; reserved_mem's own 1.5 MiB a
token is a generous pad for any model). When the remainder is smaller, SGLang fills the pool and
then fails to capture its graphs ("Capture cuda graph failed ... set --mem-fraction-static to a
smaller value", python/sglang/srt/model_executor/cuda_graph_runner.py) or runs out of memory at
the first long prompt: sglang_share_problem says so, and sglang_max_mem_fraction gives the
largest share that still leaves that much. At --mem-fraction-static 1 nothing is left, whatever
the model.

All sizes are bytes unless named MiB; pure functions, no I/O.
"""
from __future__ import annotations

import math

from advisor.errors import AdvisorError
from advisor.kb.schema import GPU, Architecture
from advisor.sizing import constants as c
from advisor.text import exact_number


def sglang_capacity_mib(gpu: GPU | None) -> float | None:
    """gpu_mem, MiB, as SGLang reads it for its memory defaults (get_device_memory_capacity):
    nvidia-smi's memory.total on NVIDIA, for which the card's memory (GPU.usable_memory_bytes)
    stands in; torch's total_memory on AMD, the driver's total (GPU.driver_total_bytes). None
    for an unknown card."""
    if gpu is None:
        return None
    total = gpu.driver_total_bytes if gpu.vendor == "amd" else gpu.usable_memory_bytes
    return total / c.MIB


def sglang_gpu_defaults(gpu_mem_mib: float | None, tensor_parallel: int = 1) -> tuple[int, int]:
    """(chunked_prefill_size, cuda_graph_max_bs) SGLang picks for a card of gpu_mem_mib MiB at
    this TP size (constants.SGLANG_GPU_MEMORY_DEFAULTS); unknown memory: (4096, 160)."""
    if gpu_mem_mib is None:
        return 4096, 160
    for below, chunk, bs_small, bs_large in c.SGLANG_GPU_MEMORY_DEFAULTS:
        if gpu_mem_mib < below:
            return chunk, bs_small if tensor_parallel < 4 else bs_large
    return c.SGLANG_LARGE_GPU_DEFAULTS


def sglang_reserved_mib(gpu_mem_mib: float | None, tensor_parallel: int = 1,
                        pipeline_parallel: int = 1, dp_attention: int = 1) -> float:
    """MiB SGLang's default heuristic keeps outside mem_fraction_static (module docstring).
    dp_attention: --dp-size with --enable-dp-attention (1: off), which reserves 3 MiB more a
    graph batch a DP rank, and 1.5 more above 300 graph batches (padding and allocator slack,
    as its comments say)."""
    chunk, graph_bs = sglang_gpu_defaults(gpu_mem_mib, tensor_parallel)
    reserved = (c.SGLANG_RESERVED_BASE_MIB
                + c.SGLANG_RESERVED_MIB_PER_PREFILL_TOKEN * max(chunk, c.SGLANG_RESERVED_MIN_PREFILL_TOKENS)
                + c.SGLANG_RESERVED_MIB_PER_GRAPH_BATCH * graph_bs
                + tensor_parallel * pipeline_parallel / 8 * c.SGLANG_RESERVED_MIB_PER_EIGHTH_RANK)
    if dp_attention > 1:
        reserved += c.SGLANG_DP_ATTENTION_MIB_PER_GRAPH_BATCH * graph_bs * dp_attention
        if graph_bs > c.SGLANG_DP_ATTENTION_LARGE_GRAPH_BS:
            reserved += c.SGLANG_DP_ATTENTION_LARGE_MIB_PER_GRAPH_BATCH * graph_bs * dp_attention
    if gpu_mem_mib is not None and gpu_mem_mib > c.SGLANG_RESERVED_FLOOR_ABOVE_MIB:
        reserved = max(reserved, c.SGLANG_RESERVED_FLOOR_MIB)
    return reserved


def sglang_default_mem_fraction(gpu: GPU | None, tensor_parallel: int = 1,
                                pipeline_parallel: int = 1, dp_attention: int = 1) -> float:
    """The --mem-fraction-static SGLang chooses when none is given: round((gpu_mem -
    reserved_mem) / gpu_mem, 3) with gpu_mem the card's memory in MiB (sglang_capacity_mib);
    0.88 for an unknown card."""
    mib = sglang_capacity_mib(gpu)
    if mib is None:
        return c.SGLANG_FALLBACK_MEM_FRACTION
    reserved = sglang_reserved_mib(mib, tensor_parallel, pipeline_parallel, dp_attention)
    return round((mib - reserved) / mib, 3)


def sglang_mem_fraction(gpu: GPU | None, tensor_parallel: int = 1, pipeline_parallel: int = 1,
                        asked: float | None = None, dp_attention: int = 1) -> float:
    """The fraction in force: the user's --mem-fraction-static, else SGLang's default.
    AdvisorError for a value outside (0, 1]."""
    if asked is None:
        return sglang_default_mem_fraction(gpu, tensor_parallel, pipeline_parallel, dp_attention)
    if not 0 < asked <= 1:  # also refuses nan
        raise AdvisorError(f"--mem-fraction-static is SGLang's share of each GPU for weights and "
                           f"KV cache, above 0 and at most 1, not {asked}")
    return asked


def sglang_outside_pool_bytes(a: Architecture, gpu: GPU | None, tensor_parallel: int = 1) -> int:
    """Bytes SGLang allocates on each GPU outside its static pool once the pool is sized (module
    docstring): the attention backend's buffers, the CUDA graphs up to the card's
    cuda_graph_max_bs and one chunked-prefill step's activations of this model on a rank of
    `tensor_parallel` (chunked_prefill_size: sglang_gpu_defaults)."""
    from advisor.sizing.vllm_memory import vllm_forward_peak_bytes

    chunk, graph_bs = sglang_gpu_defaults(sglang_capacity_mib(gpu), tensor_parallel)
    mib = c.SGLANG_RESERVED_BASE_MIB + c.SGLANG_RESERVED_MIB_PER_GRAPH_BATCH * graph_bs
    return int(mib * c.MIB) + vllm_forward_peak_bytes(a, tensor_parallel, chunk)


def sglang_max_mem_fraction(a: Architecture, gpu: GPU, tensor_parallel: int = 1,
                            pipeline_parallel: int = 1) -> float:
    """The largest --mem-fraction-static (floored to 0.001, SGLang's own rounding) whose
    remainder, (1 - f) x total_gpu_memory, holds what SGLang allocates outside the pool
    (sglang_outside_pool_bytes)."""
    total = sglang_start_free_bytes(gpu, tensor_parallel * pipeline_parallel)
    return math.floor((1 - sglang_outside_pool_bytes(a, gpu, tensor_parallel) / total) * 1000) / 1000


def sglang_share_problem(a: Architecture, gpu: GPU | None, mem_fraction_static: float | None,
                         tensor_parallel: int = 1, pipeline_parallel: int = 1) -> str | None:
    """Why SGLang cannot start with this --mem-fraction-static on `gpu`, in one line, or None:
    the share leaves less of each GPU than SGLang allocates outside its pool (module
    docstring). None when no share is asked (SGLang's default leaves its own reserve) or the
    card is unknown."""
    if mem_fraction_static is None or gpu is None:
        return None
    ranks = tensor_parallel * pipeline_parallel
    total = sglang_start_free_bytes(gpu, ranks)
    left = (1 - mem_fraction_static) * total
    need = sglang_outside_pool_bytes(a, gpu, tensor_parallel)
    if left >= need:
        return None
    chunk, graph_bs = sglang_gpu_defaults(sglang_capacity_mib(gpu), tensor_parallel)
    best = sglang_max_mem_fraction(a, gpu, tensor_parallel, pipeline_parallel)
    return (f"--mem-fraction-static {exact_number(mem_fraction_static)} leaves {left / c.GIB:.2f} GiB of each "
            f"{gpu.name} outside SGLang's static pool (weights and KV cache), and SGLang needs "
            f"about {need / c.GIB:.2f} GiB there (the attention backend's buffers, CUDA graphs up "
            f"to batch {graph_bs}, one {chunk:,}-token prefill chunk): it fills the pool, then runs "
            "out of memory capturing its CUDA graphs at start (\"Capture cuda graph failed ... "
            "set --mem-fraction-static to a smaller value\") or at the first long prompt; use "
            f"at most {best:g} (SGLang's default here: "
            f"{sglang_default_mem_fraction(gpu, tensor_parallel, pipeline_parallel):g})")


def sglang_start_free_bytes(gpu: GPU, ranks: int = 1) -> int:
    """total_gpu_memory a rank, bytes: the total the driver reports for the card
    (GPU.driver_total_bytes) less the CUDA/HIP context and, with more than one rank, the
    communication buffers set up before SGLang reads it."""
    comm = c.SGLANG_COMM_BYTES if ranks > 1 else 0
    return gpu.free_at_start_bytes - c.RUNTIME_RESERVED_BYTES_PER_GPU - comm


def check_sglang_tensor_parallel(a: Architecture, tensor_parallel: int) -> None:
    """AdvisorError unless --tp-size splits the model as SGLang's parallel linear layers need:
    the attention heads (and the KV heads, or TP a multiple of them, which are then
    replicated) in equal shares."""
    tp = tensor_parallel
    if tp < 1:
        raise AdvisorError(f"SGLang's --tp-size must be at least 1, not {tp}")
    kv_ok = a.kv_heads % tp == 0 or tp % a.kv_heads == 0
    if a.attention_heads % tp or not kv_ok:
        raise AdvisorError(f"SGLang's --tp-size {tp} does not split the {a.attention_heads} "
                           f"attention heads and {a.kv_heads} KV heads evenly: use a TP size "
                           "that divides them (the rest of the GPUs as --pp-size stages)")


def sglang_cell_bytes(a: Architecture, kv_dtype: str = "bf16", tensor_parallel: int = 1) -> int:
    """cell_size: KV bytes of one token on one rank over every layer with a KV cache (module
    docstring). AdvisorError for a KV precision SGLang does not offer."""
    from advisor.sizing.kv_cache import (attention_layer_count, is_mla, kv_heads_per_gpu,
                                         kv_row_bytes_per_token_layer)

    if kv_dtype not in c.RUNTIME_KV_DTYPES["sglang"]:
        raise AdvisorError(f"SGLang has no {kv_dtype} KV cache (its --kv-cache-dtype: auto, "
                           "fp8_e4m3, fp8_e5m2)")
    layers = attention_layer_count(a)
    heads = None if is_mla(a) else kv_heads_per_gpu(a, tensor_parallel)
    cell = layers * kv_row_bytes_per_token_layer(a, kv_dtype, heads)
    if a.index_head_dim:  # NSA indexer key: FP8 values and an fp32 scale a 128
        d = a.index_head_dim
        cell += layers * (d + d // c.VLLM_FP8_SCALE_BLOCK * c.VLLM_FP8_SCALE_BYTES)
    return cell


def sglang_max_total_num_tokens(a: Architecture, gpu: GPU, weights_rank_bytes: int,
                                kv_dtype: str = "bf16", tensor_parallel: int = 1,
                                pipeline_parallel: int = 1,
                                mem_fraction_static: float | None = None,
                                dp_attention: int = 1) -> int:
    """max_total_num_tokens SGLang logs for this model on this card: the KV pool's slots a rank
    (module docstring), weights_rank_bytes being one rank's share of the weights. 0 or less:
    SGLang stops at start with "Not enough memory. Please try to increase
    --mem-fraction-static". AdvisorError for a TP size that does not split the heads
    (check_sglang_tensor_parallel). dp_attention: the --dp-size of --enable-dp-attention
    (1: off): attention, and its KV heads, are split over tensor_parallel / dp_attention GPUs
    (get_attention_tp_size)."""
    attention_tp = tensor_parallel // max(dp_attention, 1)
    check_sglang_tensor_parallel(a, attention_tp)
    ranks = tensor_parallel * pipeline_parallel
    f = sglang_mem_fraction(gpu, tensor_parallel, pipeline_parallel, mem_fraction_static,
                            dp_attention)
    total = sglang_start_free_bytes(gpu, ranks)
    rest = (total - weights_rank_bytes) - total * (1 - f)
    cell = sglang_cell_bytes(a, kv_dtype, attention_tp)
    if pipeline_parallel > 1:  # each stage caches its own layers
        cell = -(-cell // pipeline_parallel)
    return int(rest) // cell


def sglang_overhead_parts(gpu: GPU | None, gpus: int, tensor_parallel: int = 1,
                          pipeline_parallel: int = 1,
                          mem_fraction_static: float | None = None, dp_attention: int = 1,
                          ranks: int | None = None) -> dict[str, int]:
    """SGLang's memory besides weights and KV cache over all `gpus` GPUs, by part: the device
    context, the communication buffers (more than one rank), and the share mem_fraction_static
    leaves to activations and CUDA graphs, (1 - f) x total_gpu_memory a GPU, and where the KB
    has the card's driver-reported total, what the driver keeps of each GPU
    (not_reported_by_driver). weights + KV fit in f x total_gpu_memory a GPU exactly when
    weights + KV + these parts fit the cards.
    dp_attention: the --dp-size of --enable-dp-attention (1: off); ranks: GPUs in the process
    group (default TP x PP)."""
    f = sglang_mem_fraction(gpu, tensor_parallel, pipeline_parallel, mem_fraction_static,
                            dp_attention)
    ranks = tensor_parallel * pipeline_parallel if ranks is None else ranks
    comm = c.SGLANG_COMM_BYTES if ranks > 1 else 0
    if gpu is None:
        return {"device_context": gpus * c.RUNTIME_RESERVED_BYTES_PER_GPU,
                "communication": gpus * comm, "mem_fraction_static_reserve": 0}
    total = sglang_start_free_bytes(gpu, ranks)
    reserve = math.ceil((1 - f) * total)
    from advisor.sizing.runtime import with_unreported_memory

    return with_unreported_memory({"device_context": gpus * c.RUNTIME_RESERVED_BYTES_PER_GPU,
                                   "communication": gpus * comm,
                                   "mem_fraction_static_reserve": gpus * reserve}, gpu, gpus)
