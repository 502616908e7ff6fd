"""Run the detection tools found on PATH (the I/O edge of advisor.hardware) and parse their output.

Every tool runs with no input, in its own process group, for at most TOOL_TIMEOUT_S seconds and
MAX_TOOL_OUTPUT_BYTES of output (advisor.limits); a tool that hangs, floods or fails is killed
and recorded as a problem, never an exception or a hang. Tools are looked up on PATH only.
"""
from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from advisor.hardware.parse import (
    DetectedCard,
    parse_amd_smi,
    parse_apple,
    parse_meminfo,
    parse_nvidia_smi,
    parse_rocm_smi,
    parse_sycl_ls,
    parse_xpu_smi,
)
from advisor.limits import MAX_TOOL_OUTPUT_BYTES, TOOL_TIMEOUT_S

# Set to 1 to skip NVML (pynvml), which reads the driver directly instead of through PATH.
NO_NVML_ENV = "ADVISOR_NO_NVML"


@dataclass
class Detection:
    """What the tools reported: each card, RAM (bytes and where it was read), the tools that
    answered, and the problems met (a tool that timed out, failed or printed nothing usable)."""
    cards: list[DetectedCard] = field(default_factory=list)
    ram_bytes: int | None = None
    ram_source: str | None = None
    tools: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_tool(argv: list[str], timeout_s: float = TOOL_TIMEOUT_S,
             limit: int = MAX_TOOL_OUTPUT_BYTES) -> tuple[str | None, str | None]:
    """(standard output, None) of a tool that exited 0 within timeout_s printing at most `limit`
    bytes; (None, what went wrong) otherwise. The tool's whole process group is killed on a
    timeout or too much output. argv[0] must be a path or a name on PATH."""
    exe = shutil.which(argv[0])
    if exe is None:
        return None, f"{argv[0]}: not found"
    try:
        proc = subprocess.Popen([exe, *argv[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "LC_ALL": "C"})
    except OSError as exc:
        return None, f"{argv[0]}: cannot run ({exc.strerror or exc})"
    chunks, size, problem = [], 0, None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                problem = f"{argv[0]}: no answer in {timeout_s:g} s (killed)"
                break
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                problem = f"{argv[0]}: more than {limit:,} bytes of output (killed)"
                break
    if problem is None:
        try:
            code = proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            problem = f"{argv[0]}: no answer in {timeout_s:g} s (killed)"
        else:
            if code != 0:
                problem = f"{argv[0]}: exited with status {code}"
    if problem is not None:
        _kill(proc)
    proc.stdout.close()
    if problem is not None:
        return None, problem
    return b"".join(chunks).decode("utf-8", errors="replace"), None


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        proc.kill()
    try:
        proc.wait(1)
    except subprocess.TimeoutExpired:
        pass


def _tool(d: Detection, argv: list[str], parse, timeout_s: float):
    """Run one tool and parse its output; records the tool or the problem. [] when absent."""
    if shutil.which(argv[0]) is None:
        return []
    text, problem = run_tool(argv, timeout_s)
    if problem:
        d.problems.append(problem)
        return []
    cards = parse(text)
    if cards:
        d.tools.append(argv[0])
    else:
        d.problems.append(f"{argv[0]}: reported no GPU it could be read for")
    return cards


_NVIDIA_QUERY = "--query-gpu=name,memory.total,compute_cap"
_NVIDIA_FORMAT = "--format=csv,noheader,nounits"


def _nvidia(d: Detection, timeout_s: float) -> list[DetectedCard]:
    if shutil.which("nvidia-smi") is not None:
        text, problem = run_tool(["nvidia-smi", _NVIDIA_QUERY, _NVIDIA_FORMAT], timeout_s)
        if problem is not None and "no answer" not in problem and "more than" not in problem:
            # drivers before 510 do not know compute_cap and refuse the whole query
            text, problem = run_tool(["nvidia-smi", "--query-gpu=name,memory.total", _NVIDIA_FORMAT],
                                     timeout_s)
        if problem:
            d.problems.append(problem)
            return []
        cards = parse_nvidia_smi(text)
        if cards:
            d.tools.append("nvidia-smi")
        else:
            d.problems.append("nvidia-smi: reported no GPU it could be read for")
        return cards
    if os.environ.get(NO_NVML_ENV) == "1":
        return []
    return _nvml(d)


def _nvml(d: Detection) -> list[DetectedCard]:
    """NVML through pynvml, only where it is installed (it is no dependency of advisor)."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - absent, or a broken install: no NVML, as without it
        return []
    from advisor.hardware.parse import clean_name, nvidia_architecture

    cards = []
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError (no driver): nothing detected through NVML
        return []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            name = clean_name(name.decode("utf-8", "replace") if isinstance(name, bytes) else name)
            memory = int(pynvml.nvmlDeviceGetMemoryInfo(h).total)
            try:
                major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(h)
                arch = nvidia_architecture(f"{major}.{minor}")
            except Exception:  # noqa: BLE001 - an old driver without the call
                arch = None
            if name:
                cards.append(DetectedCard("nvidia", name, memory, "nvml", arch))
    except Exception as exc:  # noqa: BLE001 - any NVMLError: a problem recorded, not a crash
        d.problems.append(f"nvml: {type(exc).__name__}")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001,S110 - shutting down after a failure may fail too
            pass
    if cards:
        d.tools.append("nvml")
    return cards


def detect(timeout_s: float = TOOL_TIMEOUT_S, meminfo: Path = Path("/proc/meminfo")) -> Detection:
    """Every accelerator the tools on PATH report, and the system RAM. NVIDIA: nvidia-smi (NVML
    through pynvml where nvidia-smi is absent and pynvml is installed); AMD: amd-smi, else
    rocm-smi; Apple: sysctl (and system_profiler); Intel: xpu-smi, else sycl-ls. RAM:
    /proc/meminfo, else sysctl hw.memsize."""
    d = Detection()
    d.cards += _nvidia(d, timeout_s)
    amd = _tool(d, ["amd-smi", "static", "--asic", "--vram", "--json"], parse_amd_smi, timeout_s)
    if not amd:
        amd = _tool(d, ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"],
                    parse_rocm_smi, timeout_s)
    d.cards += amd
    d.cards += _apple(d, timeout_s)
    intel = _tool(d, ["xpu-smi", "discovery", "-j"], parse_xpu_smi, timeout_s)
    if not intel:
        intel = _tool(d, ["sycl-ls"], parse_sycl_ls, timeout_s)
    d.cards += intel
    if d.ram_bytes is None:
        _ram(d, meminfo, timeout_s)
    return d


def _apple(d: Detection, timeout_s: float) -> list[DetectedCard]:
    if shutil.which("sysctl") is None:
        return []
    text, _ = run_tool(["sysctl", "-n", "machdep.cpu.brand_string", "hw.memsize"], timeout_s)
    if text is None or not text.lstrip().startswith("Apple"):
        return []  # Linux's sysctl, or an Intel Mac: no Apple GPU
    profile = None
    if shutil.which("system_profiler") is not None:
        profile, problem = run_tool(["system_profiler", "SPDisplaysDataType", "-json"], timeout_s)
        if problem:
            d.problems.append(problem)
    cards = parse_apple(text, profile)
    if cards:
        d.tools.append("sysctl")
        d.ram_bytes, d.ram_source = cards[0].memory_bytes, "sysctl hw.memsize"
    else:
        d.problems.append("sysctl: reported no Apple chip it could be read for")
    return cards


def _ram(d: Detection, meminfo: Path, timeout_s: float) -> None:
    try:
        with open(meminfo, "rb") as f:
            text = f.read(MAX_TOOL_OUTPUT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        text = None
    if text is not None:
        ram = parse_meminfo(text)
        if ram is not None:
            d.ram_bytes, d.ram_source = ram, str(meminfo)
            return
    if sys.platform == "darwin" and shutil.which("sysctl") is not None:
        out, _ = run_tool(["sysctl", "-n", "hw.memsize"], timeout_s)
        value = out.strip() if out else ""
        if value.isdigit():
            d.ram_bytes, d.ram_source = int(value), "sysctl hw.memsize"
