"""Where the built-in rules, templates and knowledge base live.

In a wheel they are inside the package (advisor/_data/...); in a source checkout or an
editable install they are the top-level folders of the repository.
"""
import stat as _stat
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """name is one of 'rules', 'templates', 'kb'."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name


def user_folders(env_value: str | None, extra=(), what: str = "folder") -> list[Path]:
    """The user folders of a layered source ($ADVISOR_KB or $ADVISOR_RULES, split on os.pathsep,
    then the repeated option), each checked once for every command: a path that names a file, or
    that the system cannot look at (a name too long, a loop of symbolic links, no permission), is
    refused in one line; a missing one is kept (its loader says it does not exist). A folder given
    twice (the same folder after resolving links) counts once, at its last place, so that the
    layering order of the others is kept."""
    import os

    from advisor.errors import AdvisorError

    given = [Path(p) for p in (env_value or "").split(os.pathsep) if p] + [Path(p) for p in extra]
    out: dict[str, Path] = {}
    for p in given:
        try:
            st = os.stat(p)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except (OSError, ValueError) as exc:  # ENAMETOOLONG, ELOOP, EACCES; ValueError: a NUL
            reason = getattr(exc, "strerror", None) or str(exc)
            raise AdvisorError(f"{what} '{p}': cannot read it: {reason}") from None
        if st is not None and not _stat.S_ISDIR(st.st_mode):
            raise AdvisorError(f"{what} '{p}' is a file, not a folder")
        try:
            key = os.path.realpath(p)
        except (OSError, ValueError):
            key = os.path.abspath(p)
        out.pop(key, None)
        out[key] = p
    return list(out.values())
