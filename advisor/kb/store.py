"""Load and index the KB. Every error in every file is collected before failing."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from advisor.errors import AdvisorError, closest
from advisor.kb.schema import GPU, Model
from advisor.paths import data_dir

T = TypeVar("T", bound=BaseModel)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the YAML node at a pydantic error location (best effort)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == key), None)
            if nxt is None:
                key_node = next((k for k, _ in node.value if k.value == key), None)
                return key_node.start_mark.line + 1 if key_node else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_entries(paths: Iterable[Path], schema: type[T], errors: list[str]) -> list[tuple[Path, T]]:
    out = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            node = yaml.compose(text, Loader=_Loader)
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            errors.append(f"{path}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}")
            continue
        except OSError as exc:
            errors.append(f"{path}:1: cannot read: {exc.strerror}")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path}:1: expected a mapping of fields")
            continue
        try:
            out.append((path, schema.model_validate(data)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(p for p in err["loc"])
                where = ".".join(str(p) for p in loc) or "(entry)"
                errors.append(f"{path}:{_line_of(node, loc)}: field '{where}': {err['msg']}")
    return out


@dataclass
class _Index:
    kind: str
    by_id: dict = field(default_factory=dict)
    by_key: dict = field(default_factory=dict)

    def add(self, entry, path: Path, errors: list[str]) -> None:
        if entry.id in self.by_id:
            errors.append(f"{path}:1: duplicate {self.kind} id '{entry.id}'")
            return
        self.by_id[entry.id] = entry
        for key in [entry.id, entry.name, *entry.aliases]:
            k = key.lower()
            other = self.by_key.get(k)
            if other is not None and other.id != entry.id:
                errors.append(f"{path}:1: {self.kind} name or alias '{key}' also names '{other.id}'")
            self.by_key[k] = entry

    def get(self, key: str):
        hit = self.by_key.get(key.strip().lower())
        if hit is None:
            near = closest(key, sorted(self.by_id))
            hint = f"; closest known: {', '.join(near)}" if near else ""
            raise AdvisorError(f"unknown {self.kind} '{key}'{hint}")
        return hit


@dataclass
class KnowledgeBase:
    models: _Index
    gpus: _Index

    def model(self, key: str) -> Model:
        return self.models.get(key)

    def gpu(self, key: str) -> GPU:
        return self.gpus.get(key)

    def all_models(self) -> list[Model]:
        return [self.models.by_id[k] for k in sorted(self.models.by_id)]

    def all_gpus(self) -> list[GPU]:
        return [self.gpus.by_id[k] for k in sorted(self.gpus.by_id)]


def _near(key: str, index: _Index) -> str:
    near = closest(key, sorted(index.by_id))
    return f"; closest known: {', '.join(near)}" if near else ""


def load_kb(root: Path | None = None) -> KnowledgeBase:
    root = root or data_dir("kb")
    errors: list[str] = []
    models = _Index("model")
    gpus = _Index("gpu")
    for path, m in parse_entries(sorted((root / "models").glob("*.yaml")), Model, errors):
        if path.stem != m.id:
            errors.append(f"{path}:1: file name must be the id '{m.id}.yaml'")
        models.add(m, path, errors)
    for path, g in parse_entries(sorted((root / "gpus").glob("*.yaml")), GPU, errors):
        if path.stem != g.id:
            errors.append(f"{path}:1: file name must be the id '{g.id}.yaml'")
        gpus.add(g, path, errors)
    for m in models.by_id.values():
        where = root / "models" / (m.id + ".yaml")
        for s in m.siblings:
            if s not in models.by_id:
                errors.append(f"{where}:1: sibling '{s}' is not a known model{_near(s, models)}")
        if m.distilled_from and m.distilled_from not in models.by_id:
            errors.append(f"{where}:1: distilled_from '{m.distilled_from}' is not a known model"
                          f"{_near(m.distilled_from, models)}")
    if errors:
        raise AdvisorError("\n".join(errors))
    return KnowledgeBase(models=models, gpus=gpus)
