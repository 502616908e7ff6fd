"""Which tensor formats a GPU computes in natively, from its KB entry and its architecture."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.kb.schema import GPU

# Tensor formats each architecture computes in, by vendor documentation:
# - NVIDIA Pascal (Tesla P40, GP102, compute capability 6.1): no tensor cores and no BF16; FP16
#   arithmetic exists but at 2 results a clock an SM against 128 for FP32 (1/64): the KB gives the
#   P40's real FP16 rate (0.18 TFLOPS) and the speed model uses its FP32 rate, the faster of the two
#   (llama.cpp computes in FP32 and DP4A INT8 there). CUDA C++ Programming Guide, "Arithmetic Instructions" throughput table.
#   https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#arithmetic-instructions
# - NVIDIA: FP16 tensor cores since Volta; INT8 since Turing; BF16 since Ampere (sm_80); FP8
#   (E4M3/E5M2) since Ada Lovelace (sm_89) and Hopper (sm_90). vLLM's FP8 page: "FP8 computation
#   is supported on NVIDIA GPUs with compute capability > 8.9 (Ada Lovelace, Hopper)"; Ampere runs
#   FP8 checkpoints weight-only (W8A16, Marlin kernels), without FP8 math.
#   https://docs.vllm.ai/en/latest/features/quantization/fp8.html
# - AMD Instinct: CDNA 2 (MI200) FP16/BF16/INT8; CDNA 3 (MI300) adds FP8.
#   https://rocm.docs.amd.com/en/latest/reference/precision-support.html
# - Apple M-series GPUs compute in FP16 (Metal `half`); no FP8 or INT8 tensor math.
# - AMD RDNA 3 (RX 7900): WMMA instructions in FP16, BF16 and INT8 (AMD RDNA3 ISA guide, "WMMA");
#   no FP8. https://gpuopen.com/learn/wmma_on_rdna3/
# - Intel Xe2 (Arc B580): XMX engines in FP16, BF16 and INT8.
#   https://www.intel.com/content/www/us/en/products/docs/discrete-gpus/arc/desktop/b-series/overview.html
# - Intel Gaudi 2/3: MME in BF16, FP16 and FP8. https://docs.habana.ai/en/latest/
# - AMD CDNA 1 (MI100): Matrix Core instructions in FP32, FP16, BF16, INT8 and INT4; no FP8.
#   https://rocm.docs.amd.com/en/latest/reference/precision-support.html and AMD's MI100 launch
#   table (FP16 matrix 184.6, bfloat16 92.3 TFLOPS, INT8 184.6 TOPS).
# - AMD CDNA 4 (MI350X, MI355X): FP16, BF16, FP8 (OCP E4M3/E5M2), INT8, plus MXFP6/MXFP4 (not
#   formats of this table). https://rocm.docs.amd.com/en/latest/reference/precision-support.html
# - AMD RDNA 3.5 (Radeon 8060S in Ryzen AI Max, gfx1151): RDNA 3's WMMA, FP16, BF16 and INT8.
#   https://gpuopen.com/learn/wmma_on_rdna3/
# - AMD RDNA 4 (RX 9070 XT, gfx1201): WMMA in FP16, BF16, FP8/BF8 and INT8 (AMD "RDNA4 Instruction
#   Set Architecture" reference guide, WMMA section; AMD's RX 9070 material lists FP8 support).
#   https://gpuopen.com/amd-gpu-architecture-programming-documentation/
# - Intel Xe-HPG (Arc A-series, Alchemist): XMX engines in FP16, BF16, INT8 and INT4.
#   https://www.intel.com/content/www/us/en/docs/oneapi/optimization-guide-gpu/2024-0/intel-xe-gpu-architecture.html
NATIVE_BY_ARCHITECTURE: dict[str, tuple[str, ...]] = {
    "pascal": ("fp16",),
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
    "rdna3": ("fp16", "bf16", "int8"),
    "rdna3.5": ("fp16", "bf16", "int8"),
    "rdna4": ("fp16", "bf16", "fp8", "int8"),
    "cdna1": ("fp16", "bf16", "int8"),
    "cdna4": ("fp16", "bf16", "fp8", "int8"),
    "xe-hpg": ("fp16", "bf16", "int8"),
    "xe2": ("fp16", "bf16", "int8"),
    "gaudi2": ("fp16", "bf16", "fp8"),
    "gaudi3": ("fp16", "bf16", "fp8"),
}
_FORMAT_FIELDS = (("fp16", "fp16_tflops"), ("bf16", "bf16_tflops"), ("fp8", "fp8_tflops"),
                  ("int8", "int8_tops"))


def native_formats(gpu: GPU) -> tuple[str, ...]:
    """Formats the entry gives a throughput for, and those its architecture documents: a KB
    entry leaves a figure unset when no source gives it, which says nothing about support."""
    listed = {name for name, fld in _FORMAT_FIELDS if getattr(gpu, fld) is not None}
    documented = set(NATIVE_BY_ARCHITECTURE.get(gpu.architecture, ("fp16",)))
    return tuple(name for name, _ in _FORMAT_FIELDS if name in listed | documented)


