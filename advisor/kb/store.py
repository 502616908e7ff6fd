"""Load, layer and index the KB. Every error in every file is collected before failing.

A KB folder holds `models/<id>.yaml` and `gpus/<id>.yaml`. The built-in folder comes first;
user folders (`--kb DIR`, `$ADVISOR_KB`) are layered on top, in order:

- a user entry whose id is a built-in id **replaces** the built-in entry (the same rule as for
  rule files); the KB records the replacement (`KnowledgeBase.overrides`) so `advisor kb list`
  and `advisor kb show` say so: nothing is replaced silently;
- the same id in two user folders is an error (which one was meant is unknowable), as is a name
  or alias that names two different entries.

Every error reads `path:line: field 'x': message`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence, TypeVar

from advisor.errors import AdvisorError, AdvisorErrors, closest
from advisor.limits import MAX_GPUS, short
from advisor.kb.schema import GPU, Model
from advisor.paths import data_dir
from advisor.yamlfile import YamlFileError, is_mapping, is_sequence, read_yaml

if TYPE_CHECKING:
    import yaml

T = TypeVar("T")
KB_ENV = "ADVISOR_KB"
KINDS = {"models": Model, "gpus": GPU}


class KBErrors(AdvisorErrors):
    """Every error found in the KB folders, one `path:line: field 'x': message` a line."""


def _key_line(node: yaml.Node | None, key: str) -> int | None:
    if is_mapping(node):
        for k, _ in node.value:
            if k.value == key:
                return k.start_mark.line + 1
    return None


def _line_of(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the YAML node at a pydantic error location (best effort)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if is_mapping(node):
            nxt = next((v for k, v in node.value if k.value == key), None)
            if nxt is None:
                key_node = next((k for k, _ in node.value if k.value == key), None)
                return key_node.start_mark.line + 1 if key_node else line
            node = nxt
        elif is_sequence(node) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _node_at(node: yaml.Node | None, loc: tuple) -> yaml.Node | None:
    for key in loc:
        if not is_mapping(node):
            return None
        node = next((v for k, v in node.value if k.value == key), None)
    return node


def _blame(node: yaml.Node | None, loc: tuple, msg: str) -> tuple[str, int]:
    """The field an error is about, and its line. A whole-entry check (pydantic loc ()) that
    names a field of the entry in its message is pinned to that field."""
    where = ".".join(str(p) for p in loc)
    if where and not isinstance(loc[-1], int) and _node_at(node, loc) is not None \
            and not is_mapping(_node_at(node, loc)):
        return where, _line_of(node, loc)
    target = _node_at(node, loc)
    if is_mapping(target):
        keys = [k.value for k, _ in target.value]
        named = [w for w in re.findall(r"[a-z_0-9]+", msg) if w in keys]
        if named:
            return ".".join([*map(str, loc), named[0]]), _key_line(target, named[0]) or 1
    return where or "(entry)", _line_of(node, loc)


def field_line(node: yaml.Node | None, dotted: str) -> int:
    """Line of a dotted field (`architecture.kv_heads`) in a parsed entry, or the entry's first line."""
    return _line_of(node, tuple(dotted.split(".")))


@dataclass(frozen=True)
class Parsed:
    path: Path
    entry: Model | GPU
    node: yaml.Node


def parse_entries(paths: Iterable[Path], schema: type[T], errors: list[str]) -> list[Parsed]:
    from advisor.kb.validate import ValidationError, error_message, validate

    out = []
    for path in paths:
        try:
            node, data = read_yaml(path)
        except YamlFileError as exc:
            errors.append(f"{path}:{exc.line}: {exc.message}")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}:1: expected a mapping of fields")
            continue
        try:
            out.append(Parsed(path, validate(schema, data), node))
        except ValidationError as exc:
            for err in exc.errors():
                msg = error_message(err).removeprefix("Value error, ")
                where, line = _blame(node, tuple(err["loc"]), msg)
                errors.append(f"{path}:{line}: field '{where}': {msg}")
    return out


