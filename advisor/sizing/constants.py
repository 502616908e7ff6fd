"""Every constant the sizing model uses, with the measurement or source it comes from.

Nothing else in advisor/ may hold a magic number about runtimes or hardware.
"""

MIB = 1 << 20
GIB = 1 << 30

# Runtimes whose engine is llama.cpp's (ggml): GGUF files, -ngl layer offload, llama.cpp's KV
# cache types, compute buffer and device context. Ollama runs the upstream llama-server binary
# for every GGML model since v0.30.0 ("runner: Remove CGO engines, use llama-server exclusively
# for GGML models", ollama/ollama#16031, commit 9db4bdbad, 2026-05-29), so its memory is
# llama.cpp's; what differs is its defaults (advisor/sizing/ollama.py).
GGML_RUNTIMES = ("llama.cpp", "ollama")
# The most devices one llama.cpp process drives, RPC servers included: llama_max_devices()
# returns 16 (src/llama.cpp; llama_model_params.tensor_split holds that many shares, and
# common/arg.cpp's -ts refuses 16 or more values: "got %d input configs, but system only has %d
# devices"); ggml's CUDA backend likewise stops at GGML_CUDA_MAX_DEVICES 16. Ollama runs llama.cpp.
# https://github.com/ggml-org/llama.cpp/blob/master/src/llama.cpp
LLAMA_MAX_DEVICES = 16
# Blocks a published GGUF of a Hugging Face class holds after the model's layers (its multi-token
# prediction "NextN" block): llama.cpp counts them among the layers it splits over devices
# (src/llama-model.cpp load_tensors: n_layer_all slots before the output layer) but loads none of
# their tensors (TENSOR_SKIP). convert_hf_to_gguf.py's Glm4MoeModel writes block_count =
# num_hidden_layers + num_nextn_predict_layers (1 for GLM-4.5, GLM-4.5-Air, GLM-4.6; ggml-org/
# llama.cpp convert_hf_to_gguf.py, "GLM4_MOE has num_hidden_layers + 1 actual layers (including
# NextN layer)"). The KB's layer counts leave the block out (kb/models/glm-4.5-air.yaml).
GGUF_TRAILING_BLOCKS = {"Glm4MoeForCausalLM": 1}
# Runtimes that split every layer over the GPUs (tensor parallel, pipeline stages for the rest of
# the count), keep every layer on the GPUs (no CPU offload) and batch with the same kind of CUDA
# kernels: vLLM and SGLang (whose decode is timed with vLLM's step model, uncalibrated for it).
TENSOR_PARALLEL_RUNTIMES = ("vllm", "sglang")

# CUDA/ROCm context and runtime reservations on each GPU before any tensor is allocated.
# Ollama's measured per-GPU minimum is 457 MiB for CUDA and ROCm (ollama llm/memory.go,
# quoted in ../shared/PRIOR_ART.md section 3.3); llmfit and whichllm use 0.5 GB.
RUNTIME_RESERVED_BYTES_PER_GPU = 457 * MIB
# llama.cpp on a data-center Hopper/Blackwell card: what llama.cpp's own memory breakdown
# prints as "unaccounted" (device memory in use minus its model, context and compute buffers:
# the CUDA context, cuBLAS handles and workspace, loaded kernel images, the VMM pool, CUDA
# graphs) was 598 MiB on an H200 (llama.cpp 0c1e570, CUDA 13.0, driver 580.159.04; 597-598 at
# every context, flash attention on or off: benchmarks/measured/h200-llamacpp-2026-11-30/
# memory_logs.txt). 141 MiB above Ollama's minimum: the context reserves local memory for every
# resident thread (132 SMs x 2048 threads on Hopper, against 1,536 a SM on GeForce Ampere/Ada)
# and CUDA 12/13 images are larger. Kept per architecture: on other cards no log was measured,
# so Ollama's 457 MiB stands (under-estimated by the same share on the 8B at 8K, the total
# would be 2% under the measured 6,276 MiB process; with 598 it is 0.1% over).
LLAMACPP_DEVICE_CONTEXT_BYTES = {"hopper": 598 * MIB, "blackwell": 598 * MIB}

# The compute graph buffer at llama.cpp's default micro-batch (n_ubatch = 512): its output phase
# holds the f32 logits (vocab x ubatch) and the f32 hidden state (hidden x ubatch), the terms
# gguf-parser's estimate is dominated by for dense models (PRIOR_ART section 3.3); the other
# phases are sized in advisor/sizing/runtime.py (LLAMACPP_* below).
COMPUTE_UBATCH_TOKENS = 512
COMPUTE_BYTES_PER_ELEMENT = 4

# The headroom below which a fit is "tight": llama.cpp's --fit-target default margin of
# 1024 MiB per device (llama.cpp common/arg.cpp; PRIOR_ART section 3.3).
FIT_MARGIN_BYTES_PER_GPU = 1024 * MIB

# --- Ollama (advisor/sizing/ollama.py). Read from ollama/ollama at v0.33.0-rc2, commit
# fb30760996871fa9460115c753afd2c60d4ab0f7 (2026-08-21); each with the file it is in there.
OLLAMA_VERSION = "0.33.0-rc2"
OLLAMA_COMMIT = "fb30760996871fa9460115c753afd2c60d4ab0f7"
# The default context (num_ctx) when neither the request, the Modelfile nor OLLAMA_CONTEXT_LENGTH
# sets one, by the total VRAM of the GPUs (each card's total less OLLAMA_GPU_OVERHEAD, summed):
# 262,144 from 47 GiB, 32,768 from 23 GiB, else 4,096 (server/routes.go Serve, "vram-based
# default context"; since v0.15.5, commit 0334ffa62, 2026-01-27; docs/context-length.mdx: "< 24
# GiB VRAM: 4k context, 24-48 GiB VRAM: 32k context, >= 48 GiB VRAM: 256k context"). Earlier
# releases: 2048 up to 0.5.x, 4096 from 0.6.x (docs/faq.md of those releases). The runner caps
# it at the model's trained context (llm/server.go NewLlamaServer: n_ctx_train).
OLLAMA_CONTEXT_TIERS = ((47 * GIB, 262144), (23 * GIB, 32768), (0, 4096))
# What Ollama's scheduler keeps free on every GPU before placing a model (ml/device.go
# MinimumMemory: 512 MiB on Metal, 457 MiB on CUDA, ROCm and Vulkan), besides the user's
# OLLAMA_GPU_OVERHEAD (bytes a GPU, default 0: envconfig/config.go).
OLLAMA_MINIMUM_MEMORY_BYTES = {"apple": 512 * MIB}
OLLAMA_MINIMUM_MEMORY_BYTES_DEFAULT = 457 * MIB
# OLLAMA_KV_CACHE_TYPE values Ollama documents (docs/faq.mdx "How can I set the quantization
# type for the K/V cache?": f16, q8_0, q4_0; they need flash attention); passed to llama-server
# as --cache-type-k/--cache-type-v (llm/llama_server.go startLlamaServer).
OLLAMA_KV_TYPES = {"fp16": "f16", "q8_0": "q8_0", "q4_0": "q4_0"}
# Flash attention by default where every GPU supports it (llm/llama_server.go
# LlamaServerFlashAttention -> `--flash-attn auto`, ml/device.go FlashAttentionSupported: CUDA
# compute capability 6.0+ except 7.2 (Jetson Xavier), ROCm, Metal, Vulkan); OLLAMA_FLASH_ATTENTION
# =1/0 forces it on or off. Architectures below Pascal are not in the KB; kept for user entries.
OLLAMA_NO_FLASH_ATTENTION_ARCHITECTURES = ("kepler", "maxwell")
# Parallel requests a model (OLLAMA_NUM_PARALLEL, default 1, envconfig/config.go): llama-server
# gets -c num_ctx x parallel and -np parallel (llm/llama_server.go startLlamaServer).
OLLAMA_NUM_PARALLEL_DEFAULT = 1
# Ollama's automatic num_batch for generation, passed to llama-server as -b and -ub (so it is
# the micro-batch the compute buffer is sized for): 512 up to 4,096 tokens of context (x
# parallel), 1,024 up to 32,768, 2,048 above; a larger one only while Ollama's prediction
# (the GGUF's size plus an f16 KV cache of 2 x layers x KV heads x head size x context) stays
# within 60% (2,048) or 75% (1,024) of the free GPU memory and, with a surcharge of 2 GiB
# (2,048) or 768 MiB (1,024), within 80%; else one step lower. Without flash attention on CUDA:
# 512, or 256 above 4,096 tokens on a card of 8 GiB or less (server/sched.go
# automaticGenerationBatch, generationBatchFits; llm/llama_server.go PredictServerVRAM).
OLLAMA_BATCH_TIERS = ((32768, 2048), (4096, 1024), (0, 512))
OLLAMA_BATCH_HEADROOM = {2048: 0.60, 1024: 0.75}
OLLAMA_BATCH_SURCHARGE_BYTES = {2048: 2 * GIB, 1024: 768 * MIB}
OLLAMA_BATCH_FIT_SHARE = 0.80
OLLAMA_BATCH_NO_FA_SMALL = 256
OLLAMA_BATCH_SMALL_CARD_BYTES = 8 * GIB

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

