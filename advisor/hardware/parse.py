"""Pure parsers of the detection tools' output: text in, DetectedCard (or bytes of RAM) out.

Each function takes what a tool printed (already cut to advisor.limits.MAX_TOOL_OUTPUT_BYTES)
and returns what it could read; output it cannot read (garbage, an error message, another
version's layout) gives [] or None, never an exception. No I/O here: advisor.hardware.probe runs
the tools.

Formats (read from each vendor's documentation and published examples of the output):
- nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader,nounits: one line a
  GPU, comma-separated; memory.total in MiB; compute_cap "8.9" (absent before driver 510, when
  the query is retried without it).
- amd-smi static --asic --vram --json: a list of GPUs (or {"gpu_data": [...]}) with
  asic.market_name, asic.target_graphics_version ("gfx942"), vram.size ({"value": 196592,
  "unit": "MB"} or "196592 MB"; amd-smi's MB are MiB) and, in recent versions,
  vram.max_bandwidth ({"value": 5325, "unit": "GB/s"}).
- rocm-smi --showproductname --showmeminfo vram --json: {"card0": {"Card Series": ...,
  "VRAM Total Memory (B)": "..."}}; the name key varies between versions.
- sysctl -n machdep.cpu.brand_string hw.memsize: "Apple M2 Pro" then the bytes of memory;
  system_profiler SPDisplaysDataType -json: {"SPDisplaysDataType": [{"sppci_model": ...,
  "sppci_cores": "19"}]}.
- xpu-smi discovery -j: {"device_list": [{"device_name": ..., "memory_physical_size_byte": ...,
  "device_function_type": "physical"}]}.
- sycl-ls: lines "[level_zero:gpu][level_zero:0] Intel(R) Level-Zero, Intel(R) Arc(TM) A770
  Graphics 1.3 [1.3.26241]" (no memory size: such a card is described without one only if no
  other tool reported it).
- /proc/meminfo: "MemTotal:       65838628 kB".
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from advisor.limits import MAX_MEMORY_BYTES, MAX_NAME_CHARS

MIB = 1 << 20


@dataclass(frozen=True)
class DetectedCard:
    """One accelerator as a tool reported it. memory_bytes: None where the tool gives none;
    architecture: a KB architecture id (advisor.kb.formats) where the tool's figure maps to one;
    bandwidth_gb_s: only where the tool reports it; unified: an SoC sharing system memory."""
    vendor: str             # nvidia | amd | apple | intel
    name: str
    memory_bytes: int | None
    tool: str
    architecture: str | None = None
    bandwidth_gb_s: float | None = None
    unified: bool = False
    cores: int | None = None


def clean_name(text) -> str | None:
    """A card name fit to print: printable characters, single spaces, at most MAX_NAME_CHARS;
    None when nothing printable is left."""
    if not isinstance(text, str):
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())[:MAX_NAME_CHARS].strip()
    return text or None


def _memory(value: float | None) -> int | None:
    """Bytes of memory if plausible (1 MiB to MAX_MEMORY_BYTES), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = int(value)
    except (ValueError, OverflowError):
        return None
    return value if MIB <= value <= MAX_MEMORY_BYTES else None


def _number(text) -> float | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text) if math.isfinite(text) else None
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*", text)
    return float(m.group(1)) if m else None


# NVIDIA compute capability (major, minor) -> KB architecture (CUDA C++ Programming Guide,
# "Compute Capabilities": 6.x Pascal, 7.0/7.2 Volta, 7.5 Turing, 8.0/8.6/8.7 Ampere, 8.9 Ada,
# 9.0 Hopper, 10.x and 12.x Blackwell).
_NVIDIA_ARCH = {"6": "pascal", "7.0": "volta", "7.2": "volta", "7.5": "turing", "8.0": "ampere",
                "8.6": "ampere", "8.7": "ampere", "8.9": "ada-lovelace", "9.0": "hopper",
                "10": "blackwell", "11": "blackwell", "12": "blackwell"}


def nvidia_architecture(compute_cap: str) -> str | None:
    """The KB architecture of an NVIDIA compute capability ("8.9" -> ada-lovelace), or None."""
    cap = compute_cap.strip()
    if not re.fullmatch(r"[0-9]{1,2}\.[0-9]", cap):
        return None
    return _NVIDIA_ARCH.get(cap) or _NVIDIA_ARCH.get(cap.split(".")[0])