def _lookup_key(name: str) -> str:
    """How names are compared: lower case, runs of spaces, hyphens and underscores as one space
    ("RTX 3060", "rtx-3060" and "rtx_3060" are one key)."""
    return " ".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def _closest_ids(name: str, by_key: dict) -> list[str]:
    """The ids of the (up to three) entries whose id, name or alias is closest to `name`."""
    want = _lookup_key(name)
    words = set(want.split()) - {"nvidia", "amd", "intel", "geforce", "radeon"}
    # keys that hold every word asked ("h100 sxm" -> "h100 80gb sxm"), shortest first, then
    # the nearest by spelling
    holding = sorted((k for k in by_key if words and words <= set(k.split())), key=lambda k: (len(k), k))
    out: list[str] = []
    for k in holding + closest(want, sorted(by_key), n=12):
        entry_id = by_key[k].id
        if entry_id not in out:
            out.append(entry_id)
    return out[:3]


@dataclass
class _Index:
    kind: str
    by_id: dict = field(default_factory=dict)
    by_key: dict = field(default_factory=dict)
    parsed: dict = field(default_factory=dict)      # id -> Parsed
    builtin: set = field(default_factory=set)       # ids whose entry is the built-in one
    overrides: dict = field(default_factory=dict)   # id -> path of the built-in entry replaced

    def add(self, p: Parsed, layer: int, errors: list[str]) -> None:
        entry = p.entry
        old = self.parsed.get(entry.id)
        if old is not None:
            if layer == 0 or entry.id not in self.builtin:
                errors.append(f"{p.path}:{_key_line(p.node, 'id') or 1}: field 'id': {self.kind} id "
                              f"'{entry.id}' is also defined in {old.path}")
                return
            self.overrides[entry.id] = old.path
            self.builtin.discard(entry.id)
            self.by_key = {k: v for k, v in self.by_key.items() if v.id != entry.id}
        elif layer == 0:
            self.builtin.add(entry.id)
        self.by_id[entry.id] = entry
        self.parsed[entry.id] = p
        for key in [entry.id, entry.name, *entry.aliases]:
            # a name the GPU or MODEL argument reads as something else before asking the KB: a
            # count of cards (2x h100), a file's path, a set of cards; an id is held to the
            # schema's ID_PATTERN instead
            if self.kind == "gpu" and _reads_as_a_count(key):
                reading = ("a count of cards in explain's GPU argument (2x rtx-3090 is two RTX "
                           "3090s): name the card without a count and an x first")
            elif key != entry.id and (other_reading := _reads_as_other(self.kind, key, key == entry.name)):
                reading = (f"{other_reading}: the one reading would hide the other; give the entry "
                           "names that read only as names")
            else:
                reading = None
            if reading:
                what = "id" if key == entry.id else "name" if key == entry.name else "aliases"
                errors.append(f"{p.path}:{_key_line(p.node, what) or 1}: field '{what}': "
                              f"{self.kind} {'alias' if what == 'aliases' else what} {short(key)} "
                              f"reads as {reading}")
                continue
            k = _lookup_key(key)
            other = self.by_key.get(k)
            if other is not None and other.id != entry.id:
                errors.append(f"{p.path}:{_key_line(p.node, 'aliases') or 1}: field 'aliases': {self.kind} "
                              f"name or alias '{key}' also names '{other.id}' ({self.parsed[other.id].path})")
            self.by_key[k] = entry

    def find(self, key: str):
        """The entry an id, name or alias names (any case; spaces, hyphens and underscores are
        the same), or None."""
        return self.by_key.get(_lookup_key(key))

    def get(self, key: str):
        """The entry an id, name or alias names (any case; spaces, hyphens and underscores are
        the same); AdvisorError naming the three closest ids otherwise."""
        hit = self.find(key)
        if hit is None and _names_a_file(key):
            # explain and gpus read a model file before asking the KB; here one was not taken
            what = ("a model file: explain MODEL GPU and gpus MODEL read it; here give a KB id "
                    "(advisor kb add --from config.json makes an entry)" if self.kind == "model"
                    else f"a file, not a {self.kind} of the knowledge base (a model file is read by "
                    f"explain MODEL GPU and gpus MODEL)")
            raise AdvisorError(f"'{key}' is {what}")
        if hit is None:
            near = _closest_ids(key, self.by_key)
            hint = f"; closest known: {', '.join(near)}" if near else ""
            raise AdvisorError(f"unknown {self.kind} {short(key, 82)}{hint}")
        return hit


