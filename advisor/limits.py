"""The largest numbers and files advisor accepts from a user's file or a KB entry, in one place.

Every count that sizing loops over or multiplies (layers, heads, experts, vocabulary ...) is
checked against these before anything uses it: the KB schema (advisor.kb.schema) bounds each
field with them, and the readers of config.json and GGUF headers (advisor.files) check a value
against them as they read it, naming the file's own key. Each maximum is far above every
published model or card (the reason is beside it), so a real file never meets one; a value
beyond it is a corrupt, hostile or mistyped file, refused in one line instead of sized (a
billion layers would allocate a list of a billion entries and loop over it).
"""
from __future__ import annotations

import math

# -- a model's architecture -------------------------------------------------------------------
# Llama 3.1 405B has 126 layers, the deepest published decoders a few hundred; DeepNet trained
# 1,000. 4,096 keeps every per-layer loop (KV layout, offload, fine-tuning) instant.
MAX_LAYERS = 4096
# Llama 3.1 405B: 16,384; PaLM 540B: 18,432; Megatron-Turing 530B: 20,480. 2**17 is 6x that.
MAX_HIDDEN_SIZE = 1 << 17
# Llama 3.1 405B and DeepSeek V3: 128 query heads. 4,096 is 32x that.
MAX_HEADS = 4096
# 64 to 256 in practice (Gemma 2: 256; DeepSeek's MLA: 192; gpt-oss: 64); 8,192 leaves room.
MAX_HEAD_DIM = 8192
# Llama 3.1 405B: 53,248; Llama 3.2 vision adapters and Falcon 180B are smaller. 2**20 is 20x.
MAX_FFN_SIZE = 1 << 20
# Gemma 3: 262,144 tokens, the largest published vocabulary; 2**22 is 16x that.
MAX_VOCAB = 1 << 22
# Llama 4 Scout advertises 10M tokens; 2**28 (268M) covers 100M-token research models.
MAX_CONTEXT = 1 << 28
# Qwen3-Next: 512 routed experts, Kimi K2: 384, DeepSeek V3: 256. 16,384 is 32x that.
MAX_EXPERTS = 1 << 14
# Causal-convolution kernel of a linear-attention layer: 4 in Qwen3-Next's Gated DeltaNet and in
# Mamba; 64 leaves room.
MAX_CONV_KERNEL = 64
# Norm vectors a layer: 2 in most models, 4 in Gemma 2/3 (pre- and post-norms); 64 leaves room.
MAX_NORMS_PER_LAYER = 64
# Published parameter counts: 1.8T (GPT-4 estimates), 2T (Kimi K2 is 1T). 10**15 is 500x that.
MAX_PARAMETERS = 10**15

# -- a training run -----------------------------------------------------------------------------
# Llama 3 was pretrained on about 15T tokens (1.5e13), the most any published run states; a
# fine-tuning run is far less. 10**15 is over 60x that.
MAX_TRAIN_TOKENS = 10**15

# -- a GPU entry -------------------------------------------------------------------------------
# The largest single device today: Apple M3 Ultra with 512 GiB of unified memory; B300: 288 GB.
# 2**44 bytes (16 TiB) is 32x that.
MAX_MEMORY_BYTES = 1 << 44
# Memory bandwidth: B300 ~8 TB/s, M3 Ultra 819 GB/s. 10**6 GB/s is over 100x that.
MAX_BANDWIDTH_GB_S = 1e6
# Peak tensor throughput: B300 FP4 ~15,000 TFLOPS dense. 10**7 is over 600x that.
MAX_TFLOPS = 1e7
# The slowest device worth sizing: the KB's least is an M1's 66.7 GB/s and 2.6 FP16 TFLOPS; a
# Raspberry Pi 4's LPDDR4 is ~4 GB/s. Below 1 GB/s or 0.01 TFLOPS a figure is a typo (a unit
# slip), and the speeds printed from it would be absurd (1e-300 gives a 300-digit time).
MIN_BANDWIDTH_GB_S = 1.0
MIN_TFLOPS = 0.01
# A KB entry's display name: the longest built-in is 42 characters.
MAX_NAME_CHARS = 200
# Shader or tensor cores on one device: MI300X 19,456 stream processors, RTX 5090 21,760 CUDA
# cores. 10**7 leaves room for any count a vendor may use.
MAX_CORES = 10**7
# A rental price in USD an hour, for a whole 8-GPU node: tens of dollars today; 10**5 is far above.
MAX_USD_PER_HOUR = 1e5
# The least a GPU-hour may cost (USD): the cheapest price read from a provider's page is $0.047
# (SaladCloud's low-priority RTX 3060, kb/gpus/rtx-3060-12gb.yaml), and a cent is far below
# any published rental. A price below it is refused rather than printed: it is a unit slip
# (cents written as dollars, a monthly price taken for an hourly one) or a made-up figure such as
# 1e-300, and the advisory prints prices to the cent, where it would read $0.00 an hour, a free
# card (hostile tester 12). Costs derived from a price (a million tokens, a training run) can
# still be below a cent; advisor.text.usd prints those with the digits that show them.
MIN_USD_PER_GPU_HOUR = 0.01
# The largest RoPE base (rope_theta) a KB entry may give: published configs reach 1e7 (Qwen2.5-1M's
# 10,000,000) and 5e6-1e6 is common; ten thousand times that covers any real model, and a bound
# keeps .inf out of the printed commands (vLLM's --hf-overrides is JSON, which has no Infinity).
MAX_ROPE_THETA = 1e11

