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

# --- fine-tuning
# Sources are named once here; docs/finetune.md shows every formula that uses these.
#
# Mixed-precision training (ZeRO paper, Rajbhandari et al. 2019, section 3.1; EleutherAI
# "Transformer Math 101", 2023): bf16 weights and bf16 gradients (2 + 2 bytes a parameter), an
# fp32 master copy of the weights (4) and Adam's two fp32 moments (4 + 4): 16 bytes a parameter.
FT_WEIGHT_BYTES = 2                 # bf16 weights, the copy forward and backward read
FT_GRADIENT_BYTES = 2               # bf16 gradients of trainable bf16 weights
FT_MASTER_WEIGHT_BYTES = 4          # fp32 master weights the optimizer updates (full only)
# Optimizer state bytes a trainable parameter.
# adamw: exp_avg and exp_avg_sq in fp32 (torch.optim.AdamW).
# sgd: one fp32 momentum buffer (torch.optim.SGD with momentum; Transformer Math 101 counts it).
# adamw-8bit / paged-adamw-8bit: bitsandbytes block-wise 8-bit states, one byte a state, plus an
# fp32 absmax per block of 2048 elements per state; tensors under 4096 elements keep fp32 states
# (bitsandbytes optim/optimizer.py Optimizer2State.init_state, min_8bit_size=4096; Dettmers et
# al. 2022, "8-bit Optimizers via Block-wise Quantization"). Paged states are the same bytes, in
# CUDA unified memory that the driver can evict to CPU RAM under pressure (QLoRA paper, sec. 3).
FT_OPTIMIZER_STATES = {"adamw": 2, "adamw-8bit": 2, "paged-adamw-8bit": 2, "sgd": 1}
FT_OPTIMIZER_STATE_BITS = {"adamw": 32, "adamw-8bit": 8, "paged-adamw-8bit": 8, "sgd": 32}
FT_OPTIMIZER_8BIT_BLOCK = 2048
FT_OPTIMIZER_8BIT_MIN_ELEMENTS = 4096
# LoRA adapters: PEFT casts adapter weights to fp32 when the base is loaded in 16 bits
# (peft LoraModel, autocast_adapter_dtype=True, the default since PEFT 0.12); their gradients
# are fp32 too and no separate master copy exists.
FT_ADAPTER_WEIGHT_BYTES = 4
FT_ADAPTER_GRADIENT_BYTES = 4
# LoRA defaults when the user names none: rank 16 on every linear layer of the blocks (PEFT's
# target_modules="all-linear", which leaves lm_head out; QLoRA paper sec. 4: adapters on all
# linear layers are needed to match full fine-tuning).
FT_DEFAULT_LORA_RANK = 16
FT_LORA_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")
# QLoRA base weights: NF4, 4 bits a weight in blocks of 64, each block's absmax quantized to
# 8 bits (double quantization) with one fp32 scale per 256 absmax values, plus one fp32 offset
# per tensor: 4 + 8/64 + 32/(64*256) = 4.127 bits a weight (QLoRA paper, Dettmers et al. 2023,
# sec. 3 "Double Quantization": 0.127 bits of constants instead of 0.5; bitsandbytes
# functional.quantize_4bit, blocksize=64, compress_statistics nested blocksize=256).
# Only the nn.Linear layers of the blocks are quantized: transformers keeps lm_head and the
# embedding (not a Linear) in 16 bits (transformers get_keys_to_not_convert).
FT_NF4_BLOCK = 64
FT_NF4_ABSMAX_BLOCK = 256
# Activations a token a layer, 16-bit, counted tensor by tensor from what autograd saves in a
# Llama-style block with flash attention (no s x s score matrix) and no dropout, the counting of
# Korthikanti et al. 2022 ("Reducing Activation Recomputation", sec. 4.1: sbh(34 + 5as/h) for a
# GPT block with GeLU, dropout and 4h FFN) redone for RMSNorm + SwiGLU + GQA:
#   norm inputs 2 x 2h, norm outputs (projection inputs) 2 x 2h, q/k/v 2(q + 2kv), attention
#   output 2q, flash-attention logsumexp 4 bytes a head, gate/up/silu/product 4 x 2f.
FT_ACTIVATION_BYTES = 2
FT_ATTENTION_LSE_BYTES_PER_HEAD = 4
# With gradient checkpointing (transformers gradient_checkpointing_enable: one checkpoint per
# decoder layer) each layer keeps only its 16-bit input; one layer's activations are rebuilt at
# a time in the backward pass.
# The loss: bf16 logits (2 bytes), fp32 log-softmax kept for backward (4) and its fp32 gradient
# (4) live together at the peak of the loss backward: 10 bytes a token a vocabulary entry
# (transformers ForCausalLMLoss upcasts logits to fp32 before cross-entropy).
FT_LOGITS_BYTES_PER_VOCAB_ENTRY = 10
# Framework overhead a GPU: the CUDA context and cuBLAS/cuDNN workspaces PyTorch creates on
# first use, "between 300 MiB and 2 GiB" (vram.asmirnov.xyz, measured); we take 1 GiB.
# Plus what the method adds at the peak, from the architecture:
# - QLoRA: bitsandbytes dequantizes one NF4 weight to bf16 for each matmul (the largest linear
#   layer's bf16 copy is the transient buffer);
# - ZeRO-3 / FSDP full sharding: the gathered bf16 weights of the layer being computed and the
#   prefetched next one (FSDP forward_prefetch / DeepSpeed stage3_prefetch: 2 layers).
FT_FRAMEWORK_BYTES_PER_GPU = 1 * GIB
FT_SHARDED_GATHERED_LAYERS = 2
# Pure bf16 full fine-tuning (LLaMA-Factory pure_bf16, torchtune's default dtype=bf16): weights,
# gradients and 32-bit optimizer states all held in bf16, no fp32 master copy: 2 + 2 + 4 bytes a
# parameter with AdamW.
# The rule of thumb we compare with, GB per billion parameters (LLaMA-Factory README, "Hardware
# Requirement": Full AMP 18x, pure bf16 8x, LoRA 2x, QLoRA 4-bit x/2; PRIOR_ART section 3.6).
# Its 70B cells (LoRA 160 GB, QLoRA 48 GB) are those of the Llama 3.1 announcement's table
# (huggingface.co/blog/llama31, "Training memory requirements").
FT_RULE_OF_THUMB_GB_PER_BILLION = {"full": 18.0, "full-pure-bf16": 8.0, "lora": 2.0, "qlora": 0.5}
# The shortest training sequence the "shorten sequences" option offers (halving from the asked
# length): shorter than this, most instruction data would be cut mid-example.
FT_SHORTEST_SEQ_LEN = 256
# Defaults when the user names none (each is stated in the advisory as "the default"):
# LoRA, the method most people can run; 2048-token sequences (LLaMA-Factory's example configs use
# cutoff_len: 2048, and the published Llama 3.1 table compares at it, docs/finetune.md); one
# sequence a step; gradient checkpointing on (LLaMA-Factory and Unsloth turn it on by default);
# AdamW (transformers' Trainer default optimizer).
FT_DEFAULT_METHOD = "lora"
FT_DEFAULT_SEQ_LEN = 2048
FT_DEFAULT_MICRO_BATCH = 1
FT_DEFAULT_GRADIENT_CHECKPOINTING = True
FT_DEFAULT_OPTIMIZER = "adamw"
