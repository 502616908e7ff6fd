"""The hardware of this machine: which GPUs (and how much RAM) it has, as KB entries.

- advisor.hardware.parse: pure parsers of the tools' output (nvidia-smi, amd-smi, rocm-smi,
  sysctl, system_profiler, xpu-smi, sycl-ls, /proc/meminfo);
- advisor.hardware.probe: runs the tools found on PATH, bounded in time and output (the I/O);
- advisor.hardware.match: matches each card to a KB GPU, describes an unknown one, and makes the
  set an advisory is for (Machine).

`advisor explain MODEL`, `advisor fit` and `advisor generate --this-machine` answer for
this_machine(); `advisor hardware` prints it.
"""
from __future__ import annotations

from advisor.hardware.match import Machine, kb_with, resolve
from advisor.hardware.probe import Detection, detect

__all__ = ["Detection", "Machine", "detect", "kb_with", "resolve", "summary_lines", "this_machine"]


def this_machine(kb, detection: Detection | None = None):
    """(the KB with an unknown detected card added, the Machine). detection: None runs the
    tools (advisor.hardware.probe.detect). Raises AdvisorError, one line, when nothing usable
    is detected."""
    m = resolve(detection if detection is not None else detect(), kb)
    return (kb if m.known else kb_with(kb, m.gpu)), m


def summary_lines(m: Machine, ram_given: bool = False, bandwidth_given: bool = False,
                  ram: bool = True) -> list[str]:
    """What an advisory for the detected hardware says about it, one sentence a line: the set
    answered for, the RAM, each assumption and note. ram_given/bandwidth_given: the user set
    --ram-gb/--ram-bandwidth, so the detected or assumed figure is not the one used. ram: False
    leaves the RAM out (an answer that does not use it)."""
    from advisor.text import one_line

    tools = ", ".join(sorted({c.tool for c, _ in m.cards}))
    kind = f"the knowledge base's {m.gpu.id}" if m.known else "not in the knowledge base"
    lines = [f"Detected on this machine ({tools}): {one_line(m.set_words())} ({kind})."]
    ram_given, bandwidth_given = ram_given or not ram, bandwidth_given or not ram
    if m.ram_bytes is not None and not ram_given:
        lines.append(f"System RAM: {m.ram_bytes / 2**30:.1f} GiB ({m.ram_source}).")
    for a in m.assumed:
        if (bandwidth_given and a.startswith("system RAM bandwidth")) or \
                (ram_given and a.startswith("system RAM 64 GiB")):
            continue
        lines.append(f"Assumed: {one_line(a)}.")
    lines += [f"Note: {one_line(n)}." for n in m.notes]
    return lines
