"""Where the built-in rules, templates and knowledge base live.

In a wheel they are inside the package (advisor/_data/...); in a source checkout or an
editable install they are the top-level folders of the repository.
"""
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """name is one of 'rules', 'templates', 'kb'."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name
