"""Ollama's runtime profile: what `ollama run NAME` allocates and how it places the model, as
Ollama 0.33 does it (constants.OLLAMA_VERSION / OLLAMA_COMMIT). Pure: no I/O.

Ollama runs every GGML model with the upstream llama-server binary since v0.30.0 (its own Go
"new engine" and the CGO llama.cpp runner were removed for GGML models: ollama/ollama#16031), so
the memory of a placement is llama.cpp's (advisor.sizing.runtime, kv_cache, offload: runtime
"ollama" is one of constants.GGML_RUNTIMES). What is Ollama's own is the defaults it starts
llama-server with (llm/llama_server.go startLlamaServer):

- the context: num_ctx from the request, the Modelfile or OLLAMA_CONTEXT_LENGTH, else a tier of
  the GPUs' total VRAM (default_context), capped at the model's trained context; llama-server
  gets `-c num_ctx x OLLAMA_NUM_PARALLEL`;
- flash attention: `--flash-attn auto` where every GPU supports it, off elsewhere;
  OLLAMA_FLASH_ATTENTION=1/0 forces it (flash_attention_default);
- the KV cache: OLLAMA_KV_CACHE_TYPE (f16 | q8_0 | q4_0) as --cache-type-k/-v; llama.cpp
  quantizes the V cache only with flash attention on;
- the layers on the GPU: no -ngl unless num_gpu is set, so llama-server fits as many layers as
  the GPUs hold with its per-device margin (constants.FIT_MARGIN_BYTES_PER_GPU) and runs the
  rest from system RAM: Ollama offloads rather than failing with out-of-memory
  (auto_gpu_layers, advisor.sizing.offload.plan_offload).
"""
from __future__ import annotations

from collections.abc import Sequence

from advisor.kb.schema import GPU
from advisor.sizing import constants as c


def total_vram_bytes(gpu: GPU | Sequence[GPU], count: int, gpu_overhead_bytes: int = 0) -> int:
    """What Ollama sums to pick its default context: each GPU's total memory less
    OLLAMA_GPU_OVERHEAD (server/routes.go Serve), over `count` x `gpu` or the cards of a set of
    unequal ones. A unified-memory SoC reports the share Metal lets the GPU use
    (recommendedMaxWorkingSetSize), GPU.usable_memory_bytes."""
    cards = list(gpu) if isinstance(gpu, (list, tuple)) else [gpu] * count
    return sum(max(g.usable_memory_bytes - gpu_overhead_bytes, 0) for g in cards)


def default_context(gpu: GPU | Sequence[GPU], count: int, trained_context: int) -> int:
    """num_ctx when nothing sets it: 262,144 tokens from 47 GiB of total VRAM, 32,768 from
    23 GiB, else 4,096 (constants.OLLAMA_CONTEXT_TIERS), at most the model's trained context
    (llm/server.go caps num_ctx at n_ctx_train). `gpu`: `count` cards of one kind, or the cards
    of a set of unequal ones (device order; count is then their number), whose memory Ollama
    sums the same way."""
    vram = total_vram_bytes(gpu, count)
    tier = next(ctx for floor, ctx in c.OLLAMA_CONTEXT_TIERS if vram >= floor)
    return min(tier, trained_context)


def flash_attention_default(gpu: GPU | Sequence[GPU]) -> bool:
    """Whether Ollama runs llama-server with flash attention when OLLAMA_FLASH_ATTENTION is unset:
    `--flash-attn auto` (on) where every GPU it loads on supports it: CUDA compute capability
    6.0+ (Pascal and newer), ROCm, Metal, Vulkan (ml/device.go FlashAttentionSupported, over all
    the cards of a set: llm/llama_server.go LlamaServerFlashAttention)."""
    cards = list(gpu) if isinstance(gpu, (list, tuple)) else [gpu]
    return all(g.architecture not in c.OLLAMA_NO_FLASH_ATTENTION_ARCHITECTURES for g in cards)


def minimum_memory_bytes(gpu: GPU) -> int:
    """What Ollama's scheduler sets aside on a GPU before placing a model (ml/device.go
    MinimumMemory: 512 MiB on Metal, 457 MiB elsewhere)."""
    return c.OLLAMA_MINIMUM_MEMORY_BYTES.get(gpu.vendor, c.OLLAMA_MINIMUM_MEMORY_BYTES_DEFAULT)


def kv_cache_type(kv_dtype: str) -> str | None:
    """OLLAMA_KV_CACHE_TYPE for a KV precision (f16, q8_0, q4_0), or None where Ollama documents
    no such value."""
    return c.OLLAMA_KV_TYPES.get(kv_dtype)


