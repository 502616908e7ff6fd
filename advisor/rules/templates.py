"""What each recommendation template reads: the `rec.<name>` fields a rule's `then.with` gives.

A rule whose `with` misses a field its template reads would fail at render time (templates are
StrictUndefined); one that gives a field no template reads is a typo. Both are caught when the
rule file is loaded.
"""
from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2 import nodes

from advisor.paths import data_dir

# Fields the advisor adds to every recommendation itself.
BUILT_IN_FIELDS = frozenset({"kind", "rule"})


def template_fields(source: str) -> frozenset[str]:
    """Names read as rec.<name> or rec['<name>'] anywhere in a template."""
    tree = jinja2.Environment().parse(source)
    out = set()
    for n in tree.find_all(nodes.Getattr):
        if isinstance(n.node, nodes.Name) and n.node.name == "rec":
            out.add(n.attr)
    for n in tree.find_all(nodes.Getitem):
        if (isinstance(n.node, nodes.Name) and n.node.name == "rec"
                and isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, str)):
            out.add(n.arg.value)
    return frozenset(out - BUILT_IN_FIELDS)


def recommendation_templates(templates_dir: Path | None = None) -> dict[str, frozenset[str]]:
    """Recommendation kind -> the fields its template reads."""
    d = (templates_dir or data_dir("templates")) / "recommendations"
    return {p.name[: -len(".md.j2")]: template_fields(p.read_text(encoding="utf-8"))
            for p in sorted(d.glob("*.md.j2"))}
