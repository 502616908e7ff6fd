"""Quoting what a file says inside a one-line error message: a name or value from a hostile
file may be huge (a 100,000-character dtype, a 200,000-item shape) or hold newlines and terminal
escape sequences (ESC ] ... OSC, '\\n<script>'). Both helpers return one short printable line."""
from __future__ import annotations

from advisor.limits import short

NAME_LIMIT = 80


def name(text, limit: int = NAME_LIMIT) -> str:
    """A name from a file (a tensor name, a metadata key, an architecture) as it reads when it is
    a short printable string; else repr-quoted (escapes visible) and cut to `limit` characters."""
    if isinstance(text, str) and text.isprintable() and len(text) <= limit:
        return text
    return short(text, limit)


def value(v, limit: int = 40) -> str:
    """A value from a file, repr-quoted and cut (advisor.limits.short); a short list of scalars
    shows its items ([4096, -1]), a long or nested one only its length."""
    if isinstance(v, (list, tuple)) and len(v) <= 8 \
            and all(isinstance(x, (int, float, str, bool)) or x is None for x in v):
        text = "[" + ", ".join(short(x, limit) for x in v) + "]"
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return short(v, limit)
