"""A cache of the validated knowledge base, so `advisor explain` does not parse and check every
YAML entry on each run (about 0.09 s of its 0.45 s with 120+ entries).

The cache is a pickle of the loaded KnowledgeBase (without the YAML nodes, which only the checks
at load time read), in the cache folder (advisor.cache: $ADVISOR_CACHE_DIR, else
$XDG_CACHE_HOME/advisor, else ~/.cache/advisor). Its name is a digest of every entry file's path,
size and modification time in every layer and of the loader's own source files, so editing an
entry, adding a user KB folder or upgrading advisor reads the YAML again. A KB with errors is
never cached (load_kb raises first). Anything that goes wrong with the cache (an unwritable
folder, a damaged file) falls back to loading the YAML. ADVISOR_NO_KB_CACHE=1 (or
ADVISOR_NO_CACHE=1) turns it off. The entries are plain dataclasses: reading the cache does not
import pydantic.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from advisor.cache import Key, cache_dir, cached, code_files
from advisor.kb.schema import with_fields
from advisor.kb.store import KINDS, KnowledgeBase, load_kb
from advisor.paths import data_dir

__all__ = ["cache_dir", "load_kb_cached"]
_CODE = ("kb/schema.py", "kb/validate.py", "kb/store.py", "kb/checks.py", "kb/cache.py", "cache.py",
         "yamlfile.py", "sizing/tensors.py")  # tensors: the parameter counts kept with it


def _key(layers: Sequence[Path]) -> Key:
    key = Key(code_files(*_CODE))
    for layer in layers:
        key.text(f"layer:{Path(layer).resolve()}")
        for kind in KINDS:
            key.files(Path(layer) / kind)
    return key


def _without_nodes(kb: KnowledgeBase) -> KnowledgeBase:
    """The KB without what only the load-time checks and the `advisor kb` commands (which read
    the YAML, not this cache) use: the YAML nodes, and each entry's `sources` (two thirds of the
    pickle's bytes and most of its objects: reading it took twice as long with them). Entries
    read from the cache have `sources == ()`."""
    for index in (kb.models, kb.gpus):
        lean = {i: _no_sources(e) for i, e in index.by_id.items()}
        index.by_id = lean
        index.by_key = {k: lean[e.id] for k, e in index.by_key.items()}
        index.parsed = {i: replace(p, node=None, entry=lean[i]) for i, p in index.parsed.items()}
    return kb


def _with_counts(kb: KnowledgeBase) -> KnowledgeBase:
    """The KB with every model's parameter count (KnowledgeBase.counted): comparing model sizes
    (candidates.better_models) would otherwise build the tensor list of every scored model."""
    from advisor.sizing.tensors import parameter_count

    kb.counted = {m.id: parameter_count(m.architecture) for m in kb.all_models()}
    return kb


def _no_sources(entry):
    """A copy of a (frozen) KB entry with no sources."""
    return with_fields(entry, sources=())


def load_kb_cached(root: Path | None = None, extra: Sequence[Path] = ()) -> KnowledgeBase:
    """load_kb(root, extra), from the cache when no entry file changed since it was written."""
    layers = [Path(root) if root is not None else data_dir("kb"), *[Path(p) for p in extra]]
    return cached("KB", "kb", lambda: _key(layers), lambda: _with_counts(_without_nodes(load_kb(root, extra))),
                  lambda kb: isinstance(kb, KnowledgeBase))
