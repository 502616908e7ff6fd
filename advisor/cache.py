"""On-disk caches of what advisor derives from its files, so `advisor explain` does not redo it on
every run: the validated KB (advisor.kb.cache), the rulebook and the objective
(advisor.advise), the weight sizes of architectures (advisor.sizing.weights) and compiled
templates (advisor.render).

Where: $ADVISOR_CACHE_DIR, else $XDG_CACHE_HOME/advisor (an absolute path; a relative one is
ignored, as the XDG spec says), else ~/.cache/advisor. A relative $ADVISOR_CACHE_DIR would put
the cache in whatever folder advisor runs from: the command line refuses it (check_cache_dir),
and the library ignores it as XDG's.

Keys: a cache file's name is a digest of everything its content depends on: advisor's version,
the size and modification time of the source files of the code that computes it, and the path,
size, modification time and status-change time of every input file (an entry, a rule file, a template), so editing
any of them, adding a folder or upgrading advisor computes it again. Nothing that failed (a KB or
rule error) is cached. Anything that goes wrong with a cache (an unwritable folder, a damaged or
foreign file) falls back to computing; files are written to a temporary name and renamed into
place, so a reader never sees half a file, also with several processes at once. Pickles are
trusted as the user's own files are: they live in their cache folder and only advisor writes them.

Opt-outs, any non-empty value: ADVISOR_NO_CACHE turns every cache off; ADVISOR_NO_KB_CACHE,
ADVISOR_NO_RULES_CACHE (rulebook and objective), ADVISOR_NO_WEIGHTS_CACHE,
ADVISOR_NO_TEMPLATES_CACHE and ADVISOR_NO_DATA_CACHE (advisor/data's measurement tables) one each.

The headers of models read from the Hugging Face Hub are kept under hub/ in the same folder
(advisor.files.hub_cache): not pickles but the bytes read, named by their SHA-256 and checked
against it; ADVISOR_NO_HUB_CACHE turns it off.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from advisor import __version__

T = TypeVar("T")
PACKAGE = Path(__file__).resolve().parent


def check_cache_dir() -> None:
    """AdvisorError (one line) when $ADVISOR_CACHE_DIR is set to a relative path: the cache
    would land in each working folder advisor is run from, beside the user's own files."""
    given = os.environ.get("ADVISOR_CACHE_DIR")
    if given and not os.path.isabs(given):
        from advisor.errors import AdvisorError
        from advisor.text import escaped

        raise AdvisorError(f"ADVISOR_CACHE_DIR '{escaped(given)}' is a relative path: the cache "
                           f"would be written into whatever folder advisor runs from; give an "
                           f"absolute one (or unset it for ~/.cache/advisor)")


def cache_dir() -> Path:
    given = os.environ.get("ADVISOR_CACHE_DIR")
    if given and os.path.isabs(given):   # a relative one: check_cache_dir; ignored here
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        base = Path.home() / ".cache"
    return Path(base) / "advisor"


def enabled(name: str) -> bool:
    """Whether the cache `name` (KB, RULES, WEIGHTS, TEMPLATES) is on."""
    return not (os.environ.get("ADVISOR_NO_CACHE") or os.environ.get(f"ADVISOR_NO_{name}_CACHE"))


def code_files(*names: str) -> list[Path]:
    """Source files of advisor (paths relative to the package; a folder means its *.py files)."""
    out = []
    for name in names:
        p = PACKAGE / name
        out += sorted(p.glob("*.py")) if p.is_dir() else [p]
    return out


