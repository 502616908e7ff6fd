"""Golden files: compare an advisory with its stored text, or rewrite it with ADVISOR_UPDATE_GOLDEN=1."""
from __future__ import annotations

import os
from pathlib import Path

from advisor.render import render_json, render_markdown


def check_golden(adv, stem: Path) -> None:
    """stem.md and stem.json hold the markdown and JSON of adv."""
    for ext, text in (("md", render_markdown(adv)), ("json", render_json(adv))):
        path = stem.with_name(f"{stem.name}.{ext}")
        if os.environ.get("ADVISOR_UPDATE_GOLDEN"):
            path.write_text(text)
        assert path.read_text() == text, f"{path} differs; review and regenerate"
