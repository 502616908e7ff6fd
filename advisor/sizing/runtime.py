"""What each runtime allocates besides weights and KV cache (runtime profiles).

- llama.cpp: on every GPU that holds layers, the CUDA/ROCm context and the compute buffer of one
  micro-batch (advisor.sizing.overhead).
- vLLM: on every GPU, the non-torch memory (cuBLAS, NCCL) and the activation peak its profiler
  measures, per rank, from the model's shape and the profiling batch of the vLLM version
  assumed (V1's scheduler defaults on that GPU, or V0's for the context;
  advisor.sizing.vllm_memory); and it only ever uses gpu_memory_utilization of a GPU. That
  reserve is sized as (1 - u) / u of everything else, so "everything else <= u x memory" holds
  exactly when the total fits the memory; the CUDA context and CUDA graphs live in it.
- transformers: the CUDA context and the activations of one prefill forward pass.
- MLX (mlx-lm): the Metal device's share (the same reserve as the others, not measured for MLX)
  and the activations of one prefill chunk: mlx_lm.generate processes the prompt
  prefill_step_size (2,048) tokens at a time (generate_step, mlx_lm/generate.py at
  ml-explore/mlx-lm d78bf58e217c904ec282ed8da9b947491f78c022), with fused attention
  (mx.fast.scaled_dot_product_attention) that keeps no score matrix.
- SGLang: weights and its KV token pool share --mem-fraction-static of what is free on each GPU
  at start; the CUDA context, the communication buffers and the rest, 1 - mem_fraction_static,
  which holds prefill activations and CUDA graphs (advisor.sizing.sglang_memory).
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
from advisor.errors import AdvisorError
from advisor.kb.schema import GPU, Architecture
from advisor.sizing import constants as c
from advisor.sizing.overhead import compute_buffer_bytes
from advisor.sizing.vllm_memory import (VLLM_VERSIONS, unreported_memory_bytes,
                                        vllm_profile_batch, vllm_rank_overhead,
                                        vllm_tensor_parallel_size, vllm_utilization_reserve)

RUNTIMES = ("llama.cpp", "ollama", "vllm", "transformers", "mlx", "sglang")


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise AdvisorError(f"unknown runtime '{runtime}' (known: {', '.join(RUNTIMES)})")


def prefill_activation_bytes(a: Architecture, prompt_tokens: int, batch: int) -> int:
    """transformers: the largest live tensors of a prefill forward pass: the MLP's gate and up
    outputs and their product (3 x ffn) and the residual stream and attention output (2 x hidden)
    in 16-bit, for every prompt token, plus fp32 logits of each sequence's last token."""
    ffn = a.expert_ffn_size or a.ffn_size
    return prompt_tokens * batch * (3 * ffn + 2 * a.hidden_size) * 2 + batch * a.vocab_size * 4