# -- hardware detection (advisor.hardware) ----------------------------------------------------
# nvidia-smi, rocm-smi and the other tools answer in well under a second; a tool that has not
# answered in 5 s is hung (a wedged driver), and its process group is killed.
TOOL_TIMEOUT_S = 5.0
# Their output for a full 8-GPU node is a few KB (rocm-smi's JSON the largest); more than 1 MiB
# is no answer to the query asked, and reading stops there.
MAX_TOOL_OUTPUT_BYTES = 1 << 20

# -- names ----------------------------------------------------------------------------------
# A KB id is also a file name (<id>.yaml); published ids are under 60 characters, and file
# systems allow 255 bytes a name. 128 leaves room for both.
MAX_ID_CHARS = 128

# -- files a user hands us ---------------------------------------------------------------------
# A Hugging Face config.json is a few KB (multimodal ones tens of KB).
MAX_CONFIG_BYTES = 4 << 20
# The largest YAML file advisor ships (advisor/data/quant_quality.yaml) is 40 KB; a KB entry or
# rule file is a few KB. 1 MiB is 25x the largest.
MAX_YAML_BYTES = 1 << 20
# YAML aliases: a document may reuse anchored nodes, but its expanded tree may hold at most this
# many nodes (a KB entry holds a few hundred; a billion-laughs file billions).
MAX_YAML_NODES = 100_000
# Entries in the user's KB folders (--kb, $ADVISOR_KB), all together: each is parsed and
# validated (about 5 ms) whenever a folder changes, so 2,048 keep the first run after a change
# near 10 s on a slow machine. The built-in KB holds 256.
MAX_USER_KB_ENTRIES = 2048
# An integer literal longer than this in YAML or JSON is no count of anything real.
MAX_INT_DIGITS = 30

# -- the Hugging Face Hub (advisor.files.hub) ----------------------------------------------------
# What reading one model from the Hub may cost: its config.json, safetensors index and headers,
# or a GGUF file's header (never weights). DeepSeek-V3 (163 shards) reads a 9 MB index and 163
# headers of ~100 KB; a GGUF header with a 262K-token vocabulary is ~10 MB. 256 MiB, 2,048
# requests and 3 minutes are far above that, and far below what a hostile or broken Hub could
# otherwise make advisor download or wait for.
MAX_HUB_BYTES = 256 << 20
MAX_HUB_REQUESTS = 2048
HUB_DEADLINE_S = 180.0
# Seconds to connect, or between two reads of an answer (huggingface_hub's own default is 10).
HUB_TIMEOUT_S = 15.0


def count_problem(value, maximum: int | float, minimum: int = 1) -> str | None:
    """What is wrong with `value` as a count from a file (a whole number from minimum to
    maximum), or None when it is one. Floats with a whole value (32.0) count as whole numbers;
    booleans, strings, NaN and infinities never do. The message quotes at most a short prefix
    of the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is {short(value)}, not a whole number"
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return f"is {short(value)}, not a whole number"
    if not minimum <= value <= maximum:
        return f"is {short(value)}, outside {minimum} to {maximum:,}"
    return None


def short(value, limit: int = 40) -> str:
    """repr(value) cut to `limit` characters (with '...'), for quoting a value from a file in an
    error message without printing all of a huge or deeply nested one. Large integers are
    described by their number of digits (formatting one of thousands of digits fails)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"an integer of more than {limit} digits"
    if isinstance(value, (list, dict, tuple, set)):
        kind = type(value).__name__
        return f"a {kind} of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- a question's numbers (explain, fit, gpus, generate) --------------------------------------
