"""Helpers for the bulk tests: trees as {path: bytes}, KBs built in memory, a synthetic KB."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from advisor.kb.store import KnowledgeBase, _Index

ROOT = Path(__file__).resolve().parent.parent


def tree(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def kb_of(models, gpus) -> KnowledgeBase:
    errors: list[str] = []
    mi, gi = _Index("model"), _Index("gpu")
    for m in models:
        mi.add(m, Path(f"{m.id}.yaml"), errors)
    for g in gpus:
        gi.add(g, Path(f"{g.id}.yaml"), errors)
    assert not errors, errors
    return KnowledgeBase(models=mi, gpus=gi)


def synthetic_kb(out: Path, models: int, gpus: int) -> Path:
    spec = importlib.util.spec_from_file_location("synthetic_kb", ROOT / "tools" / "synthetic_kb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.write_synthetic_kb(out, models, gpus)
