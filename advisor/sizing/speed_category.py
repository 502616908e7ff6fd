"""Which measured error band a speed figure belongs to (docs/speed.md, "Error bands").

A speed figure is a prediction; how far it can be trusted depends on how it was made and on
whether the benchmark (benchmarks/speed_accuracy.py) has published runs made the same way.
speed_category() names that way, from what decides the prediction: the figure's kind, the
runtime, the GPU vendor, the profile era the prediction is timed with, MoE or dense, CPU
offload and the GPU count. The benchmark labels each of its rows with this same function, so a
category's band is the error of exactly the rows that were predicted the way an advisory's
figure is. The bands themselves are data (advisor/data/speed_bands.yaml, written by
`python benchmarks/speed_accuracy.py --write-bands`), read by advisor.speed_bands.

Everything here is pure: no file is read.
"""
from __future__ import annotations

from advisor.sizing import constants as c

KINDS = ("decode", "prefill", "serving")
# Vendors with llama.cpp runs in the benchmark; any other gets its vendor's category.
MEASURED_VENDORS = ("nvidia", "apple")
# Runtimes with their own categories (no runs of theirs in the benchmark).
OTHER_RUNTIMES = ("vllm", "transformers", "mlx", "sglang")
VENDOR_NAMES = {"nvidia": "NVIDIA", "apple": "Apple", "amd": "AMD", "intel": "Intel"}

# The categories that are not llama.cpp on a measured vendor, with why no band can be given
# (the reason an advisory prints when the data file has no rows for them).
_FIXED = {
    "amd": ("AMD GPUs", ("no profile fitted for this vendor: the NVIDIA fit scaled by a "
                         "published ROCm backend factor")),
    "intel": ("Intel GPUs", ("no published measurement for this vendor, the NVIDIA fit scaled by "
                             "a published SYCL backend factor")),
    "vllm": ("vLLM decode and serving", ("no published vLLM runs in the benchmark "
                                         "(benchmarks/data/vllm_serving.csv)")),
    "vllm-prefill": ("vLLM prompt processing", ("no published vLLM prompt-processing runs in the "
                                                "benchmark, timed with llama.cpp's May-2024 "
                                                "prefill profile")),
    "transformers": ("transformers", ("no published transformers runs in the benchmark, timed "
                                      "with llama.cpp's May-2024 profile")),
    "mlx": ("MLX (mlx-lm)", ("too few published mlx-lm runs for a band (3, "
                             "benchmarks/data/mlx_decode.csv: 5-18% slower than measured), timed "
                             "with llama.cpp's Apple bandwidth share")),
    "sglang": ("SGLang decode and serving", ("no published SGLang single-stream "
                                             "runs in the benchmark, timed with vLLM's step "
                                             "model (the same kind of CUDA kernels)")),
    "serving": ("serving at concurrency", "no published runs at concurrency in the benchmark"),
    "offload": ("CPU offload", ("too few published partial-offload runs in the benchmark "
                                "(benchmarks/data/llamacpp_offload_decode.csv)")),
    "mac-offload": ("CPU layers on a Mac", (
        "no published partial-offload runs on a Mac in the benchmark; the CPU side is checked "
        "against four published CPU-only llama.cpp runs on M1 Pro and M2 Pro chips (2023 builds, "
        "constants.APPLE_CPU_BANDWIDTH_CAP_GB_S)")),
    "moe": ("llama.cpp decode of mixture-of-experts models", (
        "no published MoE runs in the benchmark (benchmarks/data/llamacpp_moe_decode.csv)")),
    "moe-prefill": ("llama.cpp prompt processing of mixture-of-experts models", (
        "no published MoE prompt-processing runs in the benchmark, the dense fit applied to the "
        "active experts")),
}