# Training time (advisor/sizing/train_time.py, docs/finetune.md "Training time"). Fitted by
# benchmarks/train_speed.py on the published runs in benchmarks/data/finetune_speed.csv: XTuner
# (Llama 3 8B full, 2-8 x A100), torchtune (Llama 3.1 8B-405B, RTX 4090 and 8 x A100) and Qwen's
# README (Qwen 1.8B-72B full, LoRA and Q-LoRA, 1-4 x A100), 68 rows used, all on A100 80GB and
# RTX 4090; run it for the fit, each row's error and the leave-one-out figures. A utilization is
# of the FLOPs a step executes (the recomputed forward included) at the card's dense BF16 rate.
FT_TRAIN_UTILIZATION = {"full": 0.50, "lora": 0.57}   # lora: also QLoRA's matrix products
# QLoRA dequantizes every NF4 weight in each pass; its cost, in bytes a weight at the card's
# memory bandwidth (far above the 2.5 bytes a weight read and written: per-layer kernels).
FT_QLORA_DEQUANT_BYTES_PER_WEIGHT = 19.4
# A fixed cost a micro-step (kernel launches, the Python loop, hooks, the optimizer step spread
# over the accumulated micro-steps): what keeps short sequences far from the utilization above.
FT_MICRO_STEP_OVERHEAD_S = 0.134
# Share of the QK^T and AV products a causal flash-attention kernel computes (it skips the masked
# upper triangle): 0.5. PaLM's 12 x L x H x Q x T counts the whole square (1.0); fitted with 1.0
# the published rows are predicted worse (leave-one-source-out median 67% against 26%).
FT_ATTENTION_CAUSAL_SHARE = 0.5
# The error of the fit (benchmarks/train_speed.py), quoted by every advisory that gives a time:
# in-sample median and p90 of |predicted / measured - 1|, and the median when each source is
# predicted by a fit that never saw it. Sharded runs (ZeRO-3) at short sequences are the worst
# (2-3x too fast): per-step communication and hooks are not modelled.
FT_TRAIN_FIT = {"rows": 68, "sources": 3, "median": 0.11, "p90": 0.55, "loso_median": 0.26,
                "gpus": "A100 80GB and RTX 4090"}
# The vendors whose cards the published runs cover: elsewhere the advisory says "uncalibrated".
FT_TRAIN_CALIBRATED_VENDORS = ("nvidia",)

# --- speed and placement
# Fitted by least squares on log(predicted/measured) over the llama.cpp rows of
# ../shared/reference/speed_benchmarks.csv (XiongjieDai, May 2024, no flash attention):
# python benchmarks/speed_accuracy.py prints the error of every row with these values.
# Decode time a token = (weight bytes x QUANT_FACTOR + KV bytes x ATTENTION_FACTOR) / effective
# bandwidth + layers x LAYER_SECONDS (+ a hop a GPU boundary with a layer split), where
# 1 / effective bandwidth = 1 / (BANDWIDTH_FRACTION x bandwidth) + 1 / (compute units x
# UNIT_GB_S). The unit term is Little's law: a kernel keeps a bounded number of bytes in flight
# a streaming multiprocessor, so cards with much bandwidth a unit (A100, H100: 17-18 GB/s an SM
# against 6-9 on GeForce) reach a smaller share of it. The layer term is kernel launch and
# synchronisation time, the same on every card (about 15 kernels a layer x 7-8 us).
DECODE_PROFILES = {
    # NVIDIA CUDA: 208 tg rows, 8 GPUs. Fit gives a fraction of 1.0 (bounded): the unit term
    # carries the shortfall. 48.1 GB/s an SM; 116 us a layer; attention reads K and V at
    # the weights' rate; k-quant kernels stream at the f16 rate; 72 us a GPU boundary.
    "nvidia": {"bandwidth_fraction": 1.0, "unit_gb_s": 48.1, "attention_factor": 1.0,
               "layer_seconds": 116e-6, "quant_factor": 1.0, "hop_seconds": 72e-6},
    # Apple Metal: 28 tg rows (M1 Max, M2 Ultra). Unified LPDDR5 reached at 77.5%; attention
    # without flash attention costs 8.5x its KV bytes (per-head matrix-vector products that do
    # not stream); k-quant dot products are ALU-bound on these GPUs at 1/1.46 of the f16 rate.
    "apple": {"bandwidth_fraction": 0.775, "unit_gb_s": None, "attention_factor": 8.46,
              "layer_seconds": 42.7e-6, "quant_factor": 1.46, "hop_seconds": 72e-6},
    # AMD ROCm/HIP: no rows in the reference set. llama.cpp's HIP backend is the CUDA code
    # compiled for ROCm, so the NVIDIA shape is kept with whichllm's measured AMD backend factor
    # (0.78 of NVIDIA at equal bandwidth; ../shared/PRIOR_ART.md section 3.5). Uncalibrated.
    "amd": {"bandwidth_fraction": 0.78, "unit_gb_s": 48.1, "attention_factor": 1.0,
            "layer_seconds": 116e-6, "quant_factor": 1.0, "hop_seconds": 72e-6},
}
# Intel and unknown vendors: whichllm's Intel factor 0.65 on the NVIDIA shape. Uncalibrated.
DECODE_PROFILES["intel"] = dict(DECODE_PROFILES["nvidia"], bandwidth_fraction=0.65, unit_gb_s=None)

