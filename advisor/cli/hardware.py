"""advisor hardware; and the GPU-resolution step of explain, fit and generate when no GPU is named."""
from __future__ import annotations

import json
import sys

import click

from advisor.cli.sources import kb_option, load_kb_from


def detected(kb):
    """(the KB, with an unknown detected card added; the Machine) for this machine's hardware.
    AdvisorError, one line, when no GPU is detected."""
    from advisor.hardware import this_machine

    return this_machine(kb)


def detected_count(count: int, given: int | None) -> int:
    """The number of GPUs a command answers for on this machine: `given` (--gpus, --gpu-count)
    when the user gave one (checked as the option), else `count`, the cards detected, held to
    the same limit as a count given (advisor.limits.check_question: at most MAX_GPUS), so
    that a machine reporting a thousand cards is refused in one line by explain, fit and
    generate alike, naming where the number came from."""
    if given is not None:
        return given
    from advisor.limits import check_question

    check_question(gpus=count, gpus_flag="the count of GPUs detected on this machine (-n N asks "
                                          "about N of them)")
    return count


def detected_set(kb, machine):
    """The detected cards as a set of unequal cards (advisor.sizing.mixed.GpuSet, in the order
    the tool listed them), when they are one: more than one kind, every card a KB card, one
    vendor, none a unified-memory machine (what advisor.hardware.gpuset.resolve_gpu_set takes).
    None otherwise: cards of one kind, or a mix the answer is for the largest identical group
    of (advisor.hardware.match.resolve)."""
    from advisor.sizing.mixed import GpuSet

    ids = [kb_id for _, kb_id in machine.cards]
    if len(set(ids)) < 2 or any(i is None for i in ids):
        return None
    devices = tuple(kb.gpu(i) for i in ids)
    if len({g.vendor for g in devices}) > 1 or any(g.unified_memory for g in devices):
        return None
    return GpuSet(devices)


def with_machine(text: str, fmt: str, machine, ram_given: bool = False,
                 bandwidth_given: bool = False) -> str:
    """An advisory's text with what was detected: a "hardware" key in JSON, a paragraph under
    the title in Markdown."""
    from advisor.hardware import summary_lines

    if fmt == "json":
        doc = json.loads(text)
        doc["hardware"] = machine.to_json()
        return json.dumps(doc, indent=2) + "\n"
    from advisor.render import md_text

    # markdown: a detected card's name is the tool's text (nvidia-smi, amd-smi), so escaped
    title, _, rest = text.partition("\n")
    said = md_text(" ".join(summary_lines(machine, ram_given, bandwidth_given)))
    return f"{title}\n\n{said}\n\n{rest.lstrip(chr(10))}"


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@kb_option
def hardware(fmt, kb_dirs):
    """The GPUs and RAM detected on this machine (what explain and fit answer for when no GPU is
    named): each card with the KB entry it matches or "unknown", and what is assumed."""
    from advisor.errors import AdvisorError
    from advisor.hardware import detect, resolve, summary_lines
    from advisor.text import one_line

    kb = load_kb_from(kb_dirs)
    d = detect()
    try:
        m = resolve(d, kb)
    except AdvisorError as exc:
        m, missing = None, str(exc)
    if fmt == "json":
        from advisor.hardware.match import match_card

        doc = m.to_json() if m is not None else {
            "cards": [{"name": c.name, "vendor": c.vendor, "memory_bytes": c.memory_bytes,
                       "tool": c.tool, "kb_id": getattr(match_card(c, kb), "id", "unknown")}
                      for c in d.cards],
            "gpu": None, "ram_bytes": d.ram_bytes, "ram_source": d.ram_source,
            "assumed": [], "notes": [missing], "problems": d.problems}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    if m is None:
        click.echo(one_line(missing))
        if d.ram_bytes is not None:
            click.echo(f"System RAM: {d.ram_bytes / 2**30:.1f} GiB ({d.ram_source}).")
        return
    for i, (card, kb_id) in enumerate(m.cards):
        memory = f"{card.memory_bytes / 2**30:.1f} GiB" if card.memory_bytes else "memory not reported"
        click.echo(f"GPU {i}: {one_line(card.name)}, {memory} ({card.tool}): {kb_id or 'unknown'}")
    for line in summary_lines(m):
        click.echo(line)
    for p in m.problems:
        click.echo(f"Skipped: {one_line(p)}.")