def _reads_as_a_count(key: str) -> bool:
    """Whether a GPU id, name or alias begins as explain's GPU argument writes a count of cards
    (`2x-h100`, `8x H100`: a count from 1 to MAX_GPUS and an x), so that the same words would
    name one card and several. `7900 XTX` is no count (7,900 cards are refused), so it stays a
    name (advisor.hardware.gpuset reads a KB key before a count)."""
    from advisor.hardware.gpuset import count_prefix

    n = count_prefix(key)
    return n is not None and 1 <= n <= MAX_GPUS


def _reads_as_other(kind: str, key: str, display_name: bool = False) -> str | None:
    """What explain's MODEL or GPU argument reads `key` as before the KB is asked, where it is
    not a KB name: a model file's path (`./config.json`, `x.gguf`, `/models/m`), or, for a GPU
    id or alias, a set of cards (`rtx-3090,rtx-4090`; a display name may hold a comma, as
    'NVIDIA DGX Spark (GB10, 128 GB)' does, whose parts name no card). A KB name spelled so was
    shadowed silently or shadowed the set (hostile pass 14A). None for a key read as a KB name."""
    if _spelled_as_a_path(key):
        return "a model file's path"
    if kind == "gpu" and "," in key and not display_name:
        return "a set of cards in explain's GPU argument (rtx-3090,rtx-4090 is two cards)"
    return None


def _spelled_as_a_path(key: str) -> bool:
    """key is spelled as a model file's name (.gguf, .json, .safetensors, any case) or a path."""
    from advisor.files import MODEL_SUFFIXES

    return key.lower().endswith(MODEL_SUFFIXES) or key.startswith(("./", "../", "/", "~", ".\\"))


def _names_a_file(key: str) -> bool:
    """key is a path to an existing file or folder, or is spelled as a model file's name."""
    if _spelled_as_a_path(key):
        return True
    try:
        return os.sep in key and os.path.exists(key)
    except (OSError, ValueError):
        return False


@dataclass
class KnowledgeBase:
    models: _Index
    gpus: _Index
    dirs: tuple[Path, ...] = ()
    # model id -> its parameter count, kept with the KB cache (advisor.kb.cache) so that a run
    # does not build every scored model's tensor list to compare sizes (candidates.better_models)
    counted: dict = field(default_factory=dict)

    def parameter_count(self, m: Model) -> int:
        """advisor.sizing.tensors.parameter_count of m's architecture: the count stored with
        the KB when m is this KB's entry of its id, else computed (a model read from a file, a
        copy with another architecture)."""
        n = self.counted.get(m.id)
        if n is not None and self.models.by_id.get(m.id) is m:
            return n
        from advisor.sizing.tensors import parameter_count

        return parameter_count(m.architecture)

    def model(self, key: str) -> Model:
        """The model an id, name or alias names, or an Ollama name (`llama3.1:70b`,
        `qwen2.5:32b-instruct-q4_K_M`) resolved through its aliases; AdvisorError naming the
        three closest ids otherwise."""
        hit = self.models.find(key)
        if hit is not None:
            return hit
        match = self.ollama(key)
        return match.model if match is not None else self.models.get(key)

    def ollama(self, key: str):
        """An Ollama name resolved to (model, the alias matched, its precision and where that
        came from) as advisor.kb.ollama.OllamaMatch, or None when `key` is not one the KB's
        aliases name. A name without a tag that is itself an id, name or alias (`Mixtral`) is
        the KB's, not Ollama's `mixtral:latest`. A Hugging Face name (`hf.co/ORG/REPO[:QUANT]`)
        is the model whose gguf_repos lists ORG/REPO (advisor.kb.ollama_hf), or AdvisorError."""
        if ":" not in key and self.models.find(key) is not None:
            return None
        from advisor.kb.ollama import resolve_ollama
        from advisor.kb.ollama_hf import resolve_hf_ollama

        hf = resolve_hf_ollama(self.models.by_id.values(), key)
        if hf is not None:
            return hf

        return resolve_ollama(self.models.find, key)

    def gpu(self, key: str) -> GPU:
        return self.gpus.get(key)

    def all_models(self) -> list[Model]:
        return [self.models.by_id[k] for k in sorted(self.models.by_id)]

    def all_gpus(self) -> list[GPU]:
        return [self.gpus.by_id[k] for k in sorted(self.gpus.by_id)]

    def path_of(self, entry) -> Path:
        return self._index(entry).parsed[entry.id].path

    def overridden(self, entry) -> Path | None:
        """The built-in file this (user) entry replaces, if it replaces one."""
        return self._index(entry).overrides.get(entry.id)

    def is_builtin(self, entry) -> bool:
        return entry.id in self._index(entry).builtin

    def _index(self, entry) -> _Index:
        return self.models if isinstance(entry, Model) else self.gpus


