"""File output that an interrupted run cannot leave half-written.

Every file is written to a temporary file in its own folder (`.<name>.<pid>.<random>.advisor-tmp`,
created exclusively, permissions as the umask allows) and renamed over its target with
os.replace, which is atomic on POSIX and Windows: a reader sees the old file or the new one,
never a mix. An exception or a Ctrl-C inside the write removes the temporary file; a process
killed outright (SIGKILL, power cut) can leave one, and remove_stale_temp_files (run at the
start of every run) deletes them: only files of exactly that name, only in the output folder and
its page folders, and only in a folder that carries generate's marker file. Files are not fsynced: the guarantee covers a killed process,
not a power failure.

A page is up to date when its bytes on disk equal the bytes the run renders (content
comparison): unchanged pages are not rewritten, so their modification times survive.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

TEMP_SUFFIX = ".advisor-tmp"
LOCK_NAME = ".advisor.lock"


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    try:
        # os.open inside the try: a signal handled just after the file is created (Ctrl-C, or
        # SIGTERM turned into SystemExit) must still remove it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except FileExistsError:
        raise  # not ours
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write data to path unless it already holds exactly that. True when written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write(path, data)
    return True


# The temporary files atomic_write makes: `.<name>.<pid>.<8 hex digits>.advisor-tmp`.
TEMP_RE = re.compile(r"^\.[^/]+\.[0-9]+\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")


def remove_stale_temp_files(root: Path) -> int:
    """Delete the temporary files of interrupted runs in root's output tree; the count removed.

    Only where a run writes (root itself and its page folders, one level down, never through a
    link) and only names atomic_write makes: the caller checks that root is an output folder
    of advisor generate (its marker file, advisor.bulk.generate.MARKER)."""
    removed = 0
    folders = [root]
    try:
        with os.scandir(root) as it:
            folders += [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return 0
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                stale = [e.path for e in it
                         if TEMP_RE.match(e.name) and e.is_file(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for path in stale:
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
    return removed
