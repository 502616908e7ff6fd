"""Reading a YAML file with its node tree (for line numbers), as the KB and the rule files do."""
from __future__ import annotations

from pathlib import Path

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlFileError(Exception):
    """A file that cannot be read or parsed: `line` (1-based) and a one-line `message`."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def read_yaml(path: Path) -> tuple[yaml.Node | None, object]:
    """(the node tree, the data) of the file; YamlFileError naming the line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.compose(text, Loader=Loader), yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlFileError(mark.line + 1 if mark else 1,
                            f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(1, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