def auto_gpu_layers(model, gpu: GPU, precision, work) -> int | None:
    """The repeating layers llama-server keeps on one GPU when num_gpu is unset and the whole
    model does not fit with its margin: the most that do (advisor.sizing.offload.plan_offload),
    the rest and the output layer in system RAM. On a Mac the same: ggml's Metal device reports
    its free memory as recommendedMaxWorkingSetSize less what is allocated, so llama-server's
    fit keeps the layers beyond the working set on the CPU, in the same memory. None when
    everything fits, or when not one layer does. Layers placed, not llama.cpp's count: its
    num_gpu (-ngl) is advisor.sizing.offload.llamacpp_ngl of it (one more on GLM-4.5)."""
    from advisor.sizing.offload import plan_offload

    off = plan_offload(model, gpu, precision, work)
    return None if off is None else off.gpu_layers


def automatic_ubatch(a, context_cells: int, weights_bytes: int, gpu: GPU | Sequence[GPU],
                     count: int, flash_attn: bool) -> int:
    """Ollama's automatic num_batch (= llama-server's -b and -ub) for `context_cells` tokens of
    context over all parallel sequences, given the model's weight bytes (the GGUF's size, which
    Ollama's prediction reads) on `count` x `gpu` (or the cards of a set of unequal ones, whose
    free memory it sums: availableMemoryForLoad) with nothing else loaded
    (constants.OLLAMA_BATCH_*, server/sched.go automaticGenerationBatch)."""
    cards = list(gpu) if isinstance(gpu, (list, tuple)) else [gpu] * count
    if not flash_attn and any(g.vendor == "nvidia" for g in cards):
        small = any(g.vendor == "nvidia" and min(g.memory_bytes, g.usable_memory_bytes)
                    <= c.OLLAMA_BATCH_SMALL_CARD_BYTES for g in cards)
        return c.OLLAMA_BATCH_NO_FA_SMALL if context_cells > 4096 and small else c.COMPUTE_UBATCH_TOKENS
    batch = next(b for floor, b in c.OLLAMA_BATCH_TIERS if context_cells > floor or floor == 0)
    head = a.attention_heads or 1
    head_dim = a.hidden_size // head if a.hidden_size else a.head_dim
    predicted = weights_bytes + 2 * a.layers * max(a.kv_heads, 1) * head_dim * context_cells * 2
    available = sum(g.usable_memory_bytes for g in cards)
    threshold = int(available * c.OLLAMA_BATCH_FIT_SHARE)
    while batch > c.COMPUTE_UBATCH_TOKENS:
        if (predicted <= threshold and predicted <= available * c.OLLAMA_BATCH_HEADROOM[batch]
                and c.OLLAMA_BATCH_SURCHARGE_BYTES[batch] <= threshold - predicted):
            return batch
        batch = 1024 if batch > 1024 else c.COMPUTE_UBATCH_TOKENS
    return batch


def assumptions(gpu: GPU, count: int, flash_attn: bool, cards: Sequence[GPU] | None = None) -> list[str]:
    """What the Ollama profile assumed, in words for the advisory (no CUDA on a Mac). cards: the
    cards of a set of unequal ones (`gpu` the first), whose memory Ollama sums."""
    vram = total_vram_bytes(cards if cards else gpu, count) / c.GIB
    placement = ("with num_gpu unset the layers beyond the GPU's working set run on the CPU, "
                 "from the same memory, instead of failing to load" if gpu.unified_memory
                 else "with num_gpu unset the layers that do not fit stay in system RAM instead "
                 "of failing to load")
    return [f"Ollama {c.OLLAMA_VERSION} (commit {c.OLLAMA_COMMIT[:9]}) runs the model with "
            f"llama.cpp's llama-server, so its memory is llama.cpp's; {placement}",
            f"Ollama's default context for {vram:.0f} GiB of VRAM: 4,096 tokens under 23 GiB, "
            "32,768 under 47 GiB, else 262,144, at most the model's trained context "
            "(OLLAMA_CONTEXT_LENGTH or num_ctx set another), times OLLAMA_NUM_PARALLEL",
            "Ollama's flash attention: " + ("on (`--flash-attn auto` on this GPU)" if flash_attn
                                            else "off (OLLAMA_FLASH_ATTENTION=0)")] + (
        [f"over {count} GPUs: Ollama starts llama-server on all of them, which splits the layers "
         "by each card's free memory (Ollama has no setting for the split), except that a model "
         "whose estimate fits in 80% of one GPU's free memory is loaded on that GPU alone "
         "(server/sched.go selectLlamaServerPlacement; OLLAMA_SCHED_SPREAD=1 spreads it): the "
         "split over all of them is what is sized here"] if count > 1 else [])
