"""`advisor explain --why`: which rules fired, in what order, on which facts.

For each rule that fired in the final round of inference: the facts its conditions read, with
the values they had (and, for a derived fact, the rule that derived it), and what it concluded.
"""
from __future__ import annotations

import json

from advisor.render import count, usd as money
from advisor.speed_bands import band


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


def plan_choice(advisory, rules: dict, objective) -> dict | None:
    """Why What to do's plan beat the runner-up: the rule priorities, or (same priority) the
    first term of the objective that tells them apart, with both plans' numbers."""
    if not advisory.offered:
        return None
    (best, rule), rest = advisory.offered[0], advisory.offered[1:]
    out = {"chosen": _plan_numbers(best, rule), "matched": [
        {"path": path, "rules": list(matched)} for path, matched in advisory.plan_firings]}
    if not rest:
        out["reason"] = "the only plan a plan rule offered"
        return out
    other, other_rule = rest[0]
    out["runner_up"] = _plan_numbers(other, other_rule)
    pa, pb = rules[rule].priority, rules[other_rule].priority
    if pa != pb:
        out["reason"] = (f"rule {rule} (priority {pa}) comes before rule {other_rule} "
                         f"(priority {pb})")
        return out
    if _finetune(best) or _finetune(other):  # advisor.advise: fine-tuning ties keep path order
        out["reason"] = (f"both offered by rule {rule}: fine-tuning plans of one priority are "
                         f"listed in the order of their paths, and {best.path} comes before "
                         f"{other.path}")
        return out
    cap = advisory.context_cap
    ka, kb = objective.key(best, advisory.prefer, cap), objective.key(other, advisory.prefer, cap)
    for (attr, descending), a, b in zip(objective.order[advisory.prefer], ka, kb):
        if a != b:
            out["reason"] = (f"both offered by rule {rule}; the objective (--prefer "
                             f"{advisory.prefer}) ranks by {'-' if descending else ''}{attr} first "
                             f"where they differ: {_attr(best, attr)} against {_attr(other, attr)}")
            return out
    out["reason"] = f"both offered by rule {rule} and equal under the objective: listed first"
    return out


def _attr(plan, attr: str):
    v = getattr(plan, attr)
    return round(v, 3) if isinstance(v, float) else v


def _finetune(plan) -> bool:
    return getattr(plan, "task", "inference") == "finetune"


def _plan_numbers(plan, rule: str) -> dict:
    if _finetune(plan):  # a FinetunePlan (advisor.plans.finetune): a training setup, no decode
        s = plan.spec
        return {"path": plan.path, "rule": rule, "model_id": plan.model.id, "task": "finetune",
                "method": s.method, "seq_len": s.seq_len, "micro_batch": s.micro_batch,
                "sharding": s.sharding, "optimizer": s.optimizer, "runtime": plan.runtime,
                "gpu": f"{plan.gpu_count} x {plan.gpu.id}", "per_gpu_bytes": plan.per_gpu_bytes,
                "usd_per_hour": plan.usd_per_hour, "levers": plan.levers}
    return {"path": plan.path, "rule": rule, "model_id": plan.model.id,
            "precision": plan.precision.name, "kv_cache_dtype": plan.kv_cache_dtype,
            "context_tokens": plan.context_tokens, "runtime": plan.runtime,
            "gpu": f"{plan.gpu_count} x {plan.gpu.id}",
            "decode_tokens_per_s": round(plan.decode_tokens_per_s, 2),
            # every speed figure with its measured error band, as the plan's own JSON gives it
            "decode_band": band(plan.speed_category("decode")).to_json(),
            "quality_loss_pct": plan.quality_loss_pct, "quality_class": plan.quality_class_name,
            "usd_per_million_tokens": None if plan.usd_per_million_tokens is None
            else round(plan.usd_per_million_tokens, 2), "levers": plan.levers}


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "missing"
    return _text(v)


def _text(v) -> str:
    """Text from a rule file or a fact, with what a terminal would act on (ESC, BEL, bidi
    controls, newlines) shown as escapes: a condition reads as it was written."""
    from advisor.text import escaped

    return escaped(str(v), keep_newlines=False)


def render_markdown(items: list[dict]) -> str:
    lines = ["", "## Why: the rules that fired, in order", ""]
    for it in items:
        res = it["result"]
        said = ("derived " + ", ".join(f"{k} = {_value(v)}" for k, v in res["derive"].items())
                if "derive" in res else " and ".join(f"{k} {v}" for k, v in res.items()))
        lines.append(f"{it['order']}. `{it['rule']}` (priority {it['priority']}) {said}, "
                     f"because {' and '.join(_text(w) for w in it['when'])}:")
        for name, r in it["reads"].items():
            by = f" (derived by `{r['derived_by']}`)" if "derived_by" in r else ""
            lines.append(f"   - {name} = {_value(r['value'])}{by}")
    return "\n".join(lines) + "\n"


def add_why(text: str, fmt: str, advisory, rules: dict, objective=None) -> str:
    """The advisory text with the firings added: a markdown section, or a "why" key in JSON
    (and "why_plan": why What to do's plan beat the runner-up)."""
    items = firings(advisory, rules)
    choice = plan_choice(advisory, rules, objective) if objective is not None else None
    if fmt == "json":
        data = json.loads(text)
        data["why"] = items
        data["why_plan"] = choice
        return json.dumps(data, indent=2) + "\n"
    return text + render_markdown(items) + (_plan_markdown(choice) if choice else "")


def _plan_markdown(choice: dict) -> str:
    def line(d: dict) -> str:
        if d.get("task") == "finetune":
            usd = "" if d["usd_per_hour"] is None else f", ${money(d['usd_per_hour'])} an hour"
            return (f"{d['path']} ({d['rule']}): {d['model_id']}, {d['method']} with "
                    f"{d['seq_len']:,}-token sequences, micro-batch {d['micro_batch']:,}, "
                    f"sharding {d['sharding']}, {d['optimizer']}, {d['runtime']} on {d['gpu']}: "
                    f"{d['per_gpu_bytes'] / 1e9:,.1f} GB a GPU{usd}")
        usd = "" if d["usd_per_million_tokens"] is None else f", ${money(d['usd_per_million_tokens'])} a million tokens"
        return (f"{d['path']} ({d['rule']}): {d['model_id']} at {d['precision']}, KV {d['kv_cache_dtype']}, "
                f"{count(d['context_tokens'], 'token')}, {d['runtime']} on {d['gpu']}: "
                f"{d['decode_tokens_per_s']:,} tokens/s, quality {d['quality_class']} "
                f"({d['quality_loss_pct']:g}% loss){usd}")
    lines = ["", "## Why this plan", "", "- Chosen: " + line(choice["chosen"])]
    if "runner_up" in choice:
        lines.append("- Runner-up: " + line(choice["runner_up"]))
    lines.append(f"- Because {choice['reason']}.")
    for m in choice["matched"]:
        lines.append(f"- The best plan on path {m['path']} matched "
                     + (", ".join(f"`{r}`" for r in m["rules"]) if m["rules"] else "no plan rule"))
    return "\n".join(lines) + "\n"
