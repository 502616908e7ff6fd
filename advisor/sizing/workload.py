"""What the user wants to run: the workload every sizing function reads.

Fields are added here, with defaults, as capabilities grow; every default is stated in the
advisory when the user did not choose it.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.sizing import constants as c
from advisor.sizing.finetune import FinetuneSpec


# The context an advisory assumes when the user gives none (capped at the model's maximum):
# long enough for a real conversation or document, and what llmfit settled on after its users
# complained of estimates at the model's full context (PRIOR_ART section 2, llmfit #302, #621).
DEFAULT_CONTEXT_TOKENS = 8192
# The prompt prefill speed and time to first token are given for (--prompt-tokens); cut to the
# context where that is shorter.
DEFAULT_PROMPT_TOKENS = 512


def round_context_up(tokens: int) -> int:
    """`tokens` rounded up to a context people set: three significant binary digits (32,768,
    40,960, 49,152, 57,344, 65,536, 81,920 ...), the series the planner shortens a defaulted
    context to (advisor.plans.evaluate.shortened_context), taken upwards so that it holds
    `tokens`. tokens > 0."""
    step = 1 << max(tokens.bit_length() - 3, 0)
    return -(-tokens // step) * step


def is_reasoning(model) -> bool:
    """Whether `model` is a reasoning model: one whose publisher recommends an output length
    for its thinking and answer (Model.recommended_output_tokens); questions about it are
    sized and ranked for its thinking (default_context_tokens, Objective.is_usable)."""
    return bool(getattr(model, "recommended_output_tokens", None))


def can_reason(model) -> bool:
    """Whether `model` thinks before it answers, at least in one of its modes: a reasoning model
    (is_reasoning), or one with a published score of its thinking mode (GLM-4.5, EXAONE 4.0):
    what may stand in for a reasoning model asked (advisor.plans.candidates.other_models)."""
    return is_reasoning(model) or any(getattr(q, "variant", None) == "thinking"
                                      for q in getattr(model, "quality", None) or ())


def reasoning_context_tokens(model) -> int | None:
    """The context a reasoning model needs by default (tokens): the output its publisher
    recommends (Model.recommended_output_tokens: 32,768 for DeepSeek R1 and Qwen3), rounded up
    to a context people set (round_context_up), at most the context its config's positions reach
    without rope scaling (architecture.max_context). The recommended output is a ceiling on the
    thinking and the answer; a prompt is not added on top (32,768 and 512 would round up to
    40,960, a quarter more KV cache than the recommendation, which on a 24 GB card costs a q4_0
    cache or a coarser format for thinking that rarely reaches the ceiling): a long prompt is a
    -c of its own. None for a model without a recommended output length."""
    out = getattr(model, "recommended_output_tokens", None)
    if not out:
        return None
    return min(round_context_up(out), model.architecture.max_context)


def default_context_tokens(model) -> int:
    """The context (tokens) a question about `model` is sized at when it gives none (--context
    left out: explain under llama.cpp, vLLM, SGLang, MLX or transformers; fit, gpus and
    generate): DEFAULT_CONTEXT_TOKENS at most the model's maximum (Model.context_limit), or for
    a reasoning model whose publisher recommends an output length the longer
    reasoning_context_tokens, so that its thinking fits. Ollama's own default is not this one
    (advisor.sizing.ollama.default_context)."""
    chat = min(DEFAULT_CONTEXT_TOKENS, model.context_limit)
    reasoning = reasoning_context_tokens(model)
    return chat if reasoning is None else max(chat, reasoning)


def default_context_reason(model, context_tokens: int, ollama: bool = False) -> str | None:
    """One line saying why a defaulted context of `context_tokens` is what it is for a reasoning
    model (None for any other model): its publisher's output budget, and under Ollama
    (`ollama`: the context is Ollama's default by VRAM) whether that default holds it."""
    out = getattr(model, "recommended_output_tokens", None)
    need = reasoning_context_tokens(model)
    if not out or need is None:
        return None
    why = (f"reasoning model: its publisher recommends up to {out:,} output "
           f"token{'' if out == 1 else 's'}")
    if not ollama:
        if context_tokens >= out:
            return (f"{why}, so the default context is {context_tokens:,} tokens, which holds "
                    "them (a long prompt on top needs a longer --context)")
        return (f"{why}; the default context is {context_tokens:,} tokens, as far as its config's "
                f"positions reach, so the longest thinking does not fit")
    if context_tokens >= out:
        return f"{why}, which Ollama's default context of {context_tokens:,} tokens holds"
    if context_tokens >= need:
        return (f"{why}; Ollama's default context of {context_tokens:,} tokens is as far as its "
                f"config's positions reach, so the longest thinking does not fit")
    return (f"{why}; Ollama's default context here, {context_tokens:,} tokens, cuts long thinking "
            f"short: set OLLAMA_CONTEXT_LENGTH={need} (ask with --context {need} to size that)")


@dataclass(frozen=True)
class Workload:
    context_tokens: int = 8192
    batch: int = 1
    task: str = "inference"              # inference | finetune
    kv_cache_dtype: str = "fp16"         # fp16 | bf16 | fp8 | q8_0 | q4_0
    runtime: str = "llama.cpp"           # llama.cpp | vllm | transformers
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS  # for prefill speed and time to first token
    ram_bytes: int = c.DEFAULT_RAM_BYTES
    ram_bandwidth_gb_s: float = c.DEFAULT_RAM_BANDWIDTH_GB_S
    finetune: FinetuneSpec | None = None  # the training setup when task == "finetune"
    # vLLM --gpu-memory-utilization: the share of each GPU vLLM may use (default 0.9)
    gpu_memory_utilization: float = c.VLLM_GPU_MEMORY_UTILIZATION
    # llama.cpp --flash-attn: on (its default "auto" turns it on wherever the backend has the
    # kernels: CUDA, ROCm, Metal, Vulkan) or off (f32 attention scores over the whole context in
    # the compute buffer, and no quantized V cache)
    flash_attn: bool = True
    # vLLM's profiling method by release (advisor.sizing.vllm_memory.VLLM_VERSIONS): "v1" (vLLM
    # >= 0.8, the default) or "0.5" (V0, v0.5.3.post1-v0.5.x)
    vllm_version: str = c.VLLM_DEFAULT_VERSION
    # vLLM --data-parallel-size (engine replicas of gpus / DP GPUs each, every one with its own
    # KV cache) and --enable-expert-parallel (whole routed experts a GPU); 1 / False: plain
    # tensor (and pipeline) parallelism (advisor.sizing.vllm_parallel)
    data_parallel: int = 1
    expert_parallel: bool = False
    # llama.cpp --n-gpu-layers (-ngl) as the user gave it, in llama.cpp's count: the GGUF's
    # blocks (a trailing NextN block too: offload.gguf_trailing_blocks), then the output layer
    # (0..offload.ngl_all); None: every layer on the GPUs. Never the repeating layers themselves:
    # sizing reads it through offload.gpu_layers_of_ngl (GLM-4.5-Air: -ngl 47 keeps its 46
    # layers on the GPU and the output layer, the token embeddings in system RAM; -ngl 48 all),
    # and the advisory echoes it as given.
    gpu_layers: int | None = None
    # llama.cpp --tensor-split (-ts) as the user gave it: one non-negative proportion a card of
    # the set, in device order, comma-separated as typed ("3,1,1"); None: llama.cpp's default,
    # the split by each card's free memory (advisor.sizing.mixed). Only on several GPUs under
    # llama.cpp, where every card is then sized by the layers this split gives it.
    tensor_split: str | None = None
    # SGLang --mem-fraction-static: the share of each GPU's free memory at start for weights and
    # the KV pool; None: SGLang's default for the card (advisor.sizing.sglang_memory)
    mem_fraction_static: float | None = None
