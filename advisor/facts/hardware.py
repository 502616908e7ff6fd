"""Facts about what the card computes in natively: which weight formats run at full speed.

A format is native when the KB entry gives the card's throughput in it (fp16_tflops,
bf16_tflops, fp8_tflops, int8_tops) or its architecture's documentation lists it
(NATIVE_BY_ARCHITECTURE); a test checks that the two agree for every KB GPU that has both.
"""
from __future__ import annotations

from advisor.facts.question import Question
from advisor.kb.formats import native_formats
from advisor.kb.schema import GPU
from advisor.sizing.plan import Placement

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