# The same decode for current llama.cpp builds (CUDA graphs on by default since mid-2024,
# flash attention on by default since 2025, MMVQ kernels reworked in 2025). The May-2024 profile
# above over-predicts current decode time by 32-48% on an H200 (8B Q4_K_M 185 tok/s predicted,
# 270-274 measured): its 116 us a layer of launch and synchronisation is mostly gone, and on a
# card with 36 GB/s of bandwidth an SM the quantized matrix-vector kernels are limited by the
# SMs' dot-product rate, not by memory. Decode time a token =
#   layers x LAYER_SECONDS (kernel latency and tails left with CUDA graphs)
#   + max(weight bytes / (BANDWIDTH_FRACTION x bandwidth), weights / (SMs x WEIGHTS_PER_S_UNIT))
#   + max(KV bytes / (BANDWIDTH_FRACTION x bandwidth), KV elements / (SMs x KV_PER_S_UNIT)),
# a roofline each for the matrix-vector products and for flash-attention decode (memory and
# the SMs' rate overlap). BANDWIDTH_FRACTION is the H200's measured read bandwidth, 4.25 of 4.8
# TB/s (torch sum over 8 GiB: run_device.sh). The rest is fitted (benchmarks/fit_speed.py,
# least squares on log(predicted/measured)) on benchmarks/data/llamacpp_decode_current.csv:
# the H200 rows measured by the project (llama.cpp 0c1e570, 2026-10-01) and the batch-size-1
# rows llama.cpp's CUDA maintainer published in PRs 15802 (RTX 3090, Sept 2025) and 17505
# (RTX 4090, Nov 2025). Float weights stream at the bandwidth (no SM term: f16 dot products are
# cheap); every quantized type (Q8_0, k-quants, legacy, i-quants) shares one weight rate, the
# MMVQ int8 dot-product path they all take. Only NVIDIA has current rows; other vendors keep
# their May-2024 profiles.
DECODE_PROFILES_CURRENT = {
    # 10 rows, 3 GPUs: 40.9 us a layer; 22.8 G weights a second an SM (the H200's 132 SMs:
    # 3.0 T weights/s, so an 8B at any quantized type is SM-bound there, bandwidth-bound on a
    # 4090); flash-attention decode at 9.6 G KV elements a second an SM. Row errors -7.7% to
    # +4.2%; leaving the H200 out (fit on the two PR rows) its rows are off by 7.7% median
    # (worst 20.5%).
    "nvidia": {"bandwidth_fraction": 0.885, "layer_seconds": 40.9e-6,
               "weights_per_s_unit": 22.84e9, "kv_elements_per_s_unit": 9.58e9,
               "hop_seconds": 72e-6},
    # Apple Metal, current builds (flash attention on by default since llama-bench's "auto",
    # 2025): the same shape, with the ALU side of the weights' roofline counted per FP16 TFLOPS
    # of the GPU (the KB has no Apple core count; speed.current_decode_rates) and the KV cache
    # read at the bandwidth share (the flash-attention vec kernels stream it: the M2 Ultra's
    # Qwen3 0.6B rows lose 5.9 ms a token from 0 to 32,768 cached, what 3.8 GB at the fitted
    # share takes). Fitted by benchmarks/fit_speed.py on the "fit" rows of
    # benchmarks/data/llamacpp_apple_current.csv (see the FIT note there).
    # 9 rows, 4 GPUs (M2 Ultra, M1 Ultra, M1 Max, M4; 2026 builds): 0.837 of the bandwidth;
    # 117 us a layer (a Qwen3 0.6B or TinyLlama token costs about 3 ms beyond its bytes on an
    # Ultra); 42.2 G quantized weights a second per FP16 TFLOPS (an 8B at Q4_K_M is ALU-bound on
    # an M1 Max, 10.4 TFLOPS for 400 GB/s, and bandwidth-bound on an M4, 3.8 for 120). Row errors
    # -7.4% to +10.4%; leave-one-GPU-out median 11.7% (worst 15.5%).
    "apple": {"bandwidth_fraction": 0.8368, "layer_seconds": 117.1e-6,
              "weights_per_s_tflop": 4.217e10, "hop_seconds": 72e-6},
}
# Mixture-of-experts decode in llama.cpp (benchmarks/fit_moe_speed.py, fitted on
# benchmarks/data/llamacpp_moe_decode.csv). A MoE layer does more than a dense one: the router's
# matrix-vector product, softmax and top-k, then MUL_MAT_ID, one matrix-vector product over the
# k routed experts' rows for gate, up and down (each expert's rows a block set of its own, with
# its own tail), the weighting and the sum of the k expert outputs. The bytes are counted
# already (active_weight_bytes reads k of the experts); this is the time on top of them:
#   MoE layers x (MOE_LAYER_SECONDS + experts_active x ROUTED_EXPERT_SECONDS)
#   + layers x MLA_LAYER_SECONDS for a model with multi-head latent attention,
# on GPUs only (a CPU-held expert is read at RAM bandwidth: cpu_decode_seconds). Never below the
# roofline: every term only adds time, and the fit keeps each above 1e-7 s.
MOE_DECODE_PROFILES = {
    # current builds (since llama.cpp PR 13014, April 2025: MUL_MAT_ID at batch size 1 runs all
    # k experts in one MMVQ launch, with no host synchronisation, inside the CUDA graph; since
    # PR 12801, April 2025, DeepSeek's MLA decodes in its absorbed form: per-head products with
    # attn_k_b and attn_v_b around the 512 + 64 latent cache, kernels of its own a layer).
    # Fitted on the "fit" rows of the CSV (DGX Spark, RTX 4090, RTX PRO 6000, RTX 3090; 2025-08
    # to 2026-01 builds), 15 rows, 4 GPUs: 0.10 us a MoE layer (nothing measurable beyond the
    # routed experts), 3.69 us a routed expert (an expert's gate, up and down rows and its share
    # of the weighting and sum) and 82.6 us a layer of MLA. The MLA term rests on the two
    # DeepSeek-V2-Lite rows (RTX 3090, 0 and 32K cached), the only MLA rows with a current
    # build: without it they were +47% and +43% off, with it -2.5% and +3.1%. Row errors -14% to
    # +26%, median 3.3%; leave-one-GPU-out median 3.9%, worst 49.7% (V2-Lite with the RTX 3090
    # held out: no other row exercises the MLA term, so that fit cannot learn it).
    "current": {"moe_layer_seconds": 0.10e-6, "routed_expert_seconds": 3.69e-6,
                "mla_layer_seconds": 82.6e-6},
    # early-2025 builds (before PR 13014): MUL_MAT_ID copied the expert ids to the host,
    # synchronised, and ran each used expert as separate kernels (gather the input rows, quantize,
    # matrix-vector product, scatter back) for gate, up and down, with CUDA graphs off for the
    # graph. PR 13014's own table: deepseek2 16B Q4_0 tg128 27.3 -> 72.0 t/s on an RX 6800, 47.8
    # -> 71.1 on a P40. Host-bound, so one time a routed expert whatever the card; no MLA term
    # (those builds expanded the latent into per-head K and V: ordinary attention). Fitted on
    # the "era" row (DeepSeek R1 UD-IQ1_S on 2 x A100, llama.cpp issue 11474, January 2025); the
    # rest of the decode in that era is timed with the 2024-05 profile: 200.5 us a routed expert
    # (about 12 kernels and a host round trip each). Issue 15's targets, DeepSeek R1 UD-IQ1_S
    # on 2 x H100 (the "check" rows), are never fitted: predicted 9.59 tok/s against 11.89
    # measured (unsloth issue 1591: -19%) and "around 14" (unsloth's blog: -31%).
    "2025-01": {"moe_layer_seconds": 0.0, "routed_expert_seconds": 200.5e-6,
                "mla_layer_seconds": 0.0},
}
# Which decode profile the advisories use: the llama.cpp build people download now.
# "2024-05" is the XiongjieDai-era profile (DECODE_PROFILES), kept to score old measurements;
# "2025-01" is that profile with early-2025 MoE decode (MOE_DECODE_PROFILES["2025-01"]): what
# the January 2025 DeepSeek R1 runs were measured with.
LLAMACPP_ERAS = ("2024-05", "2025-01", "current")
DEFAULT_LLAMACPP_ERA = "current"
# The profile transformers' decode is timed with: the May-2024 fit it was given before the
# current-build profile existed (the current profile was fitted on llama.cpp rows only). vLLM's
# decode has its own step model, fitted on published vLLM/SGLang serving runs
# (VLLM_DECODE_PROFILE below; advisor.sizing.vllm_speed).
OTHER_RUNTIMES_ERA = "2024-05"

