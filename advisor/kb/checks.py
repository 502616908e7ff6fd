"""Cross-field checks on KB entries, beyond what one field's type can say.

Each check returns `path:line: field 'x': message` strings; the loader collects them with the
schema errors so a user sees every problem at once.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.kb.schema import GPU, Model

if TYPE_CHECKING:
    import yaml

GIB = 2**30
# A size stated in an id or name ("a100-40gb", "RTX 3060 12GB") may mean GiB (the nominal size
# of a card, our memory policy) or GB (10^9, Apple's and NVIDIA's marketing of HBM parts):
# memory_bytes must be within this share of one of the two readings.
STATED_SIZE_TOLERANCE = 0.05
# Computed parameters may differ from the published count by at most this share (rounding in
# a model card, a tensor the architecture does not describe).
# Llama 4's vision encoder and projector are about 1.2B of 109B (1.1%)
VISION_TOWER_TOLERANCE = 0.05
PARAMETER_TOLERANCE = 0.01
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*-?\s*gb\b", re.IGNORECASE)


def _line(node: yaml.Node | None, dotted: str) -> int:
    from advisor.kb.store import field_line

    return field_line(node, dotted)


def stated_sizes(g: GPU) -> list[tuple[str, float]]:
    """(where, GB) for each memory size the id or name states."""
    out = []
    for where, text in (("id", g.id), ("name", g.name)):
        out += [(where, float(m)) for m in _SIZE.findall(text)]
    return out


def check_gpu(g: GPU, path: Path, node: yaml.Node | None) -> list[str]:
    errors = []
    if g.fp16_tflops is None and g.bf16_tflops is None:
        # the speed model's prefill rate (advisor.sizing.speed.peak_tflops) starts from it
        errors.append(
            f"{path}:{_line(node, 'fp16_tflops')}: field 'fp16_tflops': "
            "give the dense FP16 (fp16_tflops) or BF16 (bf16_tflops) rate, with its source: the "
            "speed model needs a 16-bit rate (a card without tensor cores gives its plain FP16 "
            "rate, as the Tesla P40 does)")
    for where, size in stated_sizes(g):
        off = min(abs(g.memory_bytes / GIB - size), abs(g.memory_bytes / 1e9 - size)) / size
        if off > STATED_SIZE_TOLERANCE:
            errors.append(
                f"{path}:{_line(node, 'memory_bytes')}: field 'memory_bytes': {g.memory_bytes:,} bytes "
                f"({g.memory_bytes / GIB:.1f} GiB) is not the {size:g} GB the {where} "
                f"'{getattr(g, where)}' states")
    return errors


def check_model(m: Model, path: Path, node: yaml.Node | None, models: dict) -> list[str]:
    from advisor.sizing.tensors import parameter_count

    errors = []
    if m.published_parameters is not None:
        computed = parameter_count(m.architecture)
        off = abs(computed - m.published_parameters) / m.published_parameters
        if m.published_parameters_include_vision:
            # the published figure counts a vision tower the text architecture leaves out: the
            # text count must be below it, and the tower is a few percent of a large model
            if computed < m.published_parameters and off <= VISION_TOWER_TOLERANCE:
                off = 0.0
        if off > PARAMETER_TOLERANCE:
            errors.append(
                f"{path}:{_line(node, 'published_parameters')}: field 'published_parameters': the "
                f"architecture gives {computed:,} parameters, {off:.1%} off the published "
                f"{m.published_parameters:,} (more than {PARAMETER_TOLERANCE:.0%}): check the architecture")
    for s in m.siblings:
        if s not in models:
            errors.append(f"{path}:{_line(node, 'siblings')}: field 'siblings': sibling '{s}' is not a "
                          f"known model{_near(s, models)}")
    errors += _check_formats(m, path, node)
    if m.distilled_from and m.distilled_from not in models:
        errors.append(f"{path}:{_line(node, 'distilled_from')}: field 'distilled_from': "
                      f"'{m.distilled_from}' is not a known model{_near(m.distilled_from, models)}")
    return errors


def _near(key: str, known) -> str:
    from advisor.errors import closest

    near = closest(key, sorted(known))
    return f"; closest known: {', '.join(near)}" if near else ""


def _check_formats(m: Model, path: Path, node: yaml.Node | None) -> list[str]:
    """native_precision and each checkpoint's precision name a known precision; MXFP4 is an
    experts-only format; a GGUF repo is no checkpoint (gguf_repos holds those)."""
    from advisor.errors import AdvisorError
    from advisor.sizing.precision import parse_precision

    errors = []
    named = [("native_precision", m.native_precision)] + [
        (f"checkpoints.{i}.precision", c.precision) for i, c in enumerate(m.checkpoints)]
    for where, name in named:
        if name is None:
            continue
        try:
            p = parse_precision(name)
        except AdvisorError as exc:
            errors.append(f"{path}:{_line(node, where)}: field '{where}': {exc}")
            continue
        if p.name != name:
            errors.append(f"{path}:{_line(node, where)}: field '{where}': write '{p.name}', the "
                          f"canonical spelling of '{name}'")
        elif p.family == "gguf":
            errors.append(f"{path}:{_line(node, where)}: field '{where}': {name} is a GGUF type; "
                          "GGUF repos go in gguf_repos")
        elif p.name == "mxfp4" and not m.architecture.experts_total:
            errors.append(f"{path}:{_line(node, where)}: field '{where}': mxfp4 quantizes MoE "
                          "experts; this model has none")
    repos = [c.repo for c in m.checkpoints]
    for r in sorted({r for r in repos if repos.count(r) > 1}):
        errors.append(f"{path}:{_line(node, 'checkpoints')}: field 'checkpoints': '{r}' is listed twice")
    return errors
