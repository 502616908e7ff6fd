"""What advisor read from the Hugging Face Hub besides config.json, kept so the same question
is answered offline (HF_HUB_OFFLINE=1) afterwards: the safetensors headers of a repo, or the
header bytes of a GGUF file.

config.json itself (and a safetensors index) lies in the standard Hugging Face cache, where
huggingface_hub's hf_hub_download put it. Headers are no files of the repo, so they live in
advisor's cache folder (advisor.cache.cache_dir()), under hub/:

    hub/models--ORG--REPO/<key>.json   a manifest: the commit read, and for each file its name,
                                       size and the digest of what was read of it
    hub/blobs/<sha256>                 the bytes, named by their SHA-256

<key> is a digest of the revision and the GGUF quant asked for ("" for safetensors). A manifest
or blob that is not trusted (advisor.cache.trusted: a link, another user's, writable by all),
damaged, of another format, or whose bytes do not hash to its name counts as missing. What is
read back goes through the same checks as when it was fetched (advisor.files), so the cache
can make advisor no more wrong than a local file could. Written atomically (a temporary name,
renamed), so a reader never sees half a file. ADVISOR_NO_CACHE or ADVISOR_NO_HUB_CACHE turn it
off (every question is then fetched again, and HF_HUB_OFFLINE answers only from the Hugging Face
cache).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from advisor.cache import cache_dir, enabled, trusted

FORMAT = 1
MAX_MANIFEST_BYTES = 4 << 20
COMMIT = re.compile(r"^[0-9a-f]{40}\Z")
DIGEST = re.compile(r"^[0-9a-f]{64}\Z")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _root() -> Path:
    return cache_dir() / "hub"


def _manifest_path(repo: str, quant: str | None, revision: str = "main") -> Path:
    key = digest(f"{revision}\0{(quant or '').lower()}".encode())[:32]
    return _root() / ("models--" + repo.replace("/", "--")) / f"{key}.json"


def _plain_path(name) -> bool:
    """A file path inside a repo: relative, no '..' or empty part, no backslash or NUL."""
    return (isinstance(name, str) and 0 < len(name) <= 1024 and not name.startswith("/")
            and not any(c in name for c in "\\\0")
            and all(p not in ("", ".", "..") for p in name.split("/")))


def _valid(m, repo: str, quant: str | None) -> bool:
    if not (isinstance(m, dict) and m.get("format") == FORMAT and m.get("repo") == repo
            and m.get("quant") == (quant or "").lower() and isinstance(m.get("commit"), str)
            and COMMIT.match(m["commit"]) and m.get("kind") in ("safetensors", "gguf")
            and isinstance(m.get("files"), list)):
        return False
    for f in m["files"]:
        if not (isinstance(f, dict) and _plain_path(f.get("name"))
                and isinstance(f.get("size"), int) and f["size"] >= 0):
            return False
        parts = f.get("blocks") if m["kind"] == "gguf" else [[0, f.get("header")]]
        if not isinstance(parts, list):
            return False
        for p in parts:
            if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and p[0] >= 0
                    and isinstance(p[1], str) and DIGEST.match(p[1])):
                return False
    return True


def load(repo: str, quant: str | None) -> dict | None:
    """The manifest of what was read of `repo` (for a GGUF `quant`), or None."""
    if not enabled("HUB"):
        return None
    path = _manifest_path(repo, quant)
    if not trusted(path):
        return None
    from advisor.errors import AdvisorError
    from advisor.files.hf import strict_json
    from advisor.readfile import read_bytes

    try:
        m = strict_json(read_bytes(path, MAX_MANIFEST_BYTES, "manifest"))
    except (AdvisorError, OSError, ValueError, RecursionError):
        return None  # damaged, foreign or unreadable: as if missing
    return m if _valid(m, repo, quant) else None


def blob(sha: str, limit: int) -> bytes | None:
    """The bytes stored under their SHA-256 `sha` (at most `limit` of them), or None when they
    are missing, untrusted or do not hash to it."""
    path = _root() / "blobs" / sha
    if not DIGEST.match(sha) or not trusted(path):
        return None
    from advisor.readfile import UnreadableFile, read_bytes

    try:
        data = read_bytes(path, limit, "cached header")
    except UnreadableFile:
        return None
    return data if digest(data) == sha else None


def _write(path: Path, data: bytes) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save(repo: str, quant: str | None, kind: str, commit: str, files: list[dict],
         blobs: dict[str, bytes]) -> None:
    """Keep what was read: `files` as the manifest lists them (name, size, and `header` or
    `blocks` naming digests), `blobs` the bytes by digest. Errors are ignored: a cache that
    cannot be written costs only a fetch next time (and an offline answer)."""
    if not enabled("HUB"):
        return
    manifest = {"format": FORMAT, "repo": repo, "quant": (quant or "").lower(), "kind": kind,
                "commit": commit, "files": files}
    if not _valid(manifest, repo, quant):
        return
    try:
        for sha, data in blobs.items():
            path = _root() / "blobs" / sha
            if not trusted(path) or digest(path.read_bytes()) != sha:
                _write(path, data)
        _write(_manifest_path(repo, quant),
               json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    except OSError:
        pass