# vLLM's decode step (advisor.sizing.vllm_speed): CUDA graphs on (vLLM's default), weights and KV
# at a share of the bandwidth, the routed experts' grouped GEMM at a lower share, a fixed time a
# step, a layer and a MoE layer, two all-reduces a layer at a fitted latency over NVLink, and the
# compute roofline at large batches. Fitted by benchmarks/fit_vllm.py (sum of
# |log(predicted / measured)|) on benchmarks/data/vllm_serving.csv; python
# benchmarks/vllm_speed_accuracy.py prints the errors: 19 fitted rows (dense on H100, A100 40GB,
# RTX 4090; Qwen3-30B-A3B on an H100; DeepSeek R1 FP8 on 8 x H200 at concurrency 8-64 under
# SGLang; DeepSeek R1 AWQ on 8 x H100 at concurrency 1 under vLLM, July 2025). The all-reduce
# latency over NVLink is what a tensor-parallel group's single stream pays a layer beyond its
# reads, counted a ring step (a ring all-reduce of n GPUs takes 2(n - 1) steps): 6.0 us a step,
# 84 us an all-reduce on 8 GPUs (launch, the barrier, and the per-layer work that only a
# tensor-parallel step has), where 10 us had been assumed whatever the size, so DeepSeek R1 on
# 8 GPUs spends about 10 ms a step in its 122 all-reduces: the single-stream R1 row (62 tok/s)
# came out at 120 with the assumed figure. Only 8-GPU NVLink rows fit it: 2 GPUs get 12 us an
# all-reduce from the ring-step form, close to the assumed 10, unchecked by any row; other
# links (AMD's Infinity Fabric, PCIe) take the same ring-step time, or their own assumed
# latency where that is longer (ALLREDUCE_LATENCY_S). The MoE-layer time falls to nothing with it (Qwen3-30B-A3B on one
# H100, no all-reduce: -27% before, -9% after). The SGLang rows at concurrency 8 and 16 (2026
# builds, TPOT 12.8 ms at 8 sequences) now come out 30% and 23% slow: a 2026 SGLang step is
# faster than the July 2025 vLLM one, and the profile has one figure for both. NVIDIA rows only:
# other vendors use the same values, unfitted.
VLLM_DECODE_PROFILE = {"bandwidth_fraction": 0.894, "moe_bandwidth_fraction": 1.0,
                       "layer_seconds": 44.6e-6, "moe_layer_seconds": 0.27e-6,
                       "step_seconds": 794e-6, "hop_seconds": 72e-6,
                       "allreduce_hop_latency_s": 6.0e-6,
                       # not fitted (no published row is compute-bound): NVIDIA's prefill share
                       "compute_fraction": 0.748}

# NVIDIA streaming multiprocessors (SMs) are counted from the KB's core counts and the SM layout
# of the card's architecture (speed.compute_units), each figure from NVIDIA's architecture
# whitepaper (the SM diagram and its table of the flagship cards):
# - Volta: 64 FP32 lanes and 8 tensor cores an SM (Tesla V100: 80 SMs, 5,120 CUDA cores, 640
#   tensor cores; "NVIDIA Tesla V100 GPU Architecture", table 1,
#   https://images.nvidia.com/content/volta-architecture/pdf/volta-architecture-whitepaper.pdf);
# - Turing: 64 FP32 lanes and 8 tensor cores an SM (TU102, TU104, TU106; RTX 2080 Ti: 68 SMs,
#   4,352 and 544; T4: 40 SMs, 2,560 and 320; TU116/TU117, the GTX 16xx, keep the 64 lanes and
#   have no tensor cores; "NVIDIA Turing GPU Architecture", appendix A, https://images.nvidia.com/
#   aem-dam/en-zz/Solutions/design-visualization/technologies/turing-architecture/
#   NVIDIA-Turing-Architecture-Whitepaper.pdf);
# - Ampere: 4 tensor cores an SM; 64 FP32 lanes on GA100 (A100: 108 SMs, 6,912 and 432; "NVIDIA
#   A100 Tensor Core GPU Architecture", https://images.nvidia.com/aem-dam/en-zz/Solutions/
#   data-center/nvidia-ampere-architecture-whitepaper.pdf), 128 on GA10x (RTX 3090: 82 SMs,
#   10,496 and 328; "NVIDIA Ampere GA102 GPU Architecture", https://www.nvidia.com/content/PDF/
#   nvidia-ampere-ga-102-gpu-architecture-whitepaper-v2.pdf);
# - Ada Lovelace: 128 and 4 (RTX 4090: 128 SMs, 16,384 and 512; "NVIDIA Ada GPU Architecture",
#   https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf);
# - Hopper: 128 and 4 (H100 SXM5: 132 SMs, 16,896 and 528; "NVIDIA H100 Tensor Core GPU
#   Architecture", https://resources.nvidia.com/en-us-tensor-core/gtc22-whitepaper-hopper);
# - Blackwell: 128 and 4 (RTX 5090: 170 SMs, 21,760 and 680; "NVIDIA RTX Blackwell GPU
#   Architecture", https://images.nvidia.com/aem-dam/Solutions/geforce/blackwell/
#   nvidia-rtx-blackwell-gpu-architecture.pdf);
# - Pascal: no tensor cores; 128 FP32 lanes an SM on GP102/GP104 (Tesla P40: 30 SMs, 3,840
#   CUDA cores; "NVIDIA GeForce GTX 1080" whitepaper, https://international.download.nvidia.com/
#   geforce-com/international/pdfs/GeForce_GTX_1080_Whitepaper_FINAL.pdf), 64 on GP100 (P100).
# Tensor cores come first: their count an SM is one figure an architecture, where the lanes
# differ between GA100 and GA10x (and GP100 and GP10x); the lanes count cards without tensor
# cores (Pascal, GTX 16xx) at the architecture's consumer-die figure (128 for Ampere and Pascal:
# a GA100 or GP100 entry must give its tensor cores, or no count is made from its lanes).
# Until December 2026 the code took 4 tensor cores an SM on every card, which doubled the SMs of
# every Volta and Turing card (V100 160 for 80, T4 80 for 40).
TENSOR_CORES_PER_SM = {"volta": 8, "turing": 8, "ampere": 4, "ada-lovelace": 4, "hopper": 4,
                       "blackwell": 4}
FP32_LANES_PER_SM = {"pascal": 128, "volta": 64, "turing": 64, "ampere": 128,
                     "ada-lovelace": 128, "hopper": 128, "blackwell": 128}
# Stream processors a compute unit on AMD, to count CUs from the KB's shader cores: 64 on CDNA
# (MI300X: 304 CUs x 64 = 19,456, as kb/gpus/mi300x.yaml cites) and on RDNA. Apple has no core
# count in the KB: its rates go by FP16 TFLOPS (speed.current_decode_rates).
LANES_PER_UNIT = {"amd": 64}

