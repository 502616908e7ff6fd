"""pydantic validation of KB entries (advisor.kb.schema), imported only where data is read.

The entry classes are plain dataclasses so that a run that reads the KB from its cache never
imports pydantic; loading YAML (advisor.kb.store), `advisor kb validate`, `kb add`, model files
(advisor.files) and the JSON Schema export come here. pydantic reads the classes' annotations:
their constraints name pydantic's `Field`, which schema.py imports for type checkers only, so it
is put into schema.py's namespace before the first adapter is built.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

from advisor.kb import schema

__all__ = ["ValidationError", "adapter", "validate", "dump", "error_message"]

T = TypeVar("T")
schema.__dict__.setdefault("Field", Field)


@lru_cache(maxsize=None)
def adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def validate(cls: type[T], data: Any) -> T:
    """An entry of class `cls` from a mapping (YAML, a config); ValidationError otherwise."""
    return adapter(cls).validate_python(data)


def dump(entry, **kwargs) -> dict:
    """The entry as a mapping, as pydantic dumps it (kwargs: mode, exclude_none, ...)."""
    return adapter(type(entry)).dump_python(entry, **kwargs)


# pydantic words an unknown key of a dataclass as a keyword argument; entries are mappings.
_MESSAGES = {"unexpected_keyword_argument": "Extra inputs are not permitted"}


def error_message(err: dict) -> str:
    """The message of one error of ValidationError.errors(), as a BaseModel would word it."""
    return _MESSAGES.get(err["type"], err["msg"])
