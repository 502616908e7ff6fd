"""Opening a file a user names: only a regular file, and read with a bound on its size.

A named pipe (FIFO), a device or a socket given as a model, config, KB or rule file would block
a reader forever or stream without end (`mkfifo m.gguf`, `/dev/zero`); a folder is no file. The
file is opened without blocking (so opening a FIFO with no writer returns at once), its type is
checked on the open descriptor (no window between a check and the open), and only then read.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from advisor.errors import AdvisorError


class UnreadableFile(AdvisorError):
    """A file that is not a regular file, cannot be read, or is larger than its bound: `path`
    and a one-line `reason` (str() is "path: reason")."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Path | str) -> tuple[BinaryIO, int]:
    """(the open binary file, its size in bytes) of a regular file; UnreadableFile otherwise
    (a FIFO, device, socket or folder, a missing or unreadable file)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL byte in the name
        raise UnreadableFile(path, f"cannot read: {exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = _kind(st.st_mode)
            raise UnreadableFile(path, f"{what}, not a regular file" if what.startswith("a ")
                                 else what)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: Path | str, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; UnreadableFile otherwise (the size
    is checked as read, so a file that grows while read is bounded too)."""
    f, size = open_regular(path)
    with f:
        if size > limit:
            raise UnreadableFile(path, f"a {what} of {size:,} bytes is larger than the "
                                       f"{limit:,} bytes any real one has")
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UnreadableFile(path, f"a {what} larger than the {limit:,} bytes any real one has")
    return data


def read_text(path: Path | str, limit: int, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; UnreadableFile otherwise."""
    data = read_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(path, f"not UTF-8 text (byte {exc.start})") from None
