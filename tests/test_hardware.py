"""Hardware detection (advisor.hardware): the tools' output parsed, cards matched to the KB, and
explain / fit / generate answering for the detected set when no GPU is named (issue 16).

The tools are stand-in executables (shell scripts named nvidia-smi, amd-smi, sysctl ...) in a
folder that is the whole PATH, so no real GPU or driver of the machine running the tests is seen
(NVML is turned off with ADVISOR_NO_NVML).
"""
from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.cli.sources import load_kb_from
from advisor.errors import AdvisorError
from advisor.hardware import Detection, this_machine
from advisor.hardware.match import match_card, resolve
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
from advisor.hardware.probe import detect, run_tool

MIB, GIB = 1 << 20, 1 << 30
KB = load_kb_from()


def _script(folder, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """A folder that is the whole PATH; returns a function that puts a stand-in tool there
    printing `output` (or running `body`)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("ADVISOR_NO_NVML", "1")

    def add(name: str, output: str | None = None, body: str | None = None):
        if body is None:
            (folder / f"{name}.out").write_text(output)
            body = f"/bin/cat '{folder / (name + '.out')}'"
        _script(folder, name, body)
    return add


def run(*args):
    return CliRunner().invoke(main, list(args))


def _json(r) -> dict:
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


# -- parsing ---------------------------------------------------------------------------------

def test_nvidia_smi_lines_are_cards_and_garbage_is_skipped():
    text = ("NVIDIA GeForce RTX 4090, 24564, 8.9\n"
            "NVIDIA H100 80GB HBM3, 81559, 9.0\n"
            "garbage\n, 12, 1.0\nNVIDIA X, lots, 8.0\nNVIDIA GB10, [N/A], 12.1\n")
    cards = parse_nvidia_smi(text)
    assert [(c.name, c.memory_bytes, c.architecture) for c in cards] == [
        ("NVIDIA GeForce RTX 4090", 24564 * MIB, "ada-lovelace"),
        ("NVIDIA H100 80GB HBM3", 81559 * MIB, "hopper"),
        ("NVIDIA GB10", None, "blackwell")]
    assert parse_nvidia_smi("\x00\xff" * 100) == [] and parse_nvidia_smi("") == []
    # drivers before 510: no compute_cap column
    assert parse_nvidia_smi("Tesla T4, 15360")[0].architecture is None


def test_amd_smi_both_layouts_and_rocm_smi():
    gpu = {"gpu": 0, "asic": {"market_name": "AMD Instinct MI300X", "target_graphics_version": "gfx942"},
           "vram": {"size": {"value": 196592, "unit": "MB"}, "max_bandwidth": {"value": 5300, "unit": "GB/s"}}}
    for text in (json.dumps([gpu]), json.dumps({"gpu_data": [gpu]})):
        [c] = parse_amd_smi(text)
        assert (c.name, c.memory_bytes, c.architecture, c.bandwidth_gb_s) == \
            ("AMD Instinct MI300X", 196592 * MIB, "cdna3", 5300)
    old = {"asic": {"market_name": "AMD Radeon RX 7900 XTX"}, "vram": {"size": "24560 MB"}}
    assert parse_amd_smi(json.dumps([old]))[0].memory_bytes == 24560 * MIB
    assert parse_amd_smi("not json") == [] and parse_amd_smi("[1, 2, null]") == []
    rocm = {"card1": {"Card Series": "AMD Radeon RX 7900 XTX", "VRAM Total Memory (B)": "25753026560"},
            "card0": {"Card series": "AMD Instinct MI210", "VRAM Total Memory (B)": "68702699520"},
            "system": {"Driver version": "6.8"}}
    assert [c.name for c in parse_rocm_smi(json.dumps(rocm))] == ["AMD Instinct MI210", "AMD Radeon RX 7900 XTX"]


def test_apple_intel_and_meminfo():
    [c] = parse_apple("Apple M2 Pro\n17179869184\n",
                      '{"SPDisplaysDataType": [{"sppci_model": "Apple M2 Pro", "sppci_cores": "19"}]}')
    assert (c.vendor, c.memory_bytes, c.architecture, c.unified, c.cores) == \
        ("apple", 16 * GIB, "apple-m2", True, 19)
    assert parse_apple("Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz\n34359738368\n") == []
    assert parse_apple("") == []
    xpu = {"device_list": [{"device_name": "Intel(R) Arc(TM) A770 Graphics", "memory_physical_size_byte": "17102532608"},
                           {"device_name": "Intel(R) Arc VF", "device_function_type": "virtual"}]}
    [c] = parse_xpu_smi(json.dumps(xpu))
    assert c.memory_bytes == 17102532608
    sycl = ("[opencl:gpu][opencl:0] Intel(R) OpenCL Graphics, Intel(R) Arc(TM) A770 Graphics OpenCL 3.0 NEO  [24.09.28717.12]\n"
            "[level_zero:gpu][level_zero:0] Intel(R) Level-Zero, Intel(R) Arc(TM) A770 Graphics 1.3 [1.3.28717]\n")
    assert [c.name for c in parse_sycl_ls(sycl)] == ["Intel(R) Arc(TM) A770 Graphics"]
    assert parse_meminfo("MemTotal:       65838628 kB\nMemFree: 1 kB\n") == 65838628 * 1024
    assert parse_meminfo("garbage") is None


# -- matching --------------------------------------------------------------------------------

@pytest.mark.parametrize("vendor, name, mib, kb_id", [
    # names as the tools print them
    ("nvidia", "NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    ("nvidia", "NVIDIA A100-SXM4-80GB", 81920, "a100-80gb"),
    ("nvidia", "NVIDIA H100 80GB HBM3", 81559, "h100-80gb"),
    ("nvidia", "Tesla V100-SXM2-16GB", 16384, "v100-sxm2-16gb"),
    ("nvidia", "NVIDIA GeForce RTX 3060", 12288, "rtx-3060-12gb"),
    ("nvidia", "NVIDIA GeForce RTX 4060 Ti", 8188, "rtx-4060-ti-8gb"),     # memory tells 8 from 16 GB
    ("nvidia", "NVIDIA GeForce RTX 4060 Ti", 16380, "rtx-4060-ti-16gb"),
    ("nvidia", "NVIDIA GeForce RTX 3080", 12288, "rtx-3080-12gb"),
    ("nvidia", "NVIDIA GeForce RTX 3060", 8192, None),                     # the 8 GB 3060: not in the KB
    ("nvidia", "NVIDIA GeForce RTX 4090 D", 24564, None),
    ("nvidia", "NVIDIA GeForce RTX 4090", 12000, None),                    # memory disagrees
    ("nvidia", "NVIDIA GB10", None, "dgx-spark"),
    ("amd", "AMD Instinct MI300X", 196592, "mi300x"),
    ("amd", "Radeon RX 7900 XTX", 24560, "rx-7900-xtx"),
    ("intel", "Intel(R) Arc(TM) A770 Graphics", 16225, "arc-a770-16gb"),
    ("apple", "Apple M2 Pro", 16384, "m2-pro-16gb"),
    ("apple", "Apple M4 Max", 36864, None),
    ("amd", "NVIDIA GeForce RTX 4090", 24564, None),                       # the vendor must agree
])
def test_match_card(vendor, name, mib, kb_id):
    card = DetectedCard(vendor, name, mib * MIB if mib else None, "test", unified=vendor == "apple")
    hit = match_card(card, KB)
    assert (hit.id if hit else None) == kb_id


def test_identical_cards_are_a_set_and_mixed_sets_say_so():
    two = Detection([DetectedCard("nvidia", "NVIDIA GeForce RTX 4090", 24564 * MIB, "nvidia-smi")] * 2, 64 * GIB, "x")
    m = resolve(two, KB)
    assert (m.gpu.id, m.count, m.known, m.notes) == ("rtx-4090", 2, True, [])
    mixed = Detection([DetectedCard("nvidia", "NVIDIA GeForce RTX 3090", 24576 * MIB, "nvidia-smi"),
                       DetectedCard("nvidia", "NVIDIA RTX A6000", 49140 * MIB, "nvidia-smi"),
                       DetectedCard("nvidia", "NVIDIA GeForce RTX 3090", 24576 * MIB, "nvidia-smi"),
                       DetectedCard("nvidia", "NVIDIA GeForce RTX 3090", 24576 * MIB, "nvidia-smi")], None)
    m = resolve(mixed, KB)
    assert (m.gpu.id, m.count) == ("rtx-3090", 3)  # 72 GiB in all beats the A6000's 48
    assert len(m.notes) == 1 and "mixed GPUs" in m.notes[0] and "1 × NVIDIA RTX A6000" in m.notes[0]
    assert any("64 GiB" in a for a in m.assumed)  # RAM unreadable: the default, said


def test_unknown_card_is_described_with_its_assumptions():
    d = Detection([DetectedCard("nvidia", "NVIDIA GeForce RTX 4090 D", 24564 * MIB, "nvidia-smi", "ada-lovelace")],
                  32 * GIB, "x")
    kb, m = this_machine(KB, d)
    assert not m.known and m.gpu.id == "detected-nvidia-geforce-rtx-4090-d"
    assert kb.gpu(m.gpu.id) is m.gpu and KB.gpus.find(m.gpu.id) is None  # the KB given is unchanged
    assert m.gpu.memory_bytes == 24564 * MIB and m.gpu.architecture == "ada-lovelace"
    assert m.gpu.fp16_tflops is None and m.gpu.bf16_tflops is None
    assert m.gpu.bandwidth_gb_s == KB.gpu("rtx-4090").bandwidth_gb_s  # the card most like it
    assert any("bandwidth" in a and "RTX 4090" in a for a in m.assumed)
    assert any("TFLOPS" in a for a in m.assumed)
    # a card whose memory no tool reports cannot be sized
    with pytest.raises(AdvisorError, match="does not report"):
        this_machine(KB, Detection([DetectedCard("intel", "Intel(R) Data Center GPU Max 1550", None, "sycl-ls")]))


def test_nothing_detected_is_one_error_line():
    with pytest.raises(AdvisorError, match="no GPU detected on this machine"):
        resolve(Detection(), KB)


# -- running the tools -----------------------------------------------------------------------

def test_a_hanging_tool_is_killed_in_time(tools):
    tools("nvidia-smi", body="/bin/sleep 30 & /bin/sleep 30")
    start = time.monotonic()
    out, problem = run_tool(["nvidia-smi"], timeout_s=1)
    assert out is None and "no answer in 1 s" in problem
    assert time.monotonic() - start < 5


def test_a_flooding_tool_is_cut_off(tools):
    tools("nvidia-smi", body="exec /usr/bin/yes 'NVIDIA GeForce RTX 4090, 24564, 8.9'")
    out, problem = run_tool(["nvidia-smi"], timeout_s=10, limit=1 << 16)
    assert out is None and "more than 65,536 bytes" in problem


def test_a_failing_query_is_retried_without_compute_cap(tools):
    tools("nvidia-smi", body='case "$1" in *compute_cap*) echo "Field compute_cap is not valid" >&2; exit 2;; '
                            'esac; echo "Tesla T4, 15360"')
    d = detect()
    assert [(c.name, c.memory_bytes) for c in d.cards] == [("Tesla T4", 15360 * MIB)]
    assert d.tools == ["nvidia-smi"]


# -- the commands ----------------------------------------------------------------------------

def test_explain_and_fit_answer_for_a_detected_rtx_4090(tools):
    tools("nvidia-smi", "NVIDIA GeForce RTX 4090, 24564, 8.9\n")
    doc = _json(run("explain", "llama-3.1-8b", "--format", "json"))
    assert doc["gpu"]["id"] == "rtx-4090" and doc["gpu"]["count"] == 1
    assert doc["hardware"]["cards"][0]["kb_id"] == "rtx-4090" and doc["hardware"]["gpu"]["known"]
    assert doc["verdict"] == "fits"
    fit = _json(run("fit", "--format", "json"))
    assert fit["gpu"] == "rtx-4090" and fit["count"] == 1 and fit["models"]
    assert fit["hardware"]["gpu"]["id"] == "rtx-4090"
    # the same answers as naming the card (and the machine's RAM)
    named = _json(run("explain", "llama-3.1-8b", "rtx-4090", "--format", "json",
                      "--ram-gb", str(doc["hardware"]["ram_bytes"] / GIB)))
    assert named["memory"] == doc["memory"] and named["plan"] == doc["plan"]
    md = run("explain", "llama-3.1-8b")
    assert md.exit_code == 0 and "Detected on this machine (nvidia-smi): NVIDIA GeForce RTX 4090" in md.output
    assert "System RAM bandwidth" not in md.output and "system RAM bandwidth 76.8 GB/s" in md.output


def test_explicit_gpu_skips_detection(tools, tmp_path):
    marker = tmp_path / "ran"
    tools("nvidia-smi", body=f"touch '{marker}'; echo 'NVIDIA GeForce RTX 4090, 24564, 8.9'")
    doc = _json(run("explain", "llama-3.1-8b", "h100-80gb", "--format", "json"))
    assert doc["gpu"]["id"] == "h100-80gb" and "hardware" not in doc and not marker.exists()


def test_two_identical_cards_are_a_two_gpu_set(tools):
    tools("nvidia-smi", "NVIDIA GeForce RTX 3090, 24576, 8.6\nNVIDIA GeForce RTX 3090, 24576, 8.6\n")
    doc = _json(run("explain", "llama-3.1-70b", "-p", "Q4_K_M", "--format", "json"))
    assert doc["gpu"]["id"] == "rtx-3090" and doc["gpu"]["count"] == 2
    assert _json(run("fit", "--format", "json"))["count"] == 2
    # --gpus still chooses the count
    assert _json(run("explain", "llama-3.1-8b", "--gpus", "1", "--format", "json"))["gpu"]["count"] == 1


def test_an_unknown_card_answers_with_its_assumptions(tools):
    tools("nvidia-smi", "NVIDIA GeForce RTX 4090 D, 24564, 8.9\n")
    doc = _json(run("explain", "llama-3.1-8b", "--format", "json"))
    assert doc["gpu"]["id"] == "detected-nvidia-geforce-rtx-4090-d"
    assert doc["hardware"]["cards"][0]["kb_id"] == "unknown" and not doc["hardware"]["gpu"]["known"]
    assert doc["throughput"]["prefill_tokens_per_s"] is None  # no TFLOPS: no prefill speed
    assert any("bandwidth" in a for a in doc["hardware"]["assumed"])
    md = run("explain", "llama-3.1-8b")
    assert md.exit_code == 0 and "(not in the knowledge base)" in md.output
    assert "Assumed: memory bandwidth 1008 GB/s, the NVIDIA GeForce RTX 4090's" in md.output
    assert _json(run("fit", "--format", "json"))["gpu"] == "detected-nvidia-geforce-rtx-4090-d"


@pytest.mark.parametrize("command", [["explain", "llama-3.1-8b"], ["fit"]])
def test_nothing_detected_exits_2_with_one_line(tools, command):
    r = run(*command)
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "no GPU detected on this machine" in r.output
    assert "advisor explain MODEL GPU" in r.output and "Traceback" not in r.output


def test_a_hanging_nvidia_smi_does_not_hang_explain(tools):
    tools("nvidia-smi", body="/bin/sleep 60")
    start = time.monotonic()
    r = run("explain", "llama-3.1-8b")
    assert r.exit_code == 2 and "nvidia-smi: no answer in 5 s" in r.output
    assert r.output.count("\n") == 1
    assert time.monotonic() - start < 20


def test_apple_silicon(tools):
    tools("sysctl", "Apple M2 Pro\n17179869184\n")
    tools("system_profiler", '{"SPDisplaysDataType": [{"sppci_model": "Apple M2 Pro", "sppci_cores": "19"}]}')
    doc = _json(run("explain", "llama-3.1-8b", "-p", "Q4_K_M", "--format", "json"))
    assert doc["gpu"]["id"] == "m2-pro-16gb"
    assert doc["hardware"]["ram_bytes"] == 16 * GIB and doc["hardware"]["ram_source"] == "sysctl hw.memsize"
    assert not any("RAM bandwidth" in a for a in doc["hardware"]["assumed"])  # unified: no offload
    hw = run("hardware")
    assert hw.exit_code == 0 and "GPU 0: Apple M2 Pro, 16.0 GiB (sysctl): m2-pro-16gb" in hw.output


def test_amd_node(tools):
    gpu = {"asic": {"market_name": "AMD Instinct MI300X", "target_graphics_version": "gfx942"},
           "vram": {"size": {"value": 196592, "unit": "MB"}}}
    tools("amd-smi", json.dumps({"gpu_data": [dict(gpu, gpu=i) for i in range(8)]}))
    doc = _json(run("hardware", "--format", "json"))
    assert doc["gpu"] == {"id": "mi300x", "name": "AMD Instinct MI300X", "count": 8, "known": True,
                          "memory_bytes": KB.gpu("mi300x").memory_bytes}
    assert [c["tool"] for c in doc["cards"]] == ["amd-smi"] * 8


def test_hardware_command_lists_each_card(tools):
    tools("nvidia-smi", "NVIDIA GeForce RTX 3090, 24576, 8.6\nNVIDIA GeForce RTX 4090 D, 24564, 8.9\n")
    r = run("hardware")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "GPU 0: NVIDIA GeForce RTX 3090, 24.0 GiB (nvidia-smi): rtx-3090"
    assert lines[1] == "GPU 1: NVIDIA GeForce RTX 4090 D, 24.0 GiB (nvidia-smi): unknown"
    assert any(line.startswith("Note: mixed GPUs detected") for line in lines)
    doc = _json(run("hardware", "--format", "json"))
    assert [c["kb_id"] for c in doc["cards"]] == ["rtx-3090", "unknown"]


def test_hardware_with_nothing_detected(tools):
    r = run("hardware")
    assert r.exit_code == 0 and r.output.startswith("no GPU detected on this machine")
    doc = _json(run("hardware", "--format", "json"))
    assert doc["gpu"] is None and doc["cards"] == []


def test_generate_for_this_machine(tools, tmp_path):
    tools("nvidia-smi", "NVIDIA GeForce RTX 4090 D, 24564, 8.9\nNVIDIA GeForce RTX 4090 D, 24564, 8.9\n")
    out = tmp_path / "site"
    r = run("generate", "--this-machine", "-m", "llama-3.1-8b", "-p", "Q4_K_M", "--out", str(out), "-j", "1")
    assert r.exit_code == 0, r.output
    assert "Detected on this machine" in r.output and "\n1 page in " in "\n" + r.output
    pages = [p for p in out.rglob("*.md") if p.name != "index.md"]
    assert len(pages) == 1 and "2 × NVIDIA GeForce RTX 4090 D" in pages[0].read_text()
    r = run("generate", "--this-machine", "-g", "rtx-4090", "--out", str(tmp_path / "x"))
    assert r.exit_code == 2 and "--this-machine picks the GPUs" in r.output
    assert not os.path.exists(tmp_path / "x")
