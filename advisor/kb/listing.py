"""Rows for `advisor kb list` and the lookup behind `advisor kb show`: pure, no printing."""
from __future__ import annotations

from advisor.errors import AdvisorError, closest
from advisor.limits import short
from advisor.kb.store import KnowledgeBase

GIB = 2**30


def _num(x, fmt="{:g}") -> str:
    return "" if x is None else fmt.format(x)


def _id(kb: KnowledgeBase, entry) -> str:
    return entry.id + ("*" if kb.overridden(entry) else "")


def model_rows(kb: KnowledgeBase) -> list[dict]:
    from advisor.sizing.tensors import parameter_count

    rows = []
    for m in kb.all_models():
        a = m.architecture
        rows.append({"id": _id(kb, m), "name": m.name,
                     "params_b": f"{parameter_count(a) / 1e9:.2f}",
                     "layers": str(a.layers), "kv/heads": f"{a.kv_heads}/{a.attention_heads}",
                     "context": f"{a.max_context:,}",
                     "moe": f"{a.experts_active}/{a.experts_total}" if a.experts_total else "",
                     "mmlu_pro": _quality(m)})
    return rows


def _quality(m) -> str:
    """The preferred published MMLU-Pro score (Model.quality_score), the checkpoint it measured
    and, when it is not the publisher's own figure (self_reported), who ran it: "71.1
    (instruct)", "40.4 (instruct, tiger-lab)"; empty when the entry has none. Scores of different evaluators do
    not compare (QualityScore.comparability), hence the name."""
    q = m.quality_score()
    if q is None:
        return ""
    by = "" if q.self_reported else f", {q.evaluator}"
    return f"{q.score:.1f} ({q.variant}{by})"


def gpu_rows(kb: KnowledgeBase) -> list[dict]:
    rows = []
    for g in sorted(kb.all_gpus(), key=lambda g: (g.vendor, g.memory_bytes, g.id)):
        mem = f"{g.memory_bytes / GIB:.1f}"
        if g.unified_memory:
            mem += f" ({g.usable_memory_bytes / GIB:.0f} usable)"
        rows.append({"id": _id(kb, g), "name": g.name, "vendor": g.vendor, "segment": g.segment or "",
                     "arch": g.architecture, "mem_gib": mem, "bw_gb_s": _num(g.bandwidth_gb_s),
                     "fp16_tflops": _num(g.fp16_tflops), "fp8_tflops": _num(g.fp8_tflops),
                     "usd_per_h": _num(g.price_usd_per_hour, "{:.2f}")})
    return rows


def render_table(rows: list[dict]) -> str:
    """A markdown table with padded columns; numbers right-aligned."""
    if not rows:
        return "(none)\n"
    from advisor.render import md_text

    # a name is one line of markdown text: a '|' is not a column's edge, a '[' no link (an id
    # is lower-case letters, digits, '.' and '-' by the schema, and keeps its '*' marker)
    rows = [{c: (v if c == "id" else md_text(v)) for c, v in r.items()} for r in rows]
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    right = {c for c in cols if all(not r[c] or r[c][0].isdigit() for r in rows)}

    def line(cells):
        return "| " + " | ".join(cells) + " |"

    def cell(c, v):
        return v.rjust(width[c]) if c in right else v.ljust(width[c])

    out = [line(cell(c, c) for c in cols),
           line(("-" * (width[c] - 1) + ":") if c in right else "-" * width[c] for c in cols)]
    out += [line(cell(c, r[c]) for c in cols) for r in rows]
    return "\n".join(out) + "\n"


def find_entries(kb: KnowledgeBase, key: str) -> list:
    """Every model and GPU that KEY (id, name or alias, any case) names; AdvisorError if none."""
    found = [e for e in (kb.models.find(key), kb.gpus.find(key)) if e is not None]
    if not found:
        near = closest(key, sorted([*kb.models.by_id, *kb.gpus.by_id]))
        hint = f"; closest known: {', '.join(near)}" if near else ""
        raise AdvisorError(f"unknown model or gpu {short(key, 82)}{hint}")
    return found