def user_kb_dirs(extra: Sequence[Path] = ()) -> list[Path]:
    """User KB folders: those in $ADVISOR_KB (os.pathsep-separated), then `extra` (--kb)."""
    from advisor.paths import user_folders

    return user_folders(os.environ.get(KB_ENV), extra, "KB folder")


def _entry_files(root: Path, kind: str, errors: list[str]) -> list[Path]:
    d = root / kind
    if not d.is_dir():
        if d.exists() or d.is_symlink():  # a file (or a dangling link) where entries belong
            errors.append(f"{d}:1: not a folder: a KB folder's {kind}/ holds its entries")
        return []
    listed = sorted(d.iterdir())
    # hidden files (.DS_Store, an editor's .x.yaml.swp) are not entries, but a hidden YAML file
    # looks like one the user meant to load: said, not skipped silently (hostile pass 14A)
    for p in listed:
        if p.name.startswith(".") and p.suffix == ".yaml":
            errors.append(f"{p}:1: not a KB entry: a file whose name begins with a dot is hidden, "
                          "and entries are files named <id>.yaml")
    files = [p for p in listed if not p.name.startswith(".")]
    for p in files:
        if p.suffix != ".yaml" or not p.is_file():
            errors.append(f"{p}:1: not a KB entry: entries are files named <id>.yaml")
    return [p for p in files if p.suffix == ".yaml" and p.is_file()]


def load_kb(root: Path | None = None, extra: Sequence[Path] = ()) -> KnowledgeBase:
    """The KB in `root` (default: the built-in one) with the user folders `extra` on top."""
    from advisor.kb.checks import check_gpu, check_model

    root = Path(root) if root is not None else data_dir("kb")
    errors: list[str] = []
    layers = [root, *[Path(p) for p in extra]]
    for d in layers[1:]:
        if not d.is_dir():
            errors.append(f"{d}:1: KB folder does not exist")
        elif not any((d / k).is_dir() for k in KINDS):
            errors.append(f"{d}:1: KB folder has no models/ or gpus/ folder: nothing would load from it")
    indexes = {kind: _Index(kind.rstrip("s")) for kind in KINDS}
    files = {(layer, kind): _entry_files(d, kind, errors) for layer, d in enumerate(layers)
             for kind in KINDS}
    from advisor.limits import MAX_USER_KB_ENTRIES

    user = sum(len(f) for (layer, _), f in files.items() if layer > 0)
    if user > MAX_USER_KB_ENTRIES:  # counted before any is read: bounded time
        raise KBErrors([f"{layers[1]}:1: the user KB folders hold {user:,} entries; at most "
                        f"{MAX_USER_KB_ENTRIES:,} are read (each is parsed and validated)"])
    for layer, d in enumerate(layers):
        for kind, schema in KINDS.items():
            for p in parse_entries(files[layer, kind], schema, errors):
                if p.path.stem != p.entry.id:
                    errors.append(f"{p.path}:{_key_line(p.node, 'id') or 1}: field 'id': file name must be "
                                  f"the id: '{p.entry.id}.yaml'")
                    continue
                indexes[kind].add(p, layer, errors)
    models, gpus = indexes["models"], indexes["gpus"]
    for p in models.parsed.values():
        errors += check_model(p.entry, p.path, p.node, models.by_id)
    for p in gpus.parsed.values():
        errors += check_gpu(p.entry, p.path, p.node)
    if errors:
        raise KBErrors(errors)
    return KnowledgeBase(models=models, gpus=gpus, dirs=tuple(layers))
