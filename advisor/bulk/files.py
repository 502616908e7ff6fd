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

import errno
import os
import re
import secrets
import stat
from pathlib import Path

from advisor.errors import AdvisorError

TEMP_SUFFIX = ".advisor-tmp"
LOCK_NAME = ".advisor.lock"
# Opening a file never follows a symbolic link where the system can say so (POSIX): a link
# inside the output tree would write, or create, a file outside it.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def link_error(path: Path) -> AdvisorError:
    return AdvisorError(f"'{path}' is a symbolic link: advisor generate never writes through a "
                        f"link inside its output folder; remove the link (or give another --out)")


def not_file_error(path: Path, kind: str = "file") -> AdvisorError:
    return AdvisorError(f"'{path}' is in the way: advisor generate writes a {kind} there; "
                        f"move it away (or give another --out)")


def check_entry(path: Path, kind: str = "file") -> bool:
    """Whether path exists, refusing (AdvisorError) a symbolic link, and anything that is not a
    `kind` (file: a regular file; folder: a folder) where generate writes one."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISLNK(st.st_mode):
        raise link_error(path)
    if not (stat.S_ISDIR(st.st_mode) if kind == "folder" else stat.S_ISREG(st.st_mode)):
        raise not_file_error(path, kind)
    return True


def open_lock(path: Path) -> int:
    """The lock file's descriptor, created if missing, never through a link."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise link_error(path) from None
        raise AdvisorError(f"'{path}': cannot open the lock file: {exc.strerror}") from None


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    try:
        # os.open inside the try: a signal handled just after the file is created (Ctrl-C, or
        # SIGTERM turned into SystemExit) must still remove it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW
                     | getattr(os, "O_BINARY", 0), 0o666)
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
    """Write data to path unless it already holds exactly that. True when written. A symbolic
    link or a folder at path is refused (AdvisorError), never followed or replaced."""
    if _holds(path, data):
        return False
    atomic_write(path, data)
    return True


def _holds(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise link_error(path) from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise not_file_error(path)
        return st.st_size == len(data) and f.read(len(data) + 1) == data


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