def parse_nvidia_smi(text: str) -> list[DetectedCard]:
    """nvidia-smi --query-gpu=name,memory.total[,compute_cap] --format=csv,noheader,nounits.
    A line that is not a name and a memory size in MiB (or "[N/A]", as unified-memory parts
    report it) is skipped."""
    cards = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2:
            continue
        name, mib = clean_name(parts[0]), _number(parts[1])
        if name is None:
            continue
        if mib is None and parts[1].strip("[]").upper() == "N/A":
            memory = None  # a unified-memory part (GB10, Jetson): matched by its name alone
        elif mib is None or _memory(mib * MIB) is None:
            continue
        else:
            memory = _memory(mib * MIB)
        arch = nvidia_architecture(parts[2]) if len(parts) > 2 else None
        cards.append(DetectedCard("nvidia", name, memory, "nvidia-smi", arch))
    return cards


def _json(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# AMD gfx target -> KB architecture (LLVM AMDGPU processor table: gfx908 CDNA 1, gfx90a CDNA 2,
# gfx94x CDNA 3, gfx950 CDNA 4, gfx110x RDNA 3, gfx115x RDNA 3.5, gfx120x RDNA 4).
_AMD_ARCH = (("gfx908", "cdna1"), ("gfx90a", "cdna2"), ("gfx94", "cdna3"), ("gfx950", "cdna4"),
             ("gfx110", "rdna3"), ("gfx115", "rdna3.5"), ("gfx120", "rdna4"))


def amd_architecture(target: str) -> str | None:
    """The KB architecture of an AMD gfx target ("gfx942" -> cdna3), or None."""
    target = target.strip().lower()
    return next((arch for prefix, arch in _AMD_ARCH if target.startswith(prefix)), None)


_UNITS = {"b": 1, "kb": 1 << 10, "mb": MIB, "gb": 1 << 30, "kib": 1 << 10, "mib": MIB,
          "gib": 1 << 30}


def _amd_size(size) -> int | None:
    """amd-smi's vram.size: {"value": N, "unit": "MB"} or "N MB" (its MB are MiB)."""
    if isinstance(size, dict):
        value, unit = _number(size.get("value")), size.get("unit", "MB")
    elif isinstance(size, str) and len(size.split()) == 2:
        value, unit = _number(size.split()[0]), size.split()[1]
    else:
        value, unit = _number(size), "MB"
    scale = _UNITS.get(str(unit).strip().lower())
    return None if value is None or scale is None else _memory(value * scale)


def _amd_bandwidth(rate) -> float | None:
    """amd-smi's vram.max_bandwidth in GB/s: {"value": 5325, "unit": "GB/s"} or "5325 GB/s"."""
    if isinstance(rate, dict):
        value, unit = _number(rate.get("value")), str(rate.get("unit", "GB/s"))
    elif isinstance(rate, str) and len(rate.split()) == 2:
        value, unit = _number(rate.split()[0]), rate.split()[1]
    else:
        return None
    if value is None or unit.strip().lower() != "gb/s" or not 1 <= value <= 1e6:
        return None
    return value


def parse_amd_smi(text: str) -> list[DetectedCard]:
    """amd-smi static --asic --vram --json."""
    data = _json(text)
    if isinstance(data, dict):
        data = data.get("gpu_data")
    if not isinstance(data, list):
        return []
    cards = []
    for gpu in data:
        if not isinstance(gpu, dict):
            continue
        asic = gpu.get("asic") if isinstance(gpu.get("asic"), dict) else {}
        vram = gpu.get("vram") if isinstance(gpu.get("vram"), dict) else {}
        name = clean_name(asic.get("market_name"))
        if name is None or name.upper() == "N/A":
            continue
        target = asic.get("target_graphics_version")
        units = asic.get("num_compute_units")
        cards.append(DetectedCard(
            "amd", name, _amd_size(vram.get("size")), "amd-smi",
            amd_architecture(target) if isinstance(target, str) else None,
            _amd_bandwidth(vram.get("max_bandwidth")),
            cores=units if isinstance(units, int) and not isinstance(units, bool) and units > 0 else None))
    return cards


_ROCM_NAME_KEYS = ("Card Series", "Card series", "Marketing Name", "Card SKU", "Card Model", "Card model")


def parse_rocm_smi(text: str) -> list[DetectedCard]:
    """rocm-smi --showproductname --showmeminfo vram --json (keys card0, card1, ...)."""
    data = _json(text)
    if not isinstance(data, dict):
        return []
    cards = []
    for key in sorted((k for k in data if re.fullmatch(r"card[0-9]+", str(k))), key=lambda k: int(k[4:])):
        info = data[key]
        if not isinstance(info, dict):
            continue
        name = next((clean_name(info[k]) for k in _ROCM_NAME_KEYS if clean_name(info.get(k))), None)
        if name is None:
            continue
        memory = _number(info.get("VRAM Total Memory (B)"))
        target = info.get("GFX Version")
        cards.append(DetectedCard("amd", name, _memory(memory) if memory is not None else None,
                                  "rocm-smi",
                                  amd_architecture(target) if isinstance(target, str) else None))
    return cards


def apple_architecture(chip: str) -> str | None:
    """apple-m1 ... apple-m4 from "Apple M2 Pro", or None."""
    m = re.search(r"\bM([1-9])\b", chip)
    return f"apple-m{m.group(1)}" if m else None


def parse_apple(sysctl_text: str, profiler_text: str | None = None) -> list[DetectedCard]:
    """`sysctl -n machdep.cpu.brand_string hw.memsize` (the chip, then bytes of memory), with
    `system_profiler SPDisplaysDataType -json` for the GPU's name and cores where sysctl's chip
    name is missing. An Apple M-series chip only: an Intel Mac's CPU is no accelerator here."""
    lines = [line.strip() for line in sysctl_text.splitlines() if line.strip()]
    chip = clean_name(lines[0]) if lines else None
    memory = _memory(_number(lines[1])) if len(lines) > 1 and _number(lines[1]) is not None else None
    cores = None
    profile = _json(profiler_text) if profiler_text else None
    shown = profile.get("SPDisplaysDataType") if isinstance(profile, dict) else None
    if isinstance(shown, list):
        for gpu in shown:
            if isinstance(gpu, dict) and str(gpu.get("sppci_model", "")).startswith("Apple M"):
                chip = chip if chip and chip.startswith("Apple M") else clean_name(gpu["sppci_model"])
                n = _number(gpu.get("sppci_cores"))
                cores = int(n) if n else None
                break
    if chip is None or not chip.startswith("Apple M") or memory is None:
        return []
    return [DetectedCard("apple", chip, memory, "sysctl", apple_architecture(chip), unified=True,
                         cores=cores)]


def parse_xpu_smi(text: str) -> list[DetectedCard]:
    """xpu-smi discovery -j: physical devices (virtual functions of SR-IOV are left out)."""
    data = _json(text)
    devices = data.get("device_list") if isinstance(data, dict) else data
    if not isinstance(devices, list):
        return []
    cards = []
    for dev in devices:
        if not isinstance(dev, dict) or str(dev.get("device_function_type", "physical")).lower() == "virtual":
            continue
        name = clean_name(dev.get("device_name"))
        if name is None:
            continue
        memory = _number(dev.get("memory_physical_size_byte"))
        cards.append(DetectedCard("intel", name, _memory(memory) if memory is not None else None, "xpu-smi"))
    return cards


def parse_sycl_ls(text: str) -> list[DetectedCard]:
    """sycl-ls: each Level Zero GPU once (the OpenCL lines name the same devices again)."""
    cards = []
    for line in text.splitlines():
        m = re.match(r"\s*\[(?:ext_oneapi_)?level_zero:gpu\]\s*\[[^\]]*\]\s*[^,]*,\s*(.+?)\s+[0-9]+\.[0-9]+\s*(\[.*\])?\s*$", line)
        if m and clean_name(m.group(1)):
            cards.append(DetectedCard("intel", clean_name(m.group(1)), None, "sycl-ls"))
    return cards


def parse_meminfo(text: str) -> int | None:
    """Bytes of RAM from /proc/meminfo's MemTotal (kB there are KiB), or None."""
    m = re.search(r"^MemTotal:\s+([0-9]{1,15})\s*kB\s*$", text, re.MULTILINE)
    return _memory(int(m.group(1)) * 1024) if m else None