# The largest questions answered: 64 nodes of 8 GPUs (one copy of the largest models needs at
# most a few nodes; beyond that the question is throughput, answered by running copies), and
# 100,000 sequences at once (vLLM's --max-num-seqs defaults to 256-1,024).
MAX_GPUS = 512
MAX_BATCH = 100_000
# The longest prompt asked about: Llama 4 Scout's 10M-token context.
MAX_PROMPT_TOKENS = 10_485_760
# Fine-tuning's micro-batch is the sequences ONE GPU holds a step (the global batch is reached
# by gradient accumulation and data parallelism). Published recipes use 1 to 64; even a
# 128-token sequence at 4,096 a GPU is 512K tokens of activations, more than any card holds for
# a useful model. Beyond it a number is a typo, and without a bound 10**11 was sized (and
# reported as "no model can be fine-tuned") instead of refused.
MAX_MICRO_BATCH = 4096
# A LoRA rank is at most the smallest dimension it adapts, and no model has a dimension above
# MAX_HIDDEN_SIZE; each model's own bound is checked by advisor.sizing.finetune.validate.
MAX_LORA_RANK = MAX_HIDDEN_SIZE
# A --tensor-split proportion: people write shares (3,1,1), percentages or GiB (23.6,11.6);
# llama.cpp reads each as a float32. 10**6 is far above any of these, and a larger value is a
# typo that would leave every other card without a layer.
MAX_TENSOR_SPLIT_VALUE = 1e6


def check_question(*, gpus: int | None = None, gpus_flag: str = "--gpus", batch: int | None = None,
                   context: int | None = None, prompt_tokens: int | None = None,
                   seq_len: int | None = None, micro_batch: int | None = None,
                   lora_rank: int | None = None, train_tokens: int | None = None) -> None:
    """The one check of a question's numbers shared by explain, fit, gpus and generate: each
    given (not None) must be a whole number from 1 to its maximum. Raises AdvisorError, one
    line, naming the option (gpus_flag: --gpus, --max-gpus or --gpu-count)."""
    from advisor.errors import AdvisorError
    from advisor.sizing.constants import GPUS_PER_NODE

    if gpus is not None:
        _at_least_1(gpus_flag, gpus)
        if gpus > MAX_GPUS:
            raise AdvisorError(f"{gpus_flag} must be at most {MAX_GPUS} ({MAX_GPUS // GPUS_PER_NODE} "
                               f"nodes of {GPUS_PER_NODE}): one copy of a model is served on a few "
                               f"nodes at most; for more throughput, run copies side by side, "
                               f"not {gpus:,}")
    for flag, value, most, unit in (("--batch", batch, MAX_BATCH, "sequences at once"),
                                    ("--context", context, MAX_CONTEXT, "tokens"),
                                    ("--prompt-tokens", prompt_tokens, MAX_PROMPT_TOKENS,
                                     "tokens (the longest context any model is published for)"),
                                    ("--seq-len", seq_len, MAX_CONTEXT, "tokens"),
                                    ("--micro-batch", micro_batch, MAX_MICRO_BATCH,
                                     "sequences a GPU a step (reach a larger batch with gradient "
                                     "accumulation or more GPUs)"),
                                    ("--lora-rank", lora_rank, MAX_LORA_RANK,
                                     "(no model has a dimension larger)"),
                                    ("--train-tokens", train_tokens, MAX_TRAIN_TOKENS,
                                     "tokens (60 times the largest published pretraining run)")):
        if value is None:
            continue
        _at_least_1(flag, value)
        if value > most:
            raise AdvisorError(f"{flag} must be at most {most:,} {unit}, not {value:,}")


def check_one_machine(gpu, count: int, flag: str = "--gpus") -> None:
    """A unified-memory device (an Apple Mac, a Jetson, a Ryzen AI Max) is a whole machine, its
    memory shared with its CPU: two of them are two machines, whose memory is no one pool
    (layers split across machines need llama.cpp's RPC backend over a network, which the plans
    do not model). AdvisorError, one line, for a count above 1 of such a device."""
    from advisor.errors import AdvisorError

    if getattr(gpu, "unified_memory", False) and count > 1:
        raise AdvisorError(f"{flag} {count}: the {gpu.name} is a whole machine whose memory is "
                           f"shared with its CPU; {count} of them are {count} machines, not one "
                           f"memory pool (splitting a model across machines is not planned): ask "
                           f"for 1")


def _at_least_1(flag: str, value) -> None:
    from advisor.errors import AdvisorError

    if isinstance(value, bool) or not isinstance(value, int):
        raise AdvisorError(f"{flag} must be a whole number, not {short(value)}")
    if value < 1:
        unit = " token" if flag in ("--context", "--seq-len", "--prompt-tokens") else ""
        raise AdvisorError(f"{flag} must be at least 1{unit}, not {value}")


def batch_words(batch: int) -> str:
    """' and a batch of N sequences' for a batch above 1, for the sentences that say no model or
    GPU runs a question: they must name every number that made the answer empty."""
    return f" and a batch of {batch:,} sequences" if batch != 1 else ""
# Errors printed at once (a folder of 3,000 broken rule files printed 3,000 lines: hostile pass
# 14A); the rest are counted, and come up once the first are fixed
MAX_ERRORS_SHOWN = 100