def _stamp(st: os.stat_result) -> str:
    """What says a file changed: its size, modification time and status-change time. The
    modification time alone can be set back (cp -p, rsync -a, touch -r) after a same-size edit;
    the change time (st_ctime_ns) cannot be set by a user, and any write or rename moves it."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


class Key:
    """A digest of advisor's version, code files and input files, built up in order."""

    def __init__(self, code: Iterable[Path] = ()):
        self._h = hashlib.sha256(f"advisor {__version__}\n".encode())
        for p in code:
            st = p.stat()
            self._h.update(f"code:{p.relative_to(PACKAGE)}:{st.st_size}:{st.st_mtime_ns}\n".encode())

    def text(self, s: str) -> Key:
        self._h.update(f"{s}\n".encode())
        return self

    def file(self, p: Path) -> Key:
        """A file's path, size and modification time; a missing one counts as missing."""
        try:
            st = p.stat()
            return self.text(f"file:{p.resolve()}:{_stamp(st)}")
        except FileNotFoundError:
            return self.text(f"missing:{p.resolve()}")

    def files(self, folder: Path, pattern: str = "*") -> Key:
        """Every file in a folder whose name matches the pattern (or that the folder is missing)."""
        folder = Path(folder)
        if not folder.is_dir():
            return self.text(f"no folder:{folder.resolve()}")
        self.text(f"folder:{folder.resolve()}")
        with os.scandir(folder) as it:  # scandir: no Path object a file (a KB has hundreds)
            found = sorted((e.name, e) for e in it)
        for name, entry in found:
            if pattern == "*" or fnmatch(name, pattern):
                st = entry.stat()
                self.text(f"{name}:{_stamp(st)}")
        return self

    def digest(self) -> str:
        return self._h.hexdigest()[:32]


def trusted(path: Path) -> bool:
    """Whether a cache file (or folder) may be read: a regular file (or folder), not a link,
    FIFO or device, owned by this user and not writable by everyone, in a folder that is the
    same. Unpickling runs code, so a cache anyone can write ($ADVISOR_CACHE_DIR on /tmp or
    another shared folder) is not read; a FIFO would block the read for ever. (Group write is
    allowed: a umask of 002 with a private group is common.)"""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        for p, want in ((path.parent, stat.S_ISDIR), (path, None)):
            st = os.lstat(p)
            kind_ok = want(st.st_mode) if want else (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))
            if not kind_ok or (uid is not None and st.st_uid != uid) or st.st_mode & 0o002:
                return False
    except OSError:
        return False
    return True


def read_pickle(path: Path, valid: Callable[[object], bool]):
    """The object pickled at path if `valid` accepts it, else None (missing, damaged, foreign,
    or not trusted: see trusted())."""
    if not trusted(path):
        return None
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
    except Exception:  # noqa: BLE001 - missing, damaged or from another version: compute again
        return None
    return obj if valid(obj) else None


def write_pickle(path: Path, obj) -> None:
    """Pickle obj to path atomically (a temporary file renamed into place); errors are ignored:
    a cache that cannot be written costs only speed."""
    import tempfile  # here: a run that only reads its caches does without it

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, pickle.PicklingError):
        pass


def cached(name: str, prefix: str, key: Callable[[], Key], build: Callable[[], T],
           valid: Callable[[object], bool]) -> T:
    """build(), or its result as a previous run cached it under prefix-<key digest>.pickle.
    name: the cache's opt-out name (enabled()); valid: a check of what is read back."""
    if not enabled(name):
        return build()
    try:
        path = cache_dir() / f"{prefix}-{key().digest()}.pickle"
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a loop of links (resolve())
        return build()
    hit = read_pickle(path, valid)
    if hit is not None:
        return hit
    value = build()
    write_pickle(path, value)
    return value


def data_file(path: Path):
    """The parsed content of one of advisor's own YAML data files (advisor/data: the quality
    measurements, the GGUF publishers), read once and then from the cache ("DATA"): parsing
    them costs more than the rest of a plan."""
    def build():
        from advisor.yamlfile import YamlFileError, read_yaml

        try:
            return read_yaml(path)[1]
        except YamlFileError as exc:  # advisor's own file: damaged in this install
            from advisor.errors import AdvisorError

            raise AdvisorError(f"{path}:{exc.line}: {exc.message}") from None

    return cached("DATA", f"data-{path.stem}", lambda: Key().file(path), build,
                  lambda v: isinstance(v, (dict, list)))