# Prefill time a token = FLOPs x (1 / (COMPUTE_FRACTION x peak) + 1 / RUNTIME_CAP) + bytes / bandwidth.
# FLOPs = 2 x non-embedding parameters + 4 x layers x q_dim x mean context (QK^T and PV).
# Bytes: without flash attention llama.cpp writes the f32 KQ matrix (heads x context a token a
# layer) and reads it back through softmax and KQV: KQ_PASSES passes of 4 bytes; quantized
# weights are dequantized to f16 once a micro-batch (read q bytes, write 2 a parameter).
# Fit on 68 single-GPU pp rows (NVIDIA): compute fraction 0.748; runtime cap 245 TFLOPS (what
# llama.cpp's cuBLAS path reached on A100/H100 in May 2024, far below their 312/756 TFLOPS spec);
# 6.45 passes. GeForce cards: llama.cpp calls cuBLAS with FP16 accumulate (CUBLAS_COMPUTE_16F),
# twice the FP32-accumulate rate the KB lists (../shared/reference/README.md), so their peak x2.
PREFILL_PROFILES = {
    "nvidia": {"compute_fraction": 0.748, "runtime_cap_tflops": 245.0, "kq_passes": 6.45},
    # Apple Metal: 28 pp rows; fitted the same way (no matrix units: FP16 runs at the FP32 rate).
    "apple": {"compute_fraction": 0.62, "runtime_cap_tflops": None, "kq_passes": 0.44},
    # AMD: no rows; NVIDIA's shape with the decode backend factor. Uncalibrated.
    "amd": {"compute_fraction": 0.58, "runtime_cap_tflops": 245.0, "kq_passes": 6.45},
}
PREFILL_PROFILES["intel"] = dict(PREFILL_PROFILES["amd"], compute_fraction=0.49)
# Current builds (llama.cpp 0c1e570 on the H200): prompt processing of quantized weights runs
# in llama.cpp's own MMQ kernels (int8 tensor-core tiles on the quantized weights, no f16 copy
# of them), of float weights in cuBLAS; flash attention (on by default) never writes the KQ
# matrix. The May-2024 cap of 245 TFLOPS held for both paths; now they differ: F16 prefill of
# the 8B reached 21,793 tok/s (about 330 TFLOPS; the May-2024 profile predicts 11,949) and the
# quantized ones 9,100-10,800 (Q4_K_M, Q8_0: 140-165 TFLOPS, far under Hopper's int8 peak:
# MMQ does not use Hopper's warp-group instructions). MMQ is modelled as a rate an FP32 lane
# (CUDA core), the smaller of it and the card's peak share: its tiles' unpacking and scaling run
# on the FP32/INT32 lanes, which bound it, not the tensor cores (Volta has no int8 tensor cores
# and runs MMQ at the same rate a lane; Turing and Volta have 64 lanes an SM, half of Ampere
# GA10x, Ada, Hopper and Blackwell, and counting by SM, as tensor cores / 4 then did, put their
# prefill 66-108% high).
# Fitted by benchmarks/fit_speed.py on the quantized pp rows of
# benchmarks/data/llamacpp_decode_current.csv (empty cache, flash attention on or not stated):
# the H200 (measured by the project, llama.cpp 0c1e570), an RTX 2080 Ti (geerlingguy's
# ai-benchmarks issue 46, build 7474, Dec 2025) and an RTX 4090 and a V100 (the master column
# of llama.cpp PR 24127's tables, 2026). 10 rows, 4 GPUs: 8.67 GFLOPS a lane (1.11 TFLOPS a
# 128-lane SM); rows -24.3% (the 4090: its 2.5 GHz clock, a quarter above the H200's) to
# +43.4% (Llama 3.2 3B pp512 on the H200: a small model's norms, RoPE and launches are a
# larger share than its FLOPs say); leave-one-GPU-out median 10.6%, p90 28.5%.
# The float cap is fitted on the H200's F16 row (pp2048 where measured: pp512 varied by
# 11-23% between repetitions); compute fraction kept from the May-2024 fit.
PREFILL_PROFILES_CURRENT = {
    "nvidia": {"compute_fraction": 0.748, "kq_passes": 0.0,
               "runtime_cap_tflops": {"float": 600.0}, "mmq_gflops_per_lane": 8.67},
    # Apple Metal, current builds: no matrix units before the M5 and no MMQ path (Metal's mul_mm
    # dequantizes tiles in threadgroup memory), flash attention on: FLOPs at a share of the FP16
    # peak. Fitted by benchmarks/fit_speed.py on the pp rows of
    # benchmarks/data/llamacpp_apple_current.csv.
    # 4 rows, 3 GPUs: 0.70 of the FP16 peak (row errors -22.6%, the M4, to +26.0%, TinyLlama on
    # the M1 Ultra: a small model's norms, RoPE and attention are a larger share than its
    # FLOPs say). Too few rows for a band (speed_bands.yaml says uncalibrated).
    "apple": {"compute_fraction": 0.7012, "kq_passes": 0.0, "runtime_cap_tflops": None},
}
CONSUMER_FP16_ACCUMULATE_SPEEDUP = 2.0
PREFILL_UBATCH_TOKENS = 512   # llama.cpp n_ubatch default (llama-bench too)
# llama.cpp n_batch default (llama-bench -b 2048): a layer split pipelines the micro-batches of
# one batch over the GPUs (GGML_SCHED_MAX_COPIES), so at most 2048 / 512 = 4 are in flight.
PREFILL_BATCH_TOKENS = 2048
ACTIVATION_BYTES = 4          # llama.cpp keeps activations and KQ in f32

# System RAM assumed for CPU offload when the user states none: a desktop with 64 GiB of
# dual-channel DDR5-4800, 76.8 GB/s theoretical (2 channels x 8 bytes x 4800 MT/s); a server
# with 512 GiB of 8-channel DDR5-4800, 307.2 GB/s.
DEFAULT_RAM_BYTES = 64 * GIB
DEFAULT_RAM_BANDWIDTH_GB_S = 76.8
SERVER_RAM_BYTES = 512 * GIB
SERVER_RAM_BANDWIDTH_GB_S = 307.2
# The CPU's share of llama.cpp partial offload (-ngl N, --n-cpu-moe N): bytes read from system
# RAM at CPU_BANDWIDTH_FRACTION of its theoretical bandwidth, plus CPU_LAYER_SECONDS for each
# layer the CPU computes (the ggml CPU graph's per-op thread barriers and, for experts in RAM,
# the GPU-CPU-GPU hand-off every such layer). Fitted by benchmarks/fit_offload_speed.py on the
# 11 published runs of benchmarks/data/llamacpp_offload_decode.csv (RTX 2080 + i9-10900X with
# quad-channel DDR4 at 102 GB/s, AlexsJones/llmfit PRs 755/774/775/778, July 2026: seven -ngl
# runs of 9-24B dense models and three --n-cpu-moe runs; RTX PRO 6000 + Epyc 9374F with 12
# channels of DDR5-4800, llama.cpp PR 23346: DeepSeek-V3.2 Q8_0 with every expert in RAM).
# The dense -ngl rows sit within 25% at the former unfitted 0.6 (llama.cpp PR #1642's M1 CPU
# reached 0.78, whichllm uses 0.45); the expert-offload rows, whose CPU reads few bytes over
# many layers, were 41-59% too fast, which a bandwidth fraction cannot fix without slowing the
# dense rows (fraction alone: 0.476, p90 24%) and a per-layer cost does: with the fraction kept
# at 0.6 (fitting both gives 0.555 and 270 us) the layer cost fits at 331 us, median |error|
# 13.9% -> 9.2% and p90 44.8% -> 18.0% in-sample, 9.3% / 20.1% leaving each row out. Leaving
# each host out (only two) does not improve: the Epyc row alone asks for no layer cost (its
# 58 CPU layers come out 18% slow with it), so the cost is this data's, not a law; see
# docs/speed.md "CPU offload". Refitted at 297 us (from 330) once the GPU side's MoE time
# changed (MOE_DECODE_PROFILES: the MLA term and the refitted expert time, issue 15).
CPU_BANDWIDTH_FRACTION = 0.6
CPU_LAYER_SECONDS = 297e-6
# The CPU's side of a Mac's unified memory (llama.cpp -ngl N below the layers on Apple silicon,
# advisor.sizing.offload): the CPU layers are read at CPU_BANDWIDTH_FRACTION of the chip's
# memory bandwidth, at most APPLE_CPU_BANDWIDTH_CAP_GB_S, plus CPU_LAYER_SECONDS a layer. Checked,
# not fitted, against the published llama.cpp CPU-only runs on M-series chips (2023 builds; the
# whole model on the CPU, file sizes from llama.cpp PR 4766's llama-bench tables):
# - M1 Pro (200 GB/s), LLaMA 7B Q4_0, 8 threads: ~45 ms a token, "similar" to its GPU
#   (ggerganov, https://github.com/ggml-org/llama.cpp/issues/1727); predicted 41 ms (-8%);
# - M2 Pro Mac mini (200 GB/s, 8 P-cores), Llama 2 at llama.cpp 335acd2: 7B Q4_0 47.8 ms, 13B
#   Q4_0 73.4 ms, 7B F16 117.8 ms a token (XiongjieDai/GPU-Benchmarks-on-LLM-Inference issue 1,
#   https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/issues/1); predicted 41, 74
#   and 122 ms (-13%, +1%, +3%).
# The cap is an assumption: the CPU cores of an M1 Max do not reach the chip's 400 GB/s
# (AnandTech's review, "Huge Memory Bandwidth, but not for every Block",
# https://www.anandtech.com/show/17024/apple-m1-max-performance-review/2), so a Max or Ultra's
# CPU is taken to read no faster than the Pro chips' 200 GB/s the runs above use in full. No
# run on a Max, an Ultra or an M3/M4 CPU is checked: the CPU layers' speed on a Mac is
# uncalibrated (tests/test_mac_offload.py holds the runs above).
APPLE_CPU_BANDWIDTH_CAP_GB_S = 200.0

