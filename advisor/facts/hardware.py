"""Facts about what the card computes in natively: which weight formats run at full speed.

A format is native when the KB entry gives the card's throughput in it (fp16_tflops,
bf16_tflops, fp8_tflops, int8_tops). An entry that gives no throughput at all falls back to its
architecture's generation (NATIVE_BY_ARCHITECTURE); a test checks that the two agree for every
KB GPU that has both.
"""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.kb.schema import GPU
from advisor.sizing.plan import Placement

# Tensor formats each architecture computes in, by vendor documentation:
# - NVIDIA: FP16 tensor cores since Volta; INT8 since Turing; BF16 since Ampere (sm_80); FP8
#   (E4M3/E5M2) since Ada Lovelace (sm_89) and Hopper (sm_90). vLLM's FP8 page: "FP8 computation
#   is supported on NVIDIA GPUs with compute capability > 8.9 (Ada Lovelace, Hopper)"; Ampere runs
#   FP8 checkpoints weight-only (W8A16, Marlin kernels), without FP8 math.
#   https://docs.vllm.ai/en/latest/features/quantization/fp8.html
# - AMD Instinct: CDNA 2 (MI200) FP16/BF16/INT8; CDNA 3 (MI300) adds FP8.
#   https://rocm.docs.amd.com/en/latest/reference/precision-support.html
# - Apple M-series GPUs compute in FP16 (Metal `half`); no FP8 or INT8 tensor math.
NATIVE_BY_ARCHITECTURE: dict[str, tuple[str, ...]] = {
    "volta": ("fp16",),
    "turing": ("fp16", "int8"),
    "ampere": ("fp16", "bf16", "int8"),
    "ada-lovelace": ("fp16", "bf16", "fp8", "int8"),
    "hopper": ("fp16", "bf16", "fp8", "int8"),
    "blackwell": ("fp16", "bf16", "fp8", "int8"),
    "cdna2": ("fp16", "bf16", "int8"),
    "cdna3": ("fp16", "bf16", "fp8", "int8"),
    "apple-m1": ("fp16",),
    "apple-m2": ("fp16",),
    "apple-m3": ("fp16",),
    "apple-m4": ("fp16",),
}
_FORMAT_FIELDS = (("fp16", "fp16_tflops"), ("bf16", "bf16_tflops"), ("fp8", "fp8_tflops"),
                  ("int8", "int8_tops"))

FACTS: dict[str, tuple[str, str]] = {
    "gpu_architecture": ("str", "the card's architecture as the KB names it (ampere, hopper ...)"),
    "gpu_native_formats": ("str", "tensor formats the card computes in, comma-separated"),
    "gpu_native_bf16": ("bool", "the card computes in bfloat16"),
    "precision_native": ("bool", "the card computes in the asked format (GGUF: dequantized on "
                                 "any card, so true)"),
    "precision_native_alternative": ("str", "a format of about the same size the card runs "
                                            "natively; only when precision_native is false"),
}
ALWAYS = {"gpu_architecture", "gpu_native_formats", "gpu_native_bf16", "precision_native"}

# The same-size format to use where the asked one is not native.
_ALTERNATIVE = {"bf16": "fp16", "fp8": "Q8_0", "int8": "Q8_0"}


def native_formats(gpu: GPU) -> tuple[str, ...]:
    """Formats from the throughput fields the entry gives, else from its architecture."""
    listed = tuple(name for name, fld in _FORMAT_FIELDS if getattr(gpu, fld) is not None)
    if listed:
        return listed
    return NATIVE_BY_ARCHITECTURE.get(gpu.architecture, ("fp16",))


def precision_is_native(gpu: GPU, precision_name: str, family: str) -> bool:
    if family == "gguf" or precision_name in ("fp32", "int4"):
        return True  # llama.cpp dequantizes in its kernels; int4 GPTQ/AWQ kernels compute in fp16
    return precision_name in native_formats(gpu)


def contribute(q: Question, pl: Placement, f: dict) -> None:
    formats = native_formats(q.gpu)
    native = precision_is_native(q.gpu, q.precision.name, q.precision.family)
    f.update(gpu_architecture=q.gpu.architecture, gpu_native_formats=", ".join(formats),
             gpu_native_bf16="bf16" in formats, precision_native=native)
    if not native and q.precision.name in _ALTERNATIVE:
        f["precision_native_alternative"] = _ALTERNATIVE[q.precision.name]