def profile_era(kind: str, runtime: str, vendor: str) -> str:
    """The build profile a figure of this kind is timed with ("current" or "2024-05"):
    llama.cpp's current-build profile where its vendor has one (constants.DECODE_PROFILES_CURRENT,
    PREFILL_PROFILES_CURRENT), else the May-2024 one; other runtimes' decode is timed with
    constants.OTHER_RUNTIMES_ERA and their prefill with the May-2024 profile. Serving uses the
    decode profile."""
    if kind not in KINDS:
        raise ValueError(f"unknown speed kind '{kind}' (known: {', '.join(KINDS)})")
    if runtime not in c.GGML_RUNTIMES:  # Ollama runs llama.cpp's engine: timed as llama.cpp
        return c.OTHER_RUNTIMES_ERA if kind != "prefill" else "2024-05"
    if c.DEFAULT_LLAMACPP_ERA == "2024-05":
        return "2024-05"
    table = c.PREFILL_PROFILES_CURRENT if kind == "prefill" else c.DECODE_PROFILES_CURRENT
    return "current" if vendor in table else "2024-05"


def llamacpp_category(kind: str, vendor: str, era: str, multi_gpu: bool) -> str:
    """The id of a llama.cpp, dense, all-on-GPU category: e.g. decode-llamacpp-nvidia,
    prefill-llamacpp-nvidia-multi-gpu-2024-05 (the era is named when it is not the current one)."""
    return (f"{kind}-llamacpp-{vendor}{'-multi-gpu' if multi_gpu else ''}"
            f"{'-2024-05' if era == '2024-05' else ''}")


def speed_category(kind: str, runtime: str, vendor: str, era: str, moe: bool, offload: bool,
                   gpus: int) -> str:
    """The category of one speed figure; the first that applies:

    1. the vendor when it has no runs in the benchmark (amd, intel);
    2. the runtime when it is not llama.cpp (vllm: decode and serving, vllm-prefill;
       transformers);
    3. serving: the total of all sequences at the largest batch that fits (kind "serving");
    4. offload: some layers or routed experts in system RAM (llama.cpp -ngl, --n-cpu-moe);
       mac-offload: some layers on a Mac's CPU (advisor.sizing.offload, unified memory);
    5. moe (decode) or moe-prefill: a mixture-of-experts model;
    6. llama.cpp, dense, all on the GPUs: kind, vendor, one GPU or several (layer split), era
       (llamacpp_category).

    kind: decode (one sequence, any context), prefill (prompt processing, and the time to first
    token it dominates) or serving. era: the profile the figure was timed with (profile_era).
    The batch does not enter: decode and prefill are one sequence's figures, as every benchmark
    row is; the figure at a batch is the serving one. Raises ValueError on an unknown kind or era.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown speed kind '{kind}' (known: {', '.join(KINDS)})")
    if era not in c.LLAMACPP_ERAS:
        raise ValueError(f"unknown era '{era}' (known: {', '.join(c.LLAMACPP_ERAS)})")
    if vendor not in MEASURED_VENDORS:
        return vendor
    if runtime == "vllm":  # its own step model (advisor/sizing/vllm_speed.py) for decode at any batch
        return "vllm-prefill" if kind == "prefill" else "vllm"
    if runtime not in c.GGML_RUNTIMES:  # Ollama runs llama.cpp's engine: its categories
        return runtime
    if kind == "serving":
        return "serving"
    if offload:
        return "mac-offload" if vendor == "apple" else "offload"
    if moe:
        return "moe" if kind == "decode" else "moe-prefill"
    return llamacpp_category(kind, vendor, era, gpus > 1)


def all_categories() -> dict[str, tuple[str, str]]:
    """Every category speed_category() can return: id -> (what it covers, in words; why it has
    no band when the benchmark has no rows for it)."""
    out = {}
    for kind in ("decode", "prefill"):
        for vendor in MEASURED_VENDORS:
            for multi in (False, True):
                for era in c.LLAMACPP_ERAS:
                    what = (f"llama.cpp {kind} on {'several' if multi else 'one'} "
                            f"{VENDOR_NAMES[vendor]} GPU{'s' if multi else ''}"
                            f"{' (May-2024 profile)' if era == '2024-05' else ''}")
                    out[llamacpp_category(kind, vendor, era, multi)] = (
                        what, "no published runs of this kind in the benchmark")
    return {**out, **_FIXED}