def llamacpp_compute_phases(a: Architecture, context_tokens: int,
                            flash_attn: bool = True,
                            ubatch: int = c.COMPUTE_UBATCH_TOKENS) -> dict[str, int]:
    """Bytes alive at once in each phase of llama.cpp's graph for one micro-batch of n_ubatch
    (512) tokens over `context_tokens` padded cells; ggml's allocator reuses freed memory, so the
    compute buffer is the largest phase (llamacpp_compute_buffer_bytes). Phases and their
    tensors are those of constants.LLAMACPP_* (build 0c1e570's src/llama-graph.cpp):
    output = f32 logits + final hidden state; attention = KQ mask (f16 with flash attention,
    f32 without) + without flash attention the f32 scores of every query head + the layer's
    working set; ffn = KQ mask + residual + gate, up and their product."""
    u, f32 = ubatch, c.LLAMACPP_ACTIVATION_BYTES
    cells = -(-context_tokens // c.LLAMACPP_KV_PAD_TOKENS) * c.LLAMACPP_KV_PAD_TOKENS
    mask = cells * u * (c.LLAMACPP_KQ_MASK_BYTES if flash_attn else c.LLAMACPP_KQ_MASK_BYTES_NO_FA)
    q_dim = a.attention_heads * a.head_dim
    kv_dim = a.kv_heads * a.head_dim
    nh, nq, nkv = c.LLAMACPP_ATTN_WORKING_VECTORS
    working = u * f32 * (nh * a.hidden_size + nq * q_dim + nkv * kv_dim)
    scores = 0 if flash_attn else cells * u * a.attention_heads * c.LLAMACPP_KQ_SCORE_BYTES
    ffn = a.ffn_size
    if a.experts_total and a.experts_active:  # gate/up/product of every routed expert a token
        ffn = max(ffn, (a.expert_ffn_size or a.ffn_size) * a.experts_active)
    return {"output": compute_buffer_bytes(a, u),
            "attention": mask + scores + working,
            "ffn": mask + u * f32 * (a.hidden_size + 3 * ffn)}


def llamacpp_compute_buffer_bytes(a: Architecture, context_tokens: int, flash_attn: bool = True,
                                  ubatch: int = c.COMPUTE_UBATCH_TOKENS) -> int:
    """One micro-batch's compute buffer, bytes on each GPU that holds layers: the largest of
    llamacpp_compute_phases. Measured on llama.cpp 0c1e570 (H200, Llama 3.1 8B shapes,
    benchmarks/measured/h200-llamacpp-2026-11-30): 258.50 MiB at 8K-131K with flash attention
    (the output phase), 564.01 / 2148.01 / 8484.01 MiB at 8K / 32K / 131K without (the
    attention phase's f32 scores); this gives 258.50 and 564.00 / 2148.00 / 8484.00.
    llama.cpp issue 9352 (70B, 131,072, -fa off, an older build): 16.80 GiB logged, 16.32 here."""
    return max(llamacpp_compute_phases(a, context_tokens, flash_attn, ubatch).values())


def llamacpp_device_context_bytes(gpu: GPU | None) -> int:
    """The CUDA/ROCm context and libraries llama.cpp's process holds on a GPU besides its buffers:
    measured on Hopper (constants.LLAMACPP_DEVICE_CONTEXT_BYTES), Ollama's 457 MiB elsewhere."""
    if gpu is not None and gpu.vendor == "nvidia":
        return c.LLAMACPP_DEVICE_CONTEXT_BYTES.get(gpu.architecture, c.RUNTIME_RESERVED_BYTES_PER_GPU)
    return c.RUNTIME_RESERVED_BYTES_PER_GPU


def overhead_parts(a: Architecture, runtime: str, gpus: int, prompt_tokens: int, batch: int,
                   weights_bytes: int, kv_bytes: int, context_tokens: int = 0,
                   gpu: GPU | None = None,
                   gpu_memory_utilization: float = c.VLLM_GPU_MEMORY_UTILIZATION,
                   flash_attn: bool = True,
                   vllm_version: str = c.VLLM_DEFAULT_VERSION,
                   mem_fraction_static: float | None = None,
                   ubatch: int | None = None) -> dict[str, int]:
    """Overhead bytes over all `gpus` GPUs, by part. ubatch: llama.cpp's and Ollama's
    micro-batch when the caller knows it (Ollama on a set of unequal cards picks its automatic
    batch from the whole set: advisor.sizing.mixed); else llama.cpp's 512, or Ollama's
    automatic batch for `gpus` x `gpu`. SGLang keeps 1 - mem_fraction_static of
    each GPU (None: its default for the card and TP size) outside weights and KV cache. vLLM profiles the batch of vllm_version
    (vllm_profile_batch: V1 sizes it by the GPU, None being a card under 70 GiB; V0 by the
    context, its max_model_len) and keeps gpu_memory_utilization of each GPU; flash_attn is
    llama.cpp's -fa."""
    check_runtime(runtime)
    if runtime in GGML_RUNTIMES:
        u = c.COMPUTE_UBATCH_TOKENS if ubatch is None else ubatch
        if runtime == "ollama" and gpu is not None and ubatch is None:  # its automatic num_batch
            from advisor.sizing.ollama import automatic_ubatch

            u = automatic_ubatch(a, context_tokens * batch, weights_bytes, gpu, gpus, flash_attn)
        return {"device_context": gpus * llamacpp_device_context_bytes(gpu),
                "compute_buffer": gpus * llamacpp_compute_buffer_bytes(a, context_tokens, flash_attn, u)}
    if runtime == "vllm":
        batch = vllm_profile_batch(gpu, context_tokens, vllm_version)
        rank = vllm_rank_overhead(a, gpus, batch, version=vllm_version)
        parts = {k: gpus * v for k, v in rank.items()}
        used = weights_bytes + kv_bytes + sum(parts.values())
        parts["gpu_memory_utilization_reserve"] = vllm_utilization_reserve(used, gpu_memory_utilization)
        return with_unreported_memory(parts, gpu, gpus)
    if runtime == "sglang":
        from advisor.sizing.sglang_memory import sglang_overhead_parts

        tp = vllm_tensor_parallel_size(a, gpus) if gpus > 1 else 1
        return sglang_overhead_parts(gpu, gpus, tp, gpus // tp, mem_fraction_static)
    if runtime == "mlx":
        chunk = min(max(prompt_tokens, 1), c.MLX_PREFILL_STEP_TOKENS)
        return {"device_context": gpus * c.RUNTIME_RESERVED_BYTES_PER_GPU,
                "activations": prefill_activation_bytes(a, chunk, batch)}
    return {"device_context": gpus * c.RUNTIME_RESERVED_BYTES_PER_GPU,
            "activations": prefill_activation_bytes(a, prompt_tokens, batch)}


def with_unreported_memory(parts: dict[str, int], gpu: GPU | None, gpus: int) -> dict[str, int]:
    """vLLM's or SGLang's overhead parts with, where the KB has the card's driver-reported total,
    the memory of each GPU the driver keeps (unreported_memory_bytes) as a part of its own:
    they budget from the reported total, so parts + weights + KV fit the cards' marketed
    memory exactly when they fit what the driver reports."""
    hidden = unreported_memory_bytes(gpu)
    if hidden > 0:
        parts["not_reported_by_driver"] = gpus * hidden
    return parts


_DRIVER = {"nvidia": "CUDA driver", "amd": "ROCm driver"}


def driver_total_note(runtime_name: str, gpu: GPU | None) -> str | None:
    """Which total `runtime_name` (vLLM, SGLang) budgets from on this card: the one its driver
    reports where the KB has it (GPU.reported_memory_bytes), else, said as an assumption, the
    marketed figure. None for an unknown card and a unified-memory one (whose share is macOS's
    or the SoC's, GPU.gpu_memory_share)."""
    if gpu is None or gpu.unified_memory:
        return None
    driver = _DRIVER.get(gpu.vendor, "driver")
    marketed = gpu.usable_memory_bytes / c.GIB
    if gpu.reported_memory_bytes is not None:
        total = gpu.driver_total_bytes / c.GIB
        return (f"{runtime_name} takes its share of the {total:.2f} GiB the {driver} reports for "
                "each of these cards (torch.cuda.mem_get_info, as public logs print it), not of "
                f"the {marketed:.2f} GiB they have: the driver keeps {marketed - total:.2f} GiB a GPU")
    return (f"{runtime_name} takes its share of the total the {driver} reports, which the KB does "
            f"not have for this card: its {marketed:.2f} GiB are assumed, an overstatement "
            "(drivers report 1-8% less on the cards sourced: an H100 80GB 79.18 GiB)")


# How each vendor's GPU runtime context and captured graphs are called.
_CONTEXT = {"nvidia": "CUDA context", "amd": "HIP context", "apple": "Metal device",
            "intel": "SYCL context"}
_GRAPHS = {"nvidia": "CUDA graphs", "amd": "HIP graphs"}


def runtime_assumptions(runtime: str, gpus: int, vendor: str = "nvidia", a: Architecture | None = None,
                        gpu: GPU | None = None,
                        gpu_memory_utilization: float = c.VLLM_GPU_MEMORY_UTILIZATION,
                        flash_attn: bool = True,
                        vllm_version: str = c.VLLM_DEFAULT_VERSION,
                        context_tokens: int = 0, layout=None,
                        mem_fraction_static: float | None = None) -> list[str]:
    """What the overhead assumes, in the words of the vendor's stack (no CUDA on a Mac).
    layout: vLLM's data/expert-parallel layout (advisor.sizing.vllm_parallel.VllmLayout), if
    asked: each GPU is a rank of its tensor-parallel size."""
    where = "as measured" if vendor == "nvidia" else "measured on NVIDIA, assumed the same here"
    ctx = _CONTEXT.get(vendor, "device context")
    if runtime in GGML_RUNTIMES:
        if flash_attn:
            attn = ("the largest of the f32 logits and hidden state, and the f16 attention mask "
                    "over the context with a layer's activations) a GPU, flash attention on")
        else:
            attn = ("the f32 attention scores of every query head over the context, its f32 mask "
                    "and a layer's activations, or the f32 logits where larger) a GPU, flash "
                    "attention off (`-fa off`)")
        dev = llamacpp_device_context_bytes(gpu)
        src = ("measured by llama.cpp on an H200, CUDA 13" if dev != c.RUNTIME_RESERVED_BYTES_PER_GPU
               else where)
        if runtime == "ollama":
            attn = attn.replace("`-fa off`", "OLLAMA_FLASH_ATTENTION=0")
            return [f"Ollama's llama-server: {dev // c.MIB} MiB {ctx} and libraries ({src}) and "
                    "the compute buffer of Ollama's automatic num_batch (512 tokens; 1,024 above "
                    "4,096 tokens of context and 2,048 above 32,768 where its estimate leaves "
                    f"room) ({attn}"]
        return [f"llama.cpp: {dev // c.MIB} MiB {ctx} and libraries ({src}) and a "
                f"{c.COMPUTE_UBATCH_TOKENS}-token compute buffer ({attn}"]
    if runtime == "vllm":
        graphs = _GRAPHS.get(vendor, "captured graphs")
        b = vllm_profile_batch(gpu, context_tokens, vllm_version)
        tp = vllm_tensor_parallel_size(a, gpus) if a is not None and gpus > 1 else 1
        dp = 1
        if layout is not None:
            tp, dp = layout.tensor_parallel, layout.data_parallel
        whose = ("the `vllm serve` defaults for this GPU" if vllm_version == "v1" else
                 "V0's defaults for this context"
                 + (" (chunked prefill, on by itself above 32K)"
                    if b.max_num_batched_tokens == c.VLLM_V0_CHUNKED_TOKENS else ""))
        out = [f"vLLM ({VLLM_VERSIONS[vllm_version]}): gpu_memory_utilization "
               f"{gpu_memory_utilization:g}; its profiling run at {whose}, "
               f"{b.max_num_batched_tokens} batched tokens and {b.max_num_seqs} sequences"]
        if a is not None:
            rank = vllm_rank_overhead(a, gpus, b, tp if layout is not None else None, dp,
                                      layout is not None and layout.expert_parallel,
                                      version=vllm_version)
            logs = ("V1 logs on NVIDIA H100" if vllm_version == "v1" else
                    "V0 logs (v0.5.3 on 8 x H100, v0.6 on H100 and RTX 3090)")
            group = ("tensor parallel " + str(tp) if tp > 1 else "") + \
                    (f"{', ' if tp > 1 else ''}data parallel {dp}" if dp > 1 else "")
            out.append(f"vLLM a rank{f' ({group})' if group else ''}: non-torch "
                       f"{rank['non_torch'] / c.GIB:.2f} GiB (cuBLAS"
                       f"{', NCCL and all-reduce buffers' if tp > 1 or dp > 1 else ''}) and activation peak "
                       f"{rank['activation_peak'] / c.GIB:.2f} GiB (the larger of the forward pass"
                       f"{', its MoE layers over the tokens of all ' + str(dp) + ' data-parallel ranks' if dp > 1 and a.experts_total else ''} "
                       "and the sampler's full-vocabulary logits a sequence), from the model's "
                       f"shape; fitted to vLLM {logs}"
                       f"{'' if vendor == 'nvidia' else ', assumed the same here'}")
        out.append(f"{ctx} and {graphs} ({c.VLLM_CUDA_GRAPH_BYTES / c.GIB:.2f} GiB measured) fit "
                   "in the share gpu_memory_utilization leaves unused")
        total = driver_total_note("vLLM", gpu)
        return out + ([total] if total else [])
    if runtime == "sglang":
        from advisor.sizing.sglang_memory import (sglang_capacity_mib, sglang_gpu_defaults,
                                                  sglang_mem_fraction)

        tp = vllm_tensor_parallel_size(a, gpus) if a is not None and gpus > 1 else 1
        pp, dp_attn = gpus // tp, 1
        if layout is not None and a is not None:
            from advisor.sizing.vllm_parallel import sglang_layout_command

            flags = sglang_layout_command(a, layout)
            tp, pp = flags["tp_size"], 1
            dp_attn = flags["dp_size"] if flags["dp_attention"] else 1
        f = sglang_mem_fraction(gpu, tp, pp, mem_fraction_static, dp_attn)
        chunk, graph_bs = sglang_gpu_defaults(sglang_capacity_mib(gpu), tp)
        whose = ("as asked" if mem_fraction_static is not None else
                 f"SGLang {c.SGLANG_VERSION}'s default for this card at TP {tp}"
                 + (f" with DP attention {dp_attn}" if dp_attn > 1 else "")
                 + f": its --chunked-prefill-size {chunk} and --cuda-graph-max-bs {graph_bs} "
                 "reserved")
        return [f"SGLang: --mem-fraction-static {f:g} ({whose}); weights and the KV token pool "
                f"share that fraction of what is free on each GPU at start, after the "
                f"{c.RUNTIME_RESERVED_BYTES_PER_GPU // c.MIB} MiB {ctx}"
                + (f" and {c.SGLANG_COMM_BYTES / c.GIB:.2f} GiB of NCCL buffers (assumed as vLLM "
                   "logs them)" if gpus > 1 else "")
                + "; prefill activations and " + _GRAPHS.get(vendor, "captured graphs")
                + " live in the rest",
                "SGLang's KV pool is one token a slot (page size 1): a request of N tokens "
                "takes N slots, so the longest request is max_total_num_tokens"] \
            + [n for n in [driver_total_note("SGLang", gpu)] if n]
    if runtime == "mlx":
        return [f"MLX (mlx-lm): {c.RUNTIME_RESERVED_BYTES_PER_GPU // c.MIB} MiB {ctx} (assumed, "
                "as for llama.cpp; not measured for MLX) and the activations of one "
                f"{c.MLX_PREFILL_STEP_TOKENS:,}-token prefill chunk (mlx_lm's prefill_step_size)"]
    return [f"transformers: {c.RUNTIME_RESERVED_BYTES_PER_GPU // c.MIB} MiB {ctx} a GPU ({where}) "
            "and one prefill forward pass of activations"]