# Tensor parallelism: two all-reduces a layer of the hidden state (after attention and after
# the MLP). NCCL's small-message all-reduce latency is about 10 us over NVLink and 25 us over
# PCIe (nccl-tests busbw curves); the bytes move at the card's interconnect_gb_s. Uncalibrated.
ALLREDUCES_PER_LAYER = 2
ALLREDUCE_LATENCY_S = {"nvlink": 10e-6, "other": 25e-6}

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
# MXFP4 (OCP Microscaling FP4, gpt-oss's expert weights): blocks of 32 E2M1 values (16 bytes) and
# one E8M0 scale byte: 4.25 bits a weight (OCP MX spec v1.0; the checkpoint's *_blocks/*_scales).
MXFP4_BLOCK_SIZE = 32
MXFP4_BLOCK_BYTES = 17
# bitsandbytes LLM.int8: int8 weights and one fp32 scale (SCB) per output row.
INT8_SCALE_BYTES_PER_ROW = 4
# FP8 checkpoints (compressed-tensors, fbgemm_fp8): one fp32 weight scale per output channel.
FP8_SCALE_BYTES_PER_ROW = 4
# KV cache element sizes: (elements per block, bytes per block) of the ggml types llama.cpp's
# --cache-type-k/-v store: q8_0 8.5 bits an element, q5_1 6, q5_0 5.5, q4_1 5, q4_0 and iq4_nl
# 4.5 (gguf GGML_QUANT_SIZES, advisor/data/ggml_types.json). llama.cpp's list of cache types:
# kv_cache_types in common/arg.cpp (F32, F16, BF16, Q8_0, Q4_0, Q4_1, IQ4_NL, Q5_0, Q5_1),
# https://github.com/ggml-org/llama.cpp/blob/145b6280d6aa1890e22457143dad0badb3fd6820/common/arg.cpp
# mlx-lm's --kv-bits B (QuantizedKVCache, --kv-group-size 64): mx.quantize's affine packing, B
# bits a value and a 16-bit scale and bias a group of 64 (mlx_lm/models/cache.py at
# ml-explore/mlx-lm d78bf58e217c904ec282ed8da9b947491f78c022): 8.5 and 4.5 bits a value.
KV_DTYPE_BLOCKS = {"fp32": (1, 4), "fp16": (1, 2), "bf16": (1, 2), "fp8": (1, 1),
                   "mlx-8bit": (64, 68), "mlx-4bit": (64, 36),
                   "q8_0": (32, 34), "q4_0": (32, 18), "q4_1": (32, 20), "iq4_nl": (32, 18),
                   "q5_0": (32, 22), "q5_1": (32, 24)}
# The runtimes' own spellings of the same KV cache types: llama.cpp's --cache-type-k/v and
# Ollama's OLLAMA_KV_CACHE_TYPE say f16 and f32 (common/arg.cpp kv_cache_types at 145b628)
KV_DTYPE_SPELLINGS = {"f16": "fp16", "f32": "fp32"}
# llama.cpp's quantized cache types (a quantized V cache needs flash attention).
LLAMACPP_QUANT_KV = ("q8_0", "q5_1", "q5_0", "q4_1", "iq4_nl", "q4_0")
# KV precisions each runtime offers: llama.cpp --cache-type-k/v (f32, f16, bf16 and the quantized
# types above; no fp8), vLLM --kv-cache-dtype (auto = the model dtype, fp8), transformers'
# DynamicCache (model dtype).
RUNTIME_KV_DTYPES = {"llama.cpp": ("fp16", "bf16", "fp32", *LLAMACPP_QUANT_KV),
                     "vllm": ("fp16", "bf16", "fp8"),
                     "transformers": ("fp16", "bf16", "fp32"),
                     # Ollama: OLLAMA_KV_CACHE_TYPE's documented values (OLLAMA_KV_TYPES above)
                     "ollama": ("fp16", "q8_0", "q4_0"),
                     # mlx-lm: KVCache in the model's dtype; --kv-bits 8|4 (mlx-8bit, mlx-4bit)
                     "mlx": ("fp16", "bf16", "mlx-8bit", "mlx-4bit"),
                     # SGLang --kv-cache-dtype auto (the model dtype), fp8_e4m3, fp8_e5m2
                     "sglang": ("fp16", "bf16", "fp8")}
