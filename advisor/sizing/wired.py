"""macOS's GPU wired-memory limit on Apple silicon, as a lever.

Metal lets the GPU keep wired about recommendedMaxWorkingSetSize of a Mac's unified memory
(GPU.usable_memory_bytes: the KB's gpu_memory_share, two thirds on Macs up to 36 GB, three
quarters above). `sudo sysctl iogpu.wired_limit_mb=N` raises it until the next restart; llama.cpp,
Ollama and mlx-lm all size their GPU budget from it (advisor/sizing/mlx.py for MLX's reading of
it). A plan may raise it to what `raised_wired_limit_mb` leaves macOS (constants
MACOS_WIRED_RESERVE_*): the same Mac, run with a higher limit, is sized as a GPU whose share is
that limit (`with_wired_limit`).
"""
from __future__ import annotations

import copy

from advisor.kb.schema import GPU
from advisor.sizing import constants as c

_RAISED: dict = {}   # id(gpu) -> (gpu, its copy at the raised limit): one object a GPU, for memos


def raised_wired_limit_mb(gpu: GPU) -> int | None:
    """The `iogpu.wired_limit_mb` (MiB, a whole number of GiB) a plan may set on this Mac: its
    memory less an eighth (at least 4 GiB) for macOS, rounded down to a GiB; None on a discrete
    GPU, on a unified-memory part that is no Mac (DGX Spark, Ryzen AI Max: iogpu is macOS's)
    or where that is no more than the default limit."""
    if not gpu.unified_memory or gpu.vendor != "apple":
        return None
    mib = (gpu.memory_bytes - macos_reserve_bytes(gpu)) // c.GIB * 1024
    return mib if mib * c.MIB > gpu.usable_memory_bytes else None


def macos_reserve_bytes(gpu: GPU) -> int:
    """Bytes of a Mac's unified memory a plan leaves to macOS and the user's apps: an eighth of
    it, at least 4 GiB (constants MACOS_WIRED_RESERVE_*: this project's choice, the margin guides
    give for a Mac used for inference). The raised wired limit leaves it; a plan with layers on
    the CPU (advisor.sizing.offload) leaves macos_split_reserve_bytes, its floor lower. 0 on a discrete GPU (its host RAM is sized apart)."""
    if not gpu.unified_memory:
        return 0
    return max(c.MACOS_WIRED_RESERVE_MIN_BYTES, int(gpu.memory_bytes * c.MACOS_WIRED_RESERVE_FRACTION))


def macos_split_reserve_bytes(gpu: GPU) -> int:
    """Bytes of a Mac's unified memory a plan with llama.cpp layers or experts on the CPU
    (advisor.sizing.offload) leaves to macOS and the user's apps, the GPU's and the CPU's parts
    counted together: an eighth of it, at least 3 GiB (constants MACOS_SPLIT_RESERVE_MIN_BYTES,
    measured on a 16 GB M4; below the wired reserve's 4 GiB floor because the CPU's part is
    pageable). 0 on a discrete GPU (its host RAM is sized apart)."""
    if not gpu.unified_memory:
        return 0
    return max(c.MACOS_SPLIT_RESERVE_MIN_BYTES, int(gpu.memory_bytes * c.MACOS_WIRED_RESERVE_FRACTION))


def with_wired_limit(gpu: GPU, limit_mb: int) -> GPU:
    """The Mac `gpu` with its GPU allowed `limit_mb` MiB (usable_memory_bytes = the limit); the
    same object for the same GPU and limit, so plans memoised on the GPU's identity share it.
    Raises ValueError on a discrete GPU or a limit outside (0, memory]."""
    if not gpu.unified_memory or not 0 < limit_mb * c.MIB <= gpu.memory_bytes:
        raise ValueError(f"no wired limit of {limit_mb} MiB on {gpu.id}")
    hit = _RAISED.get((id(gpu), limit_mb))
    if hit is not None and hit[0] is gpu:
        return hit[1]
    # a copy with one field changed, not re-validated: the KB entry was, and the share is in
    # (0, 1] by the check above (the KB cache may keep an entry's sources apart from it)
    raised = copy.copy(gpu)
    object.__setattr__(raised, "gpu_memory_share", limit_mb * c.MIB / gpu.memory_bytes)
    if len(_RAISED) > 1024:
        _RAISED.clear()
    _RAISED[(id(gpu), limit_mb)] = (gpu, raised)
    return raised
