"""Weight formats a user can ask for, by name, any case.

Four families:
- float: every tensor at the same width (fp32, fp16, bf16).
- checkpoint: the formats of quantized Hugging Face checkpoints (fp8, fp8-ffn, int8, int4, awq,
  gptq, nf4), whose linear layers are quantized while embeddings, lm_head and norms stay 16-bit
  (advisor.sizing.weights).
- gguf: llama.cpp file types (Q4_K_M ...), sized tensor by tensor (advisor.sizing.gguf_mix).
- mlx: MLX's affine quantization as mlx-lm writes it (`mlx_lm.convert -q --q-bits B
  --q-group-size 64`, the mlx-community "-4bit"/"-8bit" repos). mlx.core.quantize, mode
  "affine": every group of 64 consecutive weights of a row shares a scale and a bias "same as
  input" dtype (16-bit), and the weights are packed B bits each into uint32 words, so a
  quantized matrix costs B + 2 x 16 / 64 = B + 0.5 bits a weight (python/src/ops.cpp, the
  quantize docstring's table of modes, ml-explore/mlx 846d176227a0ac13d2667e58d2bb68b322109ab0).
  mlx_lm.utils.quantize_model quantizes every module with a `to_quantized` method (nn.Linear,
  nn.Embedding, the MoE SwitchLinear) whose input width divides by the group size; norms and
  biases stay 16-bit (ml-explore/mlx-lm d78bf58e217c904ec282ed8da9b947491f78c022).
  advisor.sizing.weights sizes them tensor by tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import AdvisorError


@dataclass(frozen=True)
class Precision:
    name: str        # canonical spelling, as shown to users
    family: str      # float | checkpoint | gguf
    quality_rank: int  # lower is closer to the 16-bit original; used to order quantize options
    summary: str


_ALL = [
    Precision("fp32", "float", 0, "32-bit floats"),
    Precision("fp16", "float", 1, "16-bit floats"),
    Precision("bf16", "float", 1, "bfloat16"),
    Precision("fp8", "checkpoint", 2, "FP8 (E4M3) linear layers, 16-bit embeddings and lm_head"),
    Precision("fp8-ffn", "checkpoint", 2, "FP8 feed-forward layers only, as Meta's Llama 3.1 FP8 "
              "release: attention and the first and last layers BF16"),
    Precision("Q8_0", "gguf", 2, "llama.cpp 8-bit (8.5 bits a weight)"),
    Precision("int8", "checkpoint", 2, "bitsandbytes LLM.int8: int8 linear layers, an fp32 scale a row"),
    Precision("Q6_K", "gguf", 3, "llama.cpp 6-bit k-quant"),
    Precision("Q6_K_L", "gguf", 3, "Q6_K with Q8_0 embeddings and output (bartowski)"),
    Precision("Q5_K_M", "gguf", 4, "llama.cpp 5-bit k-quant, medium mix"),
    Precision("Q5_K_L", "gguf", 4, "Q5_K_M with Q8_0 embeddings and output (bartowski)"),
    Precision("Q5_K_S", "gguf", 4, "llama.cpp 5-bit k-quant, small mix"),
    Precision("Q5_1", "gguf", 4, "llama.cpp legacy 5-bit with offset (6 bits a weight)"),
    Precision("Q5_0", "gguf", 4, "llama.cpp legacy 5-bit (5.5 bits a weight)"),
    Precision("Q4_K_M", "gguf", 5, "llama.cpp 4-bit k-quant, medium mix"),
    Precision("Q4_K_L", "gguf", 5, "Q4_K_M with Q8_0 embeddings and output (bartowski)"),
    Precision("Q4_K_S", "gguf", 5, "llama.cpp 4-bit k-quant, small mix"),
    Precision("Q4_1", "gguf", 5, "llama.cpp legacy 4-bit with offset (5 bits a weight)"),
    Precision("Q4_0", "gguf", 5, "llama.cpp legacy 4-bit (4.5 bits a weight)"),
    Precision("qat-q4_0", "gguf", 5, "Google's quantization-aware-trained Q4_0 GGUF (Gemma 3): "
              "every matrix Q4_0, the token embeddings F16"),
    Precision("IQ4_NL", "gguf", 5, "llama.cpp 4-bit non-linear (4.5 bits a weight)"),
    Precision("IQ4_XS", "gguf", 5, "llama.cpp 4-bit i-quant (4.25 bits a weight)"),
    Precision("int4", "checkpoint", 5, "4-bit weights, 16-bit activations (W4A16: compressed-tensors, GPTQ-style groups of 128)"),
    Precision("awq", "checkpoint", 5, "AWQ 4-bit, group size 128: fp16 scales, 4-bit zeros"),
    Precision("gptq", "checkpoint", 5, "GPTQ 4-bit, group size 128: fp16 scales, 4-bit zeros, g_idx"),
    Precision("gptq-int8", "checkpoint", 2, "GPTQ 8-bit, group size 128"),
    Precision("gptq-int3", "checkpoint", 6, "GPTQ 3-bit, group size 128"),
    Precision("gptq-int2", "checkpoint", 8, "GPTQ 2-bit, group size 128"),
    Precision("nf4", "checkpoint", 5, "bitsandbytes NF4 with double quantization (QLoRA)"),
    Precision("MXFP4_MOE", "gguf", 5, "llama.cpp MXFP4 experts (4.25 bits), Q8_0 elsewhere"),
    Precision("mxfp4", "checkpoint", 5, "MXFP4 experts (4.25 bits), everything else BF16, as "
              "gpt-oss ships"),
    Precision("Q3_K_L", "gguf", 6, "llama.cpp 3-bit k-quant, large mix"),
    Precision("Q3_K_XL", "gguf", 6, "Q3_K_L with Q8_0 embeddings and output (bartowski)"),
    Precision("Q3_K_M", "gguf", 6, "llama.cpp 3-bit k-quant, medium mix"),
    Precision("Q3_K_S", "gguf", 6, "llama.cpp 3-bit k-quant, small mix"),
    Precision("IQ3_M", "gguf", 6, "llama.cpp 3-bit i-quant, medium mix"),
    Precision("IQ3_S", "gguf", 6, "llama.cpp 3-bit i-quant (3.44 bits a weight)"),
    Precision("IQ3_XS", "gguf", 6, "llama.cpp 3-bit i-quant, extra small"),
    Precision("IQ3_XXS", "gguf", 6, "llama.cpp 3-bit i-quant (3.06 bits a weight)"),
    Precision("Q2_K", "gguf", 7, "llama.cpp 2-bit k-quant"),
    Precision("Q2_K_L", "gguf", 7, "Q2_K with Q8_0 embeddings and output (bartowski)"),
    Precision("Q2_K_S", "gguf", 7, "llama.cpp 2-bit k-quant, small mix"),
    Precision("IQ2_M", "gguf", 8, "llama.cpp 2-bit i-quant, medium mix"),
    Precision("IQ2_S", "gguf", 8, "llama.cpp 2-bit i-quant (2.56 bits a weight)"),
    Precision("IQ2_XS", "gguf", 8, "llama.cpp 2-bit i-quant (2.31 bits a weight)"),
    Precision("IQ2_XXS", "gguf", 8, "llama.cpp 2-bit i-quant (2.06 bits a weight)"),
    Precision("IQ1_M", "gguf", 9, "llama.cpp 1-bit i-quant (1.75 bits a weight)"),
    Precision("IQ1_S", "gguf", 9, "llama.cpp 1-bit i-quant (1.56 bits a weight)"),
    Precision("mlx-8bit", "mlx", 2, "MLX affine 8-bit, group size 64 (8.5 bits a weight)"),
    Precision("mlx-6bit", "mlx", 3, "MLX affine 6-bit, group size 64 (6.5 bits a weight)"),
    Precision("mlx-4bit", "mlx", 5, "MLX affine 4-bit, group size 64 (4.5 bits a weight)"),
    Precision("mlx-3bit", "mlx", 6, "MLX affine 3-bit, group size 64 (3.5 bits a weight)"),
]
# MLX affine formats: bits a quantized weight, and the group size mlx_lm.convert uses by default
# (quantize_model's mode_defaults: "affine": (64, 4); the bits are --q-bits).
MLX_BITS = {"mlx-8bit": 8, "mlx-6bit": 6, "mlx-4bit": 4, "mlx-3bit": 3}
MLX_GROUP_SIZE = 64
_BY_KEY = {p.name.lower(): p for p in _ALL}
# Other spellings users type: GGUF's F16/BF16/F32 file types, MXFP4 alone, bnb's names.
_ALIASES = {"f16": "fp16", "f32": "fp32", "bnb-nf4": "nf4",
            "bnb-int8": "int8", "q4_k": "Q4_K_M", "q5_k": "Q5_K_M", "q3_k": "Q3_K_M",
            # mlx-community's repo suffixes (Llama-3.2-3B-Instruct-4bit)
            "mlx-4": "mlx-4bit", "mlx-8": "mlx-8bit", "mlx-6": "mlx-6bit", "mlx-3": "mlx-3bit",
            "mlx-q4": "mlx-4bit", "mlx-q8": "mlx-8bit",
            # Google's repo suffix is "qat-q4_0"; Ollama's Gemma 3 tags end in "-qat"
            "q4_0-qat": "qat-q4_0", "qat": "qat-q4_0"}



def parse_precision(name: str) -> Precision:
    key = name.strip().lower()
    p = _BY_KEY.get(key) or _BY_KEY.get(_ALIASES.get(key, "").lower())
    if p is None:
        from advisor.errors import closest

        near = closest(name, [q.name for q in _ALL])
        hint = f"; closest known: {', '.join(near)}" if near else ""
        known = ", ".join(q.name for q in _ALL)
        raise AdvisorError(f"unknown precision '{name}'{hint} (known: {known})")
    return p


def all_precisions() -> list[Precision]:
    return list(_ALL)