# llama.cpp pads the KV cache length to 256 cells with flash attention (on by default, "auto",
# on CUDA/Metal since 2025; llama_kv_cache::get_padding; gguf-parser: 256 with FA, else 32).
LLAMACPP_KV_PAD_TOKENS = 256
# mlx-lm's KVCache grows its K and V buffers in steps of 256 tokens (KVCache.step,
# mlx_lm/models/cache.py at ml-explore/mlx-lm d78bf58e217c904ec282ed8da9b947491f78c022).
MLX_KV_STEP_TOKENS = 256
# mlx_lm.generate's prefill_step_size: the prompt is processed 2,048 tokens at a time
# (generate_step, mlx_lm/generate.py at the same commit).
MLX_PREFILL_STEP_TOKENS = 2048
# llama.cpp's sliding-window layers keep n_swa + n_ubatch cells a sequence, padded
# (llama-kv-cache-iswa.cpp size_swa; llama.cpp logs "creating SWA KV cache, size = 1536 cells"
# for a 1024-token window at the default n_ubatch 512, and 1280 cells at -ub 256).
LLAMACPP_UBATCH_TOKENS = 512
# The compute buffer (llama.cpp 0c1e570, 2026-10-01: the build measured on the H200). ggml's
# graph allocator (ggml/src/ggml-alloc.c) frees each tensor after its last consumer and reuses
# the memory, so the buffer is the largest set of tensors alive at once, not their sum:
# - output phase: the f32 logits of every micro-batch token and the final hidden state,
#   4 x n_ubatch x (vocab + hidden); the KQ mask is freed after the last layer's attention.
#   8B at -fa on: 258.50 MiB at 8K, 32K and 131K alike (memory_logs.txt).
# - attention phase: the KQ mask, a graph input that every layer reads, so alive through all of
#   them (f16 with flash attention: src/llama-graph.cpp builds it as GGML_TYPE_F16 when
#   flash_attn, else F32), without flash attention the f32 scores of every query head,
#   n_ubatch x cells x heads x 4 (build_attn_mha: kq = ggml_mul_mat(k, q), softmax in place),
#   and the layer's working set: the residual, the normed input, Q, K, V and the attention
#   output, LLAMACPP_ATTN_WORKING_VECTORS hidden-sized f32 rows a token. 8B at -fa off:
#   564.01 / 2148.01 / 8484.01 MiB at 8K / 32K / 131K = cells x 512 x (4 x 32 + 4) + 36.01 MiB,
#   and 36 MiB = 4 x 512 x (4 x 4096 + 2 x 1024) (the GQA K and V rows are kv_heads wide).
# - FFN phase: the mask, the residual and gate, up and their product (3 x ffn) a token.
# Older builds: llama.cpp issue 9352 (Sept 2024, ROCm, Llama 3.1 70B at 131,072, -fa off)
# logged 16.80 GiB, this model 16.32 GiB (-3%): the scores dominate in every build. The Gemma
# log behind the earlier "f16 mask on top of the logits" term (its buffer grew 12.00 MiB from
# 4,096 to 16,384 cells) came from an older build and another allocation order; on the build
# measured here the mask does not add to the output phase (258.50 MiB at 131K cells, where
# an added mask would be 128 MiB more).
LLAMACPP_KQ_MASK_BYTES = 2
LLAMACPP_ATTN_WORKING_VECTORS = (2, 2, 2)   # (hidden-sized, q-sized, kv-sized) f32 rows a token
LLAMACPP_KQ_SCORE_BYTES = 4
LLAMACPP_KQ_MASK_BYTES_NO_FA = 4
LLAMACPP_ACTIVATION_BYTES = 4
# vLLM allocates the KV cache in blocks of 16 tokens a sequence (CacheConfig.block_size default).
VLLM_BLOCK_TOKENS = 16
# DeepSeek V3.2 (sparse MLA) in vLLM: FlashMLASparse pages are 64 tokens ("Forcing kv cache
# block size to 64 for FlashMLASparse backend.", vllm/platforms/cuda.py check_and_update_config).
VLLM_SPARSE_MLA_BLOCK_TOKENS = 64
# vLLM's DeepSeek V3.2 indexer key cache: FP8 values with one fp32 scale a block of 128
# ("fp8 naive cache"): index_head_dim + index_head_dim // 128 x 4 bytes a token a layer
# (vllm/model_executor/models/deepseek_v2.py, Indexer: DeepseekV32IndexerCache head_dim), 132
# for V3.2, whatever --kv-cache-dtype says. Its FP8 latent ("fp8_ds_mla", chosen for any fp8
# --kv-cache-dtype by vllm/model_executor/models/config.py DeepseekV32ForCausalLM) is 656 bytes:
# kv_lora_rank FP8 values, one fp32 scale a 128 of them, and the rope part in 16 bits.
VLLM_FP8_SCALE_BLOCK = 128
VLLM_FP8_SCALE_BYTES = 4
# Gated DeltaNet state elements: llama.cpp keeps the conv and recurrent states in F32
# (llama_memory_recurrent, type_r and type_s GGML_TYPE_F32 in llama_model::create_memory);
# vLLM in the model dtype (MambaStateDtypeCalculator.gated_delta_net_state_dtype with
# --mamba-cache-dtype auto), 16 bits for the BF16 checkpoints.
LLAMACPP_RECURRENT_STATE_BYTES = 4
MODEL_DTYPE_STATE_BYTES = 2
# vLLM (V1 engine, the default since v0.8; calibrated against v0.8-v0.11 start-up logs): the
# share of each GPU it may use (--gpu-memory-utilization, default 0.9: vllm/config CacheConfig).
VLLM_GPU_MEMORY_UTILIZATION = 0.9
# `vllm serve` scheduler defaults, (max_num_batched_tokens, max_num_seqs) for usage context
# OPENAI_API_SERVER: 8192 and 1024 on a GPU of at least 70 GiB that is not an A100, else 2048
# and 256 (vllm/engine/arg_utils.py EngineArgs.get_batch_defaults; vLLM's
# tests/engine/test_arg_utils.py test_defaults_with_usage_context asserts them).
VLLM_LARGE_GPU_BYTES = 70 * GIB
VLLM_BATCH_DEFAULTS_LARGE_GPU = (8192, 1024)
VLLM_BATCH_DEFAULTS = (2048, 256)
# Non-torch memory a rank after V1's start-up baseline (the CUDA context is in the baseline):
# 0.13 GiB at TP=1 (llm-d-benchmark config_explorer/empirical-vllm-memory-results.md, H100 V1
# logs: Llama-3.1-8B, Qwen3-0.6B, gpt-oss-20b 0.13 GiB, Qwen3-32B 0.14 GiB), and 0.55 GiB a rank
# at TP=2 (same file, Llama-3.3-70B-FP8 on 2 x H100): NCCL and custom all-reduce buffers take
# the 0.42 GiB difference. Assumed the same at larger TP.
VLLM_NON_TORCH_BYTES = int(0.13 * GIB)
VLLM_TP_COMM_BYTES = int(0.42 * GIB)
# Bytes an activation element: the 16-bit model dtype (bf16/fp16) the forward pass computes in.
VLLM_ACTIVATION_BYTES = 2
# The sampler's dummy run (vllm/v1/worker/gpu_model_runner.py _dummy_sampler_run) costs 38.4
# bytes a logit (max_num_seqs x vocab): fitted to five V1 H100 logs at 1024 sequences (same
# llm-d file: Llama-3.1-8B 4.76 GiB, Qwen3-0.6B 5.56, Qwen3-32B 5.64, gpt-oss-20b 7.38,
# Llama-3.3-70B TP=2 4.84 GiB activation peak; each gives 38.25-38.55 after the hidden states):
# about 9.6 fp32 values a logit (logits, the top-k/top-p sort's values and int64 indices,
# probabilities and their cumulative sum).
VLLM_SAMPLER_BYTES_PER_LOGIT = 38.4
# vLLM CUDA-graph capture: 0.64 GiB ("Graph capturing finished ... took 0.64 GiB", the granite
# row of memory_measurements.csv; the llm-d V1 logs show -0.45 to 1.03 GiB). Captured after the
# KV cache is allocated, so it is taken from the share gpu_memory_utilization leaves free.
VLLM_CUDA_GRAPH_BYTES = int(0.64 * GIB)
# vLLM's profiling method by release (advisor.sizing.vllm_memory.VLLM_VERSIONS): "v1", the V1
# engine every release since v0.8 runs by default (what an advisory assumes unless asked), and
# "0.5", the V0 engine of v0.5.3.post1-v0.5.x (July-August 2024), whose worker
# (vllm/worker/worker.py determine_num_available_blocks,
# https://github.com/vllm-project/vllm/blob/v0.5.3/vllm/worker/worker.py) reads the free memory
# once before NCCL is set up and once after the profiling run, and counts all of the difference.
VLLM_DEFAULT_VERSION = "v1"
# V0 scheduler defaults (vllm/config.py SchedulerConfig, v0.5.x): 256 sequences; the batched
# tokens are max(max_model_len, 2048), or 512 when chunked prefill is on, which v0.5.3.post1
# turns on by itself above a max_model_len of 32K ("Chunked prefill is enabled by default for
# models with max_model_len > 32K", https://github.com/vllm-project/vllm/pull/6666).
VLLM_V0_MAX_NUM_SEQS = 256
VLLM_V0_MIN_BATCHED_TOKENS = 2048
VLLM_V0_CHUNKED_TOKENS = 512
VLLM_V0_LONG_CONTEXT_TOKENS = 32768
# V0 non-torch memory on one GPU: 0.35 GiB (vLLM v0.6.4, Llama-3.1-8B on an RTX 3090,
# "non_torch_memory=0.35GiB" in every log of https://github.com/vllm-project/vllm/issues/10517).
VLLM_V0_NON_TORCH_BYTES = int(0.35 * GIB)
# V0 communication memory a rank under tensor parallel: NCCL's buffers of the two communicators
# set up after V0's first free-memory reading (vLLM's own pynccl one and torch.distributed's for
# the group: vllm/distributed/parallel_state.py GroupCoordinator), a part that comes with the
# group and a part for each other rank (NCCL's own account: memory grows with the channels and
# connections, https://github.com/NVIDIA/nccl/issues/986). Fitted to the two V0 H100 logs found:
# - TP=2, v0.6.5 dev, torch 2.5, Llama 3 8B on an H100 (https://github.com/vllm-project/vllm/pull/10511):
#   non_torch_memory 3.58 GiB against 1.79 at TP=1 in the same build, 1.79 GiB with the group;
# - TP=8, v0.5.3, meta-llama/Meta-Llama-3.1-405B-Instruct-FP8 as published in July 2024
#   (https://github.com/vllm-project/vllm/issues/6746): that checkpoint's config.json had 16 KV
#   heads, not 8 (Hugging Face fixed the repository in August: vLLM's Llama 3.1 FAQ,
#   https://github.com/vllm-project/vllm/issues/6689, 2024-08-16; SGLang overrode
#   num_key_value_heads to 8 for it, https://github.com/sgl-project/sglang/pull/723), so a rank
#   held 2 KV heads: 129,024 bytes of KV a token, and its bf16 attention 0.98 GiB more weights
#   than the 8-head model (57.70 GiB sized against the 57.752 logged). 0.9 x 79.18 GiB - 57.752
#   GiB of weights - 4,962 KV blocks (79,392 tokens x 129,024 bytes = 9.540 GiB) leaves 3.970 GiB
#   a rank; less 0.35 GiB (above) and the profiling run's 1.19 GiB activation peak (512 chunked
#   tokens; the sampler's 256 x 128,256 logits): 2.43 GiB at TP=8.
# Together: 1.683 GiB with the group and 0.107 GiB a peer (1.79 at TP=2, 2.43 at TP=8). (Read as
# the 8-head model, the TP=8 log had been fitted as 1.03 GiB a peer, 7.20 GiB at TP=8, which the
# TP=2 log contradicts.)
VLLM_V0_TP_COMM_GROUP_BYTES = int(1.683 * GIB)
VLLM_V0_TP_COMM_BYTES_PER_PEER = int(0.107 * GIB)
# vLLM data parallel on a mixture-of-experts model: every MoE layer's dispatch gathers the
# hidden states of all DP ranks' tokens on each rank (NaiveAll2AllManager.naive_multicast, the
# default VLLM_ALL2ALL_BACKEND "naive"; later "allgather_reducescatter" gathers alike), so the
# profiling run's fused-experts pass sees DP x max_num_batched_tokens tokens, its intermediate
# caches cut into chunks of VLLM_FUSED_MOE_CHUNK_SIZE tokens (32768, with
# VLLM_ENABLE_FUSED_MOE_ACTIVATION_CHUNKING on by default): vllm/envs.py at
# https://github.com/vllm-project/vllm/blob/001f69f8b52e0803c910525974d17010814947ad/vllm/envs.py
# (the v0.10 line the Qwen3-Coder recipe's DP=8 log came from; later releases chunk by 16384).
VLLM_FUSED_MOE_CHUNK_TOKENS = 32768


