"""A cache of the validated knowledge base, so `advisor explain` does not parse and check every
YAML entry on each run (about 0.09 s of its 0.45 s with 120+ entries).

The cache is a pickle of the loaded KnowledgeBase (without the YAML nodes, which only the checks
at load time read), in $ADVISOR_CACHE_DIR, else $XDG_CACHE_HOME/advisor, else ~/.cache/advisor.
Its name is a digest of every entry file's path, size and modification time in every layer and of
the loader's own source files, so editing an entry, adding a user KB folder or upgrading advisor
reads the YAML again. A KB with errors is never cached (load_kb raises first). Anything that goes
wrong with the cache (an unwritable folder, a damaged file) falls back to loading the YAML.
ADVISOR_NO_KB_CACHE=1 turns it off. The pickle is trusted as the user's own files are: it lives in
their cache folder and only advisor writes it.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from advisor import __version__
from advisor.kb.store import KINDS, KnowledgeBase, load_kb
from advisor.paths import data_dir

_CODE = ("schema.py", "validate.py", "store.py", "checks.py", "cache.py")


def cache_dir() -> Path:
    given = os.environ.get("ADVISOR_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "advisor"


def _signature(layers: Sequence[Path]) -> str:
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    for name in _CODE:
        st = (here / name).stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for layer in layers:
        h.update(f"layer:{Path(layer).resolve()}\n".encode())
        for kind in KINDS:
            d = Path(layer) / kind
            if not d.is_dir():
                continue
            for p in sorted(d.iterdir()):
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _without_nodes(kb: KnowledgeBase) -> KnowledgeBase:
    for index in (kb.models, kb.gpus):
        index.parsed = {k: replace(p, node=None) for k, p in index.parsed.items()}
    return kb


def load_kb_cached(root: Path | None = None, extra: Sequence[Path] = ()) -> KnowledgeBase:
    """load_kb(root, extra), from the cache when no entry file changed since it was written."""
    if os.environ.get("ADVISOR_NO_KB_CACHE"):
        return load_kb(root, extra)
    layers = [Path(root) if root is not None else data_dir("kb"), *[Path(p) for p in extra]]
    try:
        path = cache_dir() / f"kb-{_signature(layers)}.pickle"
    except OSError:
        return load_kb(root, extra)
    try:
        with open(path, "rb") as fh:
            kb = pickle.load(fh)
        if isinstance(kb, KnowledgeBase):
            return kb
    except Exception:  # noqa: BLE001 - missing, damaged or from another version: load the YAML
        pass
    kb = _without_nodes(load_kb(root, extra))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kb-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(kb, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass  # a cache that cannot be written costs only speed
    return kb
