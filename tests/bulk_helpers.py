"""Helpers for the bulk tests: trees as {path: bytes}, KBs built in memory, a synthetic KB."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.kb.store import KnowledgeBase, Parsed, _Index

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
        mi.add(Parsed(Path(f"{m.id}.yaml"), m, None), 0, errors)
    for g in gpus:
        gi.add(Parsed(Path(f"{g.id}.yaml"), g, None), 0, errors)
    assert not errors, errors
    return KnowledgeBase(models=mi, gpus=gi, dirs=())


def synthetic_kb(out: Path, models: int, gpus: int) -> Path:
    spec = importlib.util.spec_from_file_location("synthetic_kb", ROOT / "tools" / "synthetic_kb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.write_synthetic_kb(out, models, gpus)


# The KB the bulk tests run on: the spine's four models and seven GPUs, taken from the built-in
# KB (the whole KB is about 174,000 pages a run; these tests are about behaviour, not volume).
SMALL_MODELS = ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b")
SMALL_GPUS = ("a100-40gb", "a100-80gb", "h100-80gb", "h200", "l40s", "rtx-4090", "mi300x")


def small_kb(full: KnowledgeBase) -> KnowledgeBase:
    return kb_of([full.model(m) for m in SMALL_MODELS], [full.gpu(g) for g in SMALL_GPUS])


# Fixtures and a CLI runner the bulk test modules import (pytest finds an imported fixture by name).
@pytest.fixture(scope="module")
def kb():
    """The spine's 4 models x 7 GPUs out of the built-in KB."""
    from advisor.kb import load_kb
    return small_kb(load_kb())


@pytest.fixture(scope="module")
def advisor(kb):
    from advisor.advise import Advisor, load_rulebook
    return Advisor(kb, load_rulebook())


def run(*args):
    from advisor.cli import main
    return CliRunner().invoke(main, list(args))