# bitsandbytes under transformers decodes slower than the same model at 16 bits, not faster: it
# dequantizes every weight on the fly (no tensor-core path for NF4 or LLM.int8's mixed int8/fp16
# decomposition). One sequence's decode speed as a share of the 16-bit model's on the same card:
# - int8 (LLM.int8): 0.25. Published: "The speed of LLM.int8 is 15% of FP16" (LLaMA 7B on an A100,
#   https://github.com/bitsandbytes-foundation/bitsandbytes/issues/181); "3-4x slower is about
#   what we'd expect for dynamic 8-bit" (a Hugging Face maintainer,
#   https://huggingface.co/facebook/musicgen-large/discussions/8); int8 "x2-x3 drop"
#   (https://github.com/bitsandbytes-foundation/bitsandbytes/issues/465). 0.25 lies between
#   15% and 1/3; the reports span bitsandbytes 0.39-0.42.
# - nf4: 0.75. Published: Mistral 7B NF4 36.5 tokens/s against 48.6 at FP16 (0.75,
#   https://github.com/bitsandbytes-foundation/bitsandbytes/issues/611, bitsandbytes 0.41, after
#   0.40.0's batch-1 4-bit kernel); "20-100% drop" for a 7B
#   (https://github.com/bitsandbytes-foundation/bitsandbytes/issues/465, before that kernel).
BITSANDBYTES_DECODE_SHARE = {"int8": 0.25, "nf4": 0.75}

# --- macOS's GPU wired-memory limit (advisor/sizing/wired.py)
# Memory a plan that raises `iogpu.wired_limit_mb` leaves to macOS and the apps the Mac runs:
# an eighth of it, at least 4 GiB. The bound Apple's own tooling gives is only "smaller than the
# memory size of the machine" (mlx-lm README, "Large Models", ml-explore/mlx-lm d78bf58e); the
# default limit leaves a third (machines up to 36 GB) or a quarter (above) to the system
# (GPU.gpu_memory_share). An eighth is this project's choice, the margin guides give for a Mac
# used for inference (24 GB: 20 GiB to the GPU; 64 GB: 56 GiB; 128 GB: 112 GiB).
MACOS_WIRED_RESERVE_FRACTION = 0.125
MACOS_WIRED_RESERVE_MIN_BYTES = 4 * GIB
# Memory a plan that splits llama.cpp's layers or experts between a Mac's GPU and its CPU
# (advisor.sizing.offload) leaves to macOS: an eighth, at least 3 GiB. Less than the wired
# reserve's floor because the CPU's part is ordinary pageable memory (macOS compresses or pages
# it under pressure; with mmap, the default, the weights are file-backed), where the GPU's is
# wired, which it cannot reclaim. Measured: gpt-oss-20b (ggml-org/gpt-oss-20b-GGUF, --n-cpu-moe
# 12 -c 32768 --no-mmap, the llama.cpp maintainer's recipe for a 16 GB Mac) ran on a 16 GB Mac
# mini M4 at about 26 tokens/s with 13.05 of 16 GB in use, macOS included, and 0.04 GB of swap
# (https://github.com/ml-explore/mlx-lm/issues/644; the recipe quoted in
# https://github.com/ggml-org/llama.vscode/issues/105): about 3 GB left. Metal's default
# working set on a 16 GB Mac is 10922.67 MB, two thirds (ggml_metal_init's
# recommendedMaxWorkingSetSize, https://github.com/abetlen/llama-cpp-python/issues/687).
MACOS_SPLIT_RESERVE_MIN_BYTES = 3 * GIB

# SGLang (python -m sglang.launch_server), advisor/sizing/sglang_memory.py. Sources, pinned:
# - the KV token pool: ModelRunnerKVCacheMixin.profile_max_num_token and get_cell_size_per_token,
#   https://github.com/sgl-project/sglang/blob/226149ac457bd1a1b5d450f55c01f72f604320d6/python/sglang/srt/model_executor/model_runner_kv_cache_mixin.py
# - the default --mem-fraction-static: ServerArgs._handle_gpu_memory_settings, the heuristic of
#   https://github.com/sgl-project/sglang/pull/10975 (autumn 2025, the 0.5 line; the first release carrying it was not read), as read in
#   python/sglang/srt/server_args.py of that line (docs/runtimes.md quotes it).
# --chunked-prefill-size and --cuda-graph-max-bs defaults by the card's memory (MiB, the
# capacity torch reports): (below this many MiB, chunked prefill tokens, graph batch at TP < 4,
# graph batch at TP >= 4); above the last bound 16,384 tokens and 512.
SGLANG_GPU_MEMORY_DEFAULTS = ((20 * 1024, 2048, 8, 8),      # T4, RTX 4080
                              (35 * 1024, 2048, 24, 80),    # A10, RTX 4090, RTX 5090
                              (60 * 1024, 4096, 32, 160),   # A100 40GB, L40
                              (90 * 1024, 8192, 256, 512),  # H100, A100 80GB
                              (160 * 1024, 8192, 256, 512))  # H20, H200
SGLANG_LARGE_GPU_DEFAULTS = (16384, 512)                    # B200, MI300X and larger
# reserved_mem (MiB) = 512 (attention backend metadata) + 1.5 x max(chunked_prefill_size, 2048)
# (prefill activations) + 2 x cuda_graph_max_bs (CUDA graphs) + tp x pp / 8 x 1024 (parallel
# groups); at least 10 GiB on a card above 60 GiB; mem_fraction_static = round((gpu_mem -
# reserved_mem) / gpu_mem, 3); 0.88 when the capacity is unknown.
SGLANG_RESERVED_BASE_MIB = 512
SGLANG_RESERVED_MIB_PER_PREFILL_TOKEN = 1.5
SGLANG_RESERVED_MIN_PREFILL_TOKENS = 2048
SGLANG_RESERVED_MIB_PER_GRAPH_BATCH = 2
SGLANG_RESERVED_MIB_PER_EIGHTH_RANK = 1024
SGLANG_RESERVED_FLOOR_ABOVE_MIB = 60 * 1024
SGLANG_RESERVED_FLOOR_MIB = 10 * 1024
SGLANG_FALLBACK_MEM_FRACTION = 0.88
# With --enable-dp-attention: reserved_mem += 3 x cuda_graph_max_bs x dp_size ("DP attention
# needs more padding for some operations"), and 1.5 x more when cuda_graph_max_bs > 300 ("much
# more memory for large cuda graph max bs").
SGLANG_DP_ATTENTION_MIB_PER_GRAPH_BATCH = 3
SGLANG_DP_ATTENTION_LARGE_GRAPH_BS = 300
SGLANG_DP_ATTENTION_LARGE_MIB_PER_GRAPH_BATCH = 1.5
# What SGLang's process holds on a GPU before it reads total_gpu_memory (after
# init_torch_distributed): the CUDA context (as for the other runtimes,
# RUNTIME_RESERVED_BYTES_PER_GPU) and, with more than one rank, NCCL's and the custom
# all-reduce buffers, assumed the size vLLM logs for them (VLLM_TP_COMM_BYTES; not measured for
# SGLang).
SGLANG_COMM_BYTES = VLLM_TP_COMM_BYTES
# The SGLang release line whose flags and defaults are modelled (advisor/data/runtime_flags.yaml).
SGLANG_VERSION = "0.5"
