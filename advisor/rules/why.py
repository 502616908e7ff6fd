"""`advisor explain --why`: which rules fired, in what order, on which facts.

For each rule that fired in the final round of inference: the facts its conditions read, with
the values they had (and, for a derived fact, the rule that derived it), and what it concluded.
"""
from __future__ import annotations

import json


def firings(advisory, rules: dict) -> list[dict]:
    out = []
    facts, derived = advisory.facts or {}, advisory.derived or {}
    for order, rule_id in enumerate(advisory.fired, 1):
        spec = rules[rule_id]
        reads = {}
        for name in spec.reads:
            reads[name] = {"value": facts.get(name), **({"derived_by": derived[name]} if name in derived else {})}
        if spec.derive:
            result = {"derive": {k: facts.get(k) for k in spec.derive}}
        else:
            result = {k: v for k, v in (("verdict", spec.verdict), ("recommend", spec.recommend)) if v}
        out.append({"order": order, "rule": rule_id, "priority": spec.priority, "reads": reads,
                    "result": result, "when": [c.text for c in spec.when]})
    return out


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "missing"
    return str(v)


def render_markdown(items: list[dict]) -> str:
    lines = ["", "## Why: the rules that fired, in order", ""]
    for it in items:
        res = it["result"]
        said = ("derived " + ", ".join(f"{k} = {_value(v)}" for k, v in res["derive"].items())
                if "derive" in res else " and ".join(f"{k} {v}" for k, v in res.items()))
        lines.append(f"{it['order']}. `{it['rule']}` (priority {it['priority']}) {said}, "
                     f"because {' and '.join(it['when'])}:")
        for name, r in it["reads"].items():
            by = f" (derived by `{r['derived_by']}`)" if "derived_by" in r else ""
            lines.append(f"   - {name} = {_value(r['value'])}{by}")
    return "\n".join(lines) + "\n"


def add_why(text: str, fmt: str, advisory, rules: dict) -> str:
    """The advisory text with the firings added: a markdown section, or a "why" key in JSON."""
    items = firings(advisory, rules)
    if fmt == "json":
        data = json.loads(text)
        data["why"] = items
        return json.dumps(data, indent=2) + "\n"
    return text + render_markdown(items)
