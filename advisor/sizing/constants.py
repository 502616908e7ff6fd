"""Every constant the sizing model uses, with the measurement or source it comes from.

Nothing else in advisor/ may hold a magic number about runtimes or hardware.
"""

MIB = 1 << 20
GIB = 1 << 30

# CUDA/ROCm context and runtime reservations on each GPU before any tensor is allocated.
# Ollama's measured per-GPU minimum is 457 MiB for CUDA and ROCm (ollama llm/memory.go,
# quoted in ../shared/PRIOR_ART.md section 3.3); llmfit and whichllm use 0.5 GB.
RUNTIME_RESERVED_BYTES_PER_GPU = 457 * MIB

# The compute graph buffer at llama.cpp's default micro-batch (n_ubatch = 512): its largest
# live tensors are the f32 logits (vocab x ubatch) and the f32 hidden state (hidden x ubatch),
# the terms gguf-parser's estimate is dominated by for dense models (PRIOR_ART section 3.3).
COMPUTE_UBATCH_TOKENS = 512
COMPUTE_BYTES_PER_ELEMENT = 4

# The headroom below which a fit is "tight": llama.cpp's --fit-target default margin of
# 1024 MiB per device (llama.cpp common/arg.cpp; PRIOR_ART section 3.3).
FIT_MARGIN_BYTES_PER_GPU = 1024 * MIB

# Decode efficiency: the share of the memory-bandwidth roofline that llama.cpp reaches when
# generating. Median of measured/roofline over the single-GPU tg rows of
# ../shared/reference/speed_benchmarks.csv: 0.581 over 96 rows, spread 0.31 to 0.87
# (python benchmarks/decode_efficiency.py prints every row).
DECODE_BANDWIDTH_EFFICIENCY = 0.58

# System RAM assumed for CPU offload when the user states none: a desktop with 64 GiB of
# dual-channel DDR5-4800, 76.8 GB/s theoretical (2 channels x 8 bytes x 4800 MT/s).
DEFAULT_RAM_BYTES = 64 * GIB
DEFAULT_RAM_BANDWIDTH_GB_S = 76.8

# GPUs in one node for tensor parallelism (HGX/DGX and MI300X platforms hold 8).
GPUS_PER_NODE = 8

# --- memory: runtime profiles
# Weight formats (format definitions, read from the packers' code):
# GPTQ/AWQ: 4-bit weights in groups of 128 input columns, one fp16 scale and one 4-bit zero
# point per group and output row (AutoGPTQ/AutoAWQ qweight/qzeros/scales); GPTQ also stores
# g_idx, one int32 per input column.
GPTQ_AWQ_GROUP_SIZE = 128
# bitsandbytes NF4 (QLoRA): 4-bit codes, an absmax per block of 64 weights; with double
# quantization the absmax is an 8-bit code with one fp32 absmax per 256 blocks, plus per tensor a
# 16-entry fp32 NF4 code, a 256-entry fp32 code for the absmax and an fp32 offset
# (bitsandbytes functional.quantize_4bit / QuantState.as_dict).
NF4_BLOCK_SIZE = 64
NF4_NESTED_BLOCK_SIZE = 256
NF4_CONSTANT_BYTES_PER_TENSOR = 16 * 4 + 256 * 4 + 4
# bitsandbytes LLM.int8: int8 weights and one fp32 scale (SCB) per output row.
INT8_SCALE_BYTES_PER_ROW = 4
# FP8 checkpoints (compressed-tensors, fbgemm_fp8): one fp32 weight scale per output channel.
FP8_SCALE_BYTES_PER_ROW = 4
# KV cache element sizes: (elements per block, bytes per block) of ggml's q8_0 and q4_0, the
# types llama.cpp's --cache-type-k/-v store (8.5 and 4.5 bits an element; gguf GGML_QUANT_SIZES).
KV_DTYPE_BLOCKS = {"fp32": (1, 4), "fp16": (1, 2), "bf16": (1, 2), "fp8": (1, 1),
                   "q8_0": (32, 34), "q4_0": (32, 18)}
# KV precisions each runtime offers: llama.cpp --cache-type-k/v (f16, bf16, q8_0, q4_0; no fp8),
# vLLM --kv-cache-dtype (auto = the model dtype, fp8), transformers' DynamicCache (model dtype).
RUNTIME_KV_DTYPES = {"llama.cpp": ("fp16", "bf16", "fp32", "q8_0", "q4_0"),
                     "vllm": ("fp16", "bf16", "fp8"),
                     "transformers": ("fp16", "bf16", "fp32")}
# llama.cpp pads the KV cache length to 256 cells with flash attention (on by default, "auto",
# on CUDA/Metal since 2025; llama_kv_cache::get_padding; gguf-parser: 256 with FA, else 32).
LLAMACPP_KV_PAD_TOKENS = 256
# llama.cpp's sliding-window layers keep n_swa + n_ubatch cells a sequence, padded
# (llama-kv-cache-iswa.cpp size_swa; llama.cpp logs "creating SWA KV cache, size = 1536 cells"
# for a 1024-token window at the default n_ubatch 512, and 1280 cells at -ub 256).
LLAMACPP_UBATCH_TOKENS = 512
# With flash attention llama.cpp's compute buffer also holds the f16 KQ mask, n_ubatch x the
# padded context: a Gemma log's buffer grows by 12.00 MiB from 4,096 to 16,384 cells at
# n_ubatch 512 (12,288 x 512 x 2 bytes).
LLAMACPP_KQ_MASK_BYTES = 2
# vLLM allocates the KV cache in blocks of 16 tokens a sequence (CacheConfig.block_size default).
VLLM_BLOCK_TOKENS = 16
# vLLM: the share of each GPU it may use (gpu_memory_utilization default 0.9), and what its
# profiler measured outside the weights and KV (vLLM PR #10511 maintainer log, Llama-3-8B BF16 on
# an H100 80GB, v0.6, defaults: 79.22 GiB total, 71.29 usable, weights 14.96, non-torch 1.79 GiB,
# activation peak 1.26 GiB, KV 53.29 GiB; at -tp 2 non-torch 3.58 GiB and activation 1.26 GiB a
# GPU). Rows of ../shared/reference/memory_measurements.csv.
VLLM_GPU_MEMORY_UTILIZATION = 0.9
VLLM_NON_TORCH_BYTES_TP1 = int(1.79 * GIB)
VLLM_NON_TORCH_BYTES_TP_MULTI = int(3.58 * GIB)
VLLM_ACTIVATION_PEAK_BYTES = int(1.26 * GIB)
# vLLM CUDA-graph capture: 0.64 GiB ("Graph capturing finished ... took 0.64 GiB", the granite
# row of memory_measurements.csv). It is taken from the share gpu_memory_utilization leaves free.
VLLM_CUDA_GRAPH_BYTES = int(0.64 * GIB)
