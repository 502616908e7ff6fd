"""vLLM's memory outside weights and KV cache, per rank, as each vLLM version profiles it.

Two profiling methods are modelled (VLLM_VERSIONS; the advisory says which one it assumes):
"v1", the V1 engine of every release since v0.8 (the default), and "0.5", the V0 engine of
v0.5.3.post1-v0.5.x, described at the end.

At start-up every vLLM worker (vllm/v1/worker/gpu_worker.py determine_available_memory, with
vllm/utils memory_profiling / MemoryProfilingResult) runs one dummy forward pass of
max_num_batched_tokens tokens, then its sampler over max_num_seqs requests, and gives the KV
cache what is left of gpu_memory_utilization x the GPU's memory:

    KV = u x memory - weights - activation peak - non-torch increase          (a rank)

"memory" is the total the CUDA/ROCm driver reports, torch.cuda.mem_get_info()[1] (vLLM logs it
as total_gpu_memory), not the card's marketed capacity: 79.18 GiB on an H100 80GB. The KB holds
it as GPU.reported_memory_bytes, with its source, for the cards a public log gives it for
(GPU.driver_total_bytes). For a card without one the marketed figure is used, as before: the
shares the cards sourced report differ too much (92.4% of an A10's 24 GiB with ECC on, 99.0% of
an H100's 80) for one fitted share to stand in, and the advisory says which it used
(advisor.sizing.runtime.driver_total_note). The part of each card the driver does not report is
an overhead part of its own (unreported_memory_bytes), outside u x memory.

- non-torch: memory allocated outside PyTorch after the start-up baseline: the cuBLAS workspace
  and, with tensor parallelism, NCCL's and the custom all-reduce buffers. The CUDA context is in
  the baseline, not in this figure.
- activation peak: the larger of the forward pass (its largest live tensors, sharded by tensor
  parallelism) and the sampler (full-vocabulary logits of every request, on every rank) with the
  forward pass's hidden states still alive.
- CUDA graphs are captured after the KV cache is allocated, in the share u leaves unused.

V0 (v0.5.x, vllm/worker/worker.py determine_num_available_blocks) reads the free memory in
init_device before NCCL is set up and again after profile_run, and gives the KV cache
u x memory minus all of the difference. Its profiling run is max_num_seqs = 256 sequences
sharing max_num_batched_tokens = max(max_model_len, 2048) tokens, or 512 when chunked prefill
is on (on by itself above a max_model_len of 32K from v0.5.3.post1), so its activation peak
follows the context asked for; its non-torch memory holds NCCL's buffers, which grow with the
tensor-parallel group. The KV blocks are the smallest any worker can hold: the driver's, which
also runs the sampler.

All sizes are bytes; every constant is in advisor/sizing/constants.py with its source.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import AdvisorError
from advisor.kb.schema import GPU, Architecture
from advisor.sizing import constants as c
from advisor.text import exact_number

# The profiling methods modelled, by the vLLM releases that use them (what advisories say).
VLLM_VERSIONS = {
    "v1": "V1 engine, releases since 0.8",
    "0.5": "V0 engine as in 0.5.3.post1-0.5.x",
}


def check_vllm_version(version: str) -> None:
    """AdvisorError unless `version` is one of VLLM_VERSIONS."""
    if version not in VLLM_VERSIONS:
        raise AdvisorError(f"unknown vLLM version '{version}' (known: {', '.join(VLLM_VERSIONS)})")


@dataclass(frozen=True)
class VllmBatch:
    """The scheduler limits the profiling run uses: --max-num-batched-tokens and --max-num-seqs."""
    max_num_batched_tokens: int
    max_num_seqs: int


def unreported_memory_bytes(gpu: GPU | None) -> int:
    """Bytes of one GPU its driver does not report (GPU.usable_memory_bytes less
    GPU.driver_total_bytes): vLLM and SGLang size everything from the reported total, so this
    much of each card is beyond their reach. 0 for an unknown card or one without a reported
    total in the KB."""
    if gpu is None:
        return 0
    # a unified-memory part reports more than is free for its GPU (DGX Spark): none unreported
    return max(0, gpu.usable_memory_bytes - gpu.driver_total_bytes)


def vllm_default_batch(gpu: GPU | None) -> VllmBatch:
    """`vllm serve`'s defaults on this GPU (V1 engine, usage context OPENAI_API_SERVER):
    8192 tokens and 1024 sequences on a card of at least 70 GiB that is not an A100, else 2048
    and 256 (vllm/engine/arg_utils.py get_batch_defaults, which reads the total torch reports:
    GPU.driver_total_bytes). Unknown GPU: the smaller pair."""
    if gpu is not None and gpu.driver_total_bytes >= c.VLLM_LARGE_GPU_BYTES \
            and "a100" not in gpu.name.lower():
        return VllmBatch(*c.VLLM_BATCH_DEFAULTS_LARGE_GPU)
    return VllmBatch(*c.VLLM_BATCH_DEFAULTS)


def vllm_tensor_parallel_size(a: Architecture, gpus: int) -> int:
    """The largest tensor-parallel size inside a node that divides the attention heads and the
    GPU count and either divides the KV heads or is a multiple of them (vLLM and SGLang then
    replicate each KV head over tp / kv_heads ranks: Qwen3 235B's 4 KV heads run at TP 8, as
    its model card serves it); the rest of the count becomes pipeline stages
    (advisor.sizing.parallel)."""
    return max(n for n in range(1, min(gpus, c.GPUS_PER_NODE) + 1)
               if a.attention_heads % n == 0 and splits_kv_heads(a, n) and gpus % n == 0)


def splits_kv_heads(a: Architecture, tp: int) -> bool:
    """Whether tensor parallel `tp` shards (or replicates evenly) the KV heads: tp divides them,
    or they divide tp (vLLM's and SGLang's rule; vllm_parallel.layout_problem)."""
    return a.kv_heads % tp == 0 or tp % a.kv_heads == 0


def vllm_v0_batch(max_model_len: int) -> VllmBatch:
    """The V0 (v0.5.x) profiling batch for a max_model_len (tokens): 256 sequences and
    max(max_model_len, 2048) batched tokens, or 512 with the chunked prefill v0.5.3.post1 turns
    on above 32K tokens (vllm/config.py SchedulerConfig; vllm/engine/arg_utils.py, PR 6666)."""
    if max_model_len > c.VLLM_V0_LONG_CONTEXT_TOKENS:
        return VllmBatch(c.VLLM_V0_CHUNKED_TOKENS, c.VLLM_V0_MAX_NUM_SEQS)
    return VllmBatch(max(max_model_len, c.VLLM_V0_MIN_BATCHED_TOKENS), c.VLLM_V0_MAX_NUM_SEQS)


def vllm_non_torch_bytes(tensor_parallel: int, version: str = c.VLLM_DEFAULT_VERSION) -> int:
    """Non-torch memory a rank, bytes, as `version` counts it.

    v1: the cuBLAS workspace and allocations outside PyTorch after V1's baseline (0.13 GiB, V1
    logs at TP=1), plus NCCL's and the custom all-reduce buffers when tensor_parallel > 1
    (0.42 GiB more at TP=2; assumed the same at larger TP).
    0.5: everything outside PyTorch since the worker's first free-memory reading (0.35 GiB at
    TP=1, a v0.6.4 log), plus NCCL's buffers when tensor_parallel > 1: 1.683 GiB with the group
    and 0.107 GiB for each other rank (fitted to V0 logs at TP=2 and, of vLLM 0.5.3 on 8 x H100
    with the 16-KV-head 405B FP8 checkpoint of July 2024, at TP=8: constants)."""
    check_vllm_version(version)
    if version == "0.5":
        comm = (c.VLLM_V0_TP_COMM_GROUP_BYTES + (tensor_parallel - 1) * c.VLLM_V0_TP_COMM_BYTES_PER_PEER
                if tensor_parallel > 1 else 0)
        return c.VLLM_V0_NON_TORCH_BYTES + comm
    comm = c.VLLM_TP_COMM_BYTES if tensor_parallel > 1 else 0
    return c.VLLM_NON_TORCH_BYTES + comm


def vllm_forward_bytes_per_token(a: Architecture, tensor_parallel: int) -> int:
    """Bytes a token at the forward pass's peak, in the 16-bit activation dtype: the residual and
    the normalised hidden state (2 x hidden, replicated on every rank) and the MLP's gate/up
    output and activated product (3 x its intermediate size / TP). A mixture-of-experts layer's
    fused kernel holds, per routed expert a token, the gate/up and activated outputs (3 x
    expert_ffn / TP) and the expert's output row (hidden) (vLLM fused_moe intermediate caches)."""
    tp = tensor_parallel
    if a.experts_total:
        ffn = a.expert_ffn_size or a.ffn_size
        k = (a.experts_active or 1) + a.experts_shared
        per_layer = k * (3 * ffn // tp + a.hidden_size)
        if a.dense_layers or a.moe_layer_step > 1:  # some layers are dense, with ffn_size
            per_layer = max(per_layer, 3 * a.ffn_size // tp)
    else:
        per_layer = 3 * a.ffn_size // tp
    return c.VLLM_ACTIVATION_BYTES * (2 * a.hidden_size + per_layer)


def vllm_forward_peak_bytes(a: Architecture, tensor_parallel: int, tokens: int) -> int:
    """The profiling forward pass of `tokens` tokens (max_num_batched_tokens), a rank."""
    return tokens * vllm_forward_bytes_per_token(a, tensor_parallel)


def vllm_sampler_peak_bytes(a: Architecture, batch: VllmBatch) -> int:
    """The sampler's dummy run: full-vocabulary logits of min(max_num_seqs,
    max_num_batched_tokens) requests and what sampling derives from them (fp32 copies, the
    top-k/top-p sort's values and int64 indices, probabilities), on every rank, plus the forward
    pass's hidden states, still alive."""
    reqs = min(batch.max_num_seqs, batch.max_num_batched_tokens)
    logits = int(reqs * a.vocab_size * c.VLLM_SAMPLER_BYTES_PER_LOGIT)
    hidden = batch.max_num_batched_tokens * a.hidden_size * c.VLLM_ACTIVATION_BYTES
    return logits + hidden


def vllm_moe_dispatch_peak_bytes(a: Architecture, data_parallel: int, moe_tensor_parallel: int,
                                 tokens: int) -> int:
    """A mixture-of-experts layer's peak under data parallel (DP > 1): the hidden states of all
    DP ranks' `tokens` each, gathered on every rank and the layer's output for all of them
    (2 x DP x tokens x hidden), and the fused-experts intermediate caches of one chunk of
    min(DP x tokens, VLLM_FUSED_MOE_CHUNK_TOKENS) tokens (as vllm_forward_bytes_per_token's
    MoE term, at the MoE layer's own tensor parallelism: 1 with expert parallel, DP x TP
    without). 0 for a dense model or DP 1."""
    if data_parallel <= 1 or not a.experts_total:
        return 0
    gathered = data_parallel * tokens
    chunk = min(gathered, c.VLLM_FUSED_MOE_CHUNK_TOKENS)
    ffn = a.expert_ffn_size or a.ffn_size
    k = (a.experts_active or 1) + a.experts_shared
    per_token = k * (3 * ffn // moe_tensor_parallel + a.hidden_size)
    return c.VLLM_ACTIVATION_BYTES * (chunk * per_token + 2 * gathered * a.hidden_size)


def vllm_activation_peak_bytes(a: Architecture, tensor_parallel: int, batch: VllmBatch,
                               data_parallel: int = 1, expert_parallel: bool = False) -> int:
    """"PyTorch activation peak memory" a rank: the larger of the forward pass (under data
    parallel, with the MoE dispatch's gathered tokens: vllm_moe_dispatch_peak_bytes) and the
    sampler."""
    moe_tp = 1 if expert_parallel else data_parallel * tensor_parallel
    return max(vllm_forward_peak_bytes(a, tensor_parallel, batch.max_num_batched_tokens),
               vllm_moe_dispatch_peak_bytes(a, data_parallel, moe_tp, batch.max_num_batched_tokens),
               vllm_sampler_peak_bytes(a, batch))


def vllm_profile_batch(gpu: GPU | None, max_model_len: int,
                       version: str = c.VLLM_DEFAULT_VERSION) -> VllmBatch:
    """The batch `version` profiles with: V1's `vllm serve` defaults for the card
    (vllm_default_batch), or V0's for the max_model_len (vllm_v0_batch)."""
    check_vllm_version(version)
    return vllm_v0_batch(max_model_len) if version == "0.5" else vllm_default_batch(gpu)


def vllm_rank_overhead(a: Architecture, gpus: int, batch: VllmBatch,
                       tensor_parallel: int | None = None, data_parallel: int = 1,
                       expert_parallel: bool = False, *,
                       version: str = c.VLLM_DEFAULT_VERSION) -> dict[str, int]:
    """Non-torch memory and the activation peak of one rank (bytes), on `gpus` GPUs, as
    `version` profiles them (the batch: vllm_profile_batch).
    tensor_parallel None: the split vLLM's plain tensor parallelism takes
    (vllm_tensor_parallel_size); given, with data_parallel (advisor.sizing.vllm_parallel), each
    GPU profiles as a rank of that TP, with the NCCL buffers of its data/expert-parallel group
    when DP > 1 (counted as TP's: VLLM_TP_COMM_BYTES, assumed)."""
    tp = tensor_parallel if tensor_parallel is not None else (
        vllm_tensor_parallel_size(a, gpus) if gpus > 1 else 1)
    comm_group = tp if data_parallel == 1 else max(tp, 2)
    return {"non_torch": vllm_non_torch_bytes(comm_group, version),
            "activation_peak": vllm_activation_peak_bytes(a, tp, batch, data_parallel,
                                                          expert_parallel)}


def vllm_max_utilization(gpu: GPU) -> float:
    """The largest --gpu-memory-utilization (a share of each GPU, floored to 0.01, never below
    vLLM's default 0.9) that still leaves what vLLM allocates outside its share: the CUDA context
    (RUNTIME_RESERVED_BYTES_PER_GPU) and the CUDA graphs it captures after the KV cache
    (VLLM_CUDA_GRAPH_BYTES). 0.95 on a 24 GB card, 0.98 on an 80 GB one. No fit margin is
    kept on top (overhead.fit_margin_bytes: what vLLM leaves outside its share is the margin).
    The share is of the total the driver reports (GPU.driver_total_bytes), as vLLM takes it."""
    outside = c.RUNTIME_RESERVED_BYTES_PER_GPU + c.VLLM_CUDA_GRAPH_BYTES
    total = gpu.driver_total_bytes
    share = (total - outside) / total
    if gpu.free_at_start_bytes < total:
        # a unified-memory part whose OS holds part of the total CUDA reports (DGX Spark: about
        # 102 of 121.69 GiB free at start): the share is of the total, the room is what is free,
        # and vLLM's default does not start there (its recipes give 0.85)
        return int((gpu.free_at_start_bytes - outside) / total * 100) / 100
    return max(c.VLLM_GPU_MEMORY_UTILIZATION, int(share * 100) / 100)


def vllm_utilization_problem(gpu: GPU | None, utilization: float,
                             version: str = c.VLLM_DEFAULT_VERSION, asked: bool = True) -> str | None:
    """Why vLLM cannot start with this --gpu-memory-utilization on `gpu`, in one line, or None.
    V1 (vllm/v1/worker/gpu_worker.py init_device) reads the device's free and total memory once
    the CUDA context is up and raises "Free memory on device ... on startup is less than desired
    GPU memory utilization" when u x total exceeds what is free: with nothing else on the card,
    when u leaves less than the CUDA context (RUNTIME_RESERVED_BYTES_PER_GPU) of the total the
    driver reports (GPU.driver_total_bytes). The V0 engine of 0.5 has no such check (it runs out
    of memory capturing CUDA graphs instead) and is not checked here. None for an unknown card.
    asked: the share is the user's (--gpu-memory-utilization U); False: vLLM's default, which
    fails on a card of less than about 5 GiB (the line says so, and names the share that
    starts)."""
    if gpu is None or version != "v1":
        return None
    total = gpu.driver_total_bytes
    free = gpu.free_at_start_bytes - c.RUNTIME_RESERVED_BYTES_PER_GPU
    if utilization * total <= free:
        return None
    best = int(free / total * 100) / 100
    who = (f"--gpu-memory-utilization {exact_number(utilization)} asks vLLM" if asked else
           f"vLLM's default --gpu-memory-utilization {exact_number(utilization)} asks")
    return (f"{who} for {utilization * total / c.GIB:.2f} "
            f"GiB of each {gpu.name}, but with its CUDA context up only {free / c.GIB:.2f} GiB of "
            f"the {total / c.GIB:.2f} GiB are free: vLLM stops at start (\"Free memory on device "
            "... on startup is less than desired GPU memory utilization\"); use at most "
            f"{best:g}, and less to leave its CUDA graphs room "
            f"({vllm_max_utilization(gpu):g} leaves them {c.VLLM_CUDA_GRAPH_BYTES / c.GIB:.2f} GiB)")


def vllm_utilization_reserve(used_bytes: int, utilization: float) -> int:
    """The share vLLM leaves unused, (1 - u) / u of what it uses, rounded up, so that
    used + reserve <= memory exactly when used <= u x memory."""
    u = int(round(utilization * 1000))
    return -(-used_bytes * (1000 - u) // u)
