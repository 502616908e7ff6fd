"""Reading a YAML file with its node tree (for line numbers), as the KB and the rule files do."""
from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml


def loader():
    """PyYAML's C safe loader where libyaml is built in, else the Python one. yaml is imported
    here, not at module level: a run that reads only its caches never parses YAML."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def __getattr__(name: str):
    if name == "Loader":
        return loader()
    raise AttributeError(name)


def is_mapping(node) -> bool:
    """Whether a node of read_yaml's tree is a mapping (yaml.MappingNode), without importing yaml."""
    return getattr(node, "id", None) == "mapping"


def is_sequence(node) -> bool:
    """Whether a node of read_yaml's tree is a sequence (yaml.SequenceNode)."""
    return getattr(node, "id", None) == "sequence"


class YamlFileError(Exception):
    """A file that cannot be read or parsed: `line` (1-based) and a one-line `message`."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def read_yaml(path: Path) -> tuple[yaml.Node | None, object]:
    """(the node tree, the data) of the file; YamlFileError naming the line otherwise."""
    import yaml

    Loader = loader()
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.compose(text, Loader=Loader), yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlFileError(mark.line + 1 if mark else 1,
                            f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(1, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
