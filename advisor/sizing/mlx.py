"""MLX (mlx-lm) on Apple silicon: the wired-memory limit and the decode time model.

The wired limit. Metal lets the GPU keep wired (resident) about recommendedMaxWorkingSetSize of a
Mac's unified memory (GPU.usable_memory_bytes, from each KB entry's gpu_memory_share: two thirds
of memory on the smaller Macs, three quarters above, as llama.cpp's Metal log prints it).
mlx_lm.generate and mlx_lm.server raise MLX's wired limit to that size (mx.set_wired_limit of
mx.device_info()["max_recommended_working_set_size"], the `wired_limit` context manager of
mlx_lm/generate.py) and warn "[WARNING] Generating with a model that requires ..." when the
model takes more than 0.9 of it. A model larger than that but smaller than the machine's memory
runs slowly unless macOS's own limit is raised: `sudo sysctl iogpu.wired_limit_mb=N`, "N should
be larger than the size of the model in megabytes but smaller than the memory size of the
machine" (mlx-lm README, "Large Models"; both at ml-explore/mlx-lm
d78bf58e217c904ec282ed8da9b947491f78c022). The setting lasts until the next restart.

Decode time. Three published mlx-lm runs are kept (benchmarks/data/mlx_decode.csv: Llama 3.3 70B
4-bit on an M3 Max, Llama 3 70B 16-bit on an M2 Ultra, Qwen3 4B 4-bit on an M3 Pro), too few
to fit or band, so MLX decode is timed with the share of the memory bandwidth current llama.cpp
Metal builds reach (constants.DECODE_PROFILES_CURRENT["apple"], fitted on 2026 runs) and the
May-2024 Apple profile's time a layer (constants.DECODE_PROFILES["apple"]; the current profile's
117 us a layer is llama.cpp's launch overhead on tiny models): every byte of the active weights
and the KV cache read once a token. llama.cpp's terms for quantized dot products and for
attention are left out: MLX's affine kernels (quantized_matmul) and its fused decode attention
(mx.fast.scaled_dot_product_attention) are other code. Against the three runs this is -11%, +1%
and +2% (the May-2024 share gave -18%, -7% and -5%; tests/test_mlx_runtime.py); the figure's
band says "uncalibrated" (speed_category "mlx"), three runs being too few for a band.
"""
from __future__ import annotations

from advisor.kb.schema import GPU
from advisor.sizing import constants as c


def wired_limit_mb(needed_bytes: int, gpu: GPU) -> int | None:
    """The `iogpu.wired_limit_mb` that lets MLX keep `needed_bytes` (weights, KV cache, runtime
    buffers and the margin) wired on this Mac: the needed size in MiB rounded up to a whole GiB,
    or None when it is not needed (a discrete GPU, or it fits the default limit) or cannot help
    (needed_bytes is not below the machine's memory: the README's upper bound)."""
    if not gpu.unified_memory or needed_bytes <= gpu.usable_memory_bytes:
        return None
    mib = -(-needed_bytes // c.GIB) * 1024
    if mib * c.MIB >= gpu.memory_bytes:
        return None
    return mib


def mlx_decode_seconds(gpu: GPU, weight_bytes: int, kv_bytes: int, layers: int) -> float:
    """Seconds a token of one sequence: the bytes read (active weights and KV cache) at current
    Metal builds' bandwidth share, plus a time a layer (module docstring). Never faster than
    the bandwidth roofline."""
    share = c.DECODE_PROFILES_CURRENT["apple"]["bandwidth_fraction"]
    bw = share * gpu.bandwidth_gb_s * 1e9
    return (weight_bytes + kv_bytes) / bw + layers * c.DECODE_PROFILES["apple"]["layer_seconds"]
