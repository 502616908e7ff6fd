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
