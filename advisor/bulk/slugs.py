"""Safe, unique file names for KB ids, whatever characters the ids hold.

A slug is lowercase ASCII letters, digits, '.' and '-', never starts or ends with '.' or '-',
never holds '..' and is at most 64 characters. When that changes the id (slashes, spaces,
unicode, capitals, underscores, length), the first 8 hex digits of the id's SHA-1 are appended,
so two different ids never share a slug (ids the KB accepts, `^[a-z0-9][a-z0-9.-]*$`, are
their own slugs unless they are too long). '__' never occurs in a slug, so it can join slugs.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

MAX_LENGTH = 64
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10)),
             "index", "style", "site", "list"}  # names generate writes at the top of the tree


@lru_cache(maxsize=4096)  # pure: a run asks about each id once a page
def slug(ident: str) -> str:
    text = unicodedata.normalize("NFKD", ident).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9.]+", "-", text)
    text = re.sub(r"[.\-]*([.\-])[.\-]*", r"\1", text)   # '.-' and '-.' runs to one character
    text = text.strip(".-")[:MAX_LENGTH].strip(".-")
    if text and text == ident and text.split(".")[0] not in _RESERVED:
        return text
    if text.split(".")[0] in _RESERVED:
        text = text.replace(".", "-", 1)  # 'con.txt' is reserved on Windows too: 'con-txt-<hash>'
    digest = hashlib.sha1(ident.encode("utf-8")).hexdigest()[:8]
    return f"{text}-{digest}" if text else digest


def precision_slug(name: str) -> str:
    """Precision names are a fixed set (Q4_K_M, fp16 ...): lowercase, '_' as '-'."""
    return slug(name.lower().replace("_", "-"))
