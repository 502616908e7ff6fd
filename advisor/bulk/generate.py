"""`advisor generate`: one advisory page per (model, GPU, precision) and an index of them all.

The tree under the output folder:

    index.md | index.html        markdown: every combination (verdict, plan, speed, link);
                                 HTML: the model x GPU grid of each pair's recommended plan
    style.css, site.js, list.html  (HTML only: the grid's filters; every combination's row)
    <model-slug>/<gpu-slug>__<precision-slug>.md | .html
    .advisor.lock                held while a run writes (one run a folder at a time)
    .advisor-generate            the marker: this folder is generate's (and its index's state)

Everything is checked before anything is written (filters, numbers, the output folder). Pages
are written atomically and only when their bytes change (advisor.bulk.files); the index is
written last, so a run that was interrupted has no index, or the previous one, and running it
again renders every page, skips those already up to date and writes the rest.
Two runs with the same inputs give byte-identical trees.

What it writes into, and deletes: check_out refuses the root of the file system, the home folder
and the folders above it, and (unless force) a folder with entries but without the marker; stale
temporary files are deleted only by their exact name in the marked folder and its page folders.
A run with failed pages never replaces a complete index (one written by a run without failures).
"""
from __future__ import annotations

import os
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from advisor.bulk import files, site
from advisor.bulk.pages import FAILED, UNCHANGED, WRITTEN, Page, Settings
from advisor.bulk.select import Filters, Selection, select
from advisor.bulk.slugs import precision_slug, slug
from advisor.bulk.workers import Progress, run_pages
from advisor.errors import AdvisorError
from advisor.limits import check_one_machine, check_question
from advisor.sizing.weights import format_mismatch
from advisor.kb.store import KnowledgeBase
from advisor.rules.spec import RuleSpec
from advisor.sizing.workload import DEFAULT_CONTEXT_TOKENS

FORMATS = {"markdown": "md", "html": "html"}
# Worker processes at most (and never more than the CPU cores): beyond that, start-up and memory
# cost more than they give.
MAX_JOBS = 64


@dataclass
class Summary:
    out: Path
    total: int
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)   # (page path, reason)
    index_written: bool = False
    index_kept: bool = False      # pages failed, so the previous complete index was kept
    stale_temp_files_removed: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"out": str(self.out), "pages": self.total, "written": self.written,
                "unchanged": self.unchanged,
                "failed": [{"page": p, "reason": r} for p, r in self.failed],
                "index_written": self.index_written, "index_kept": self.index_kept,
                "stale_temp_files_removed": self.stale_temp_files_removed}


def plan_pages(sel: Selection, fmt: str) -> list[Page]:
    ext = FORMATS[fmt]
    pages, seen = [], {}
    for m in sel.models:
        for g in sel.gpus:
            for p in sel.precisions:
                if format_mismatch(m.architecture, p, m.gguf_repos):
                    continue  # a format this model cannot be stored in (mxfp4 on a dense model)
                rel = f"{slug(m.id)}/{slug(g.id)}__{precision_slug(p.name)}.{ext}"
                key = rel.lower()
                if key in seen:
                    raise AdvisorError(f"page names collide: {seen[key]} and {(m.id, g.id, p.name)} "
                                       f"both give '{rel}'")
                seen[key] = (m.id, g.id, p.name)
                pages.append(Page(len(pages), m.id, g.id, p.name, rel))
    return pages


MARKER = ".advisor-generate"   # in every output folder generate writes: the folder is its own
_MARKER_TEXT = ("advisor generate writes this folder (its pages, its index and this file) and "
                "deletes only its own temporary files in it.\n")


def _home() -> Path | None:
    home = os.path.expanduser("~")
    return Path(home).resolve() if home != "~" else None


def _marked(out: Path) -> bool:
    """The folder is generate's: its marker, or the lock file every earlier version left."""
    return (out / MARKER).is_file() or (out / files.LOCK_NAME).is_file()


def check_out(out: Path, force: bool = False) -> None:
    """Refuse an output folder that generate must not write into: a file, the root of the file
    system, the home folder or a folder above it, and (unless force) a folder with entries that
    has no marker of an earlier run."""
    try:
        os.lstat(out)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as exc:   # a name too long, a folder above it that cannot be searched
        raise AdvisorError(f"--out '{out}': {exc.strerror or exc}") from None
    except ValueError as exc:   # a NUL byte
        raise AdvisorError(f"--out '{out}': {exc}") from None
    if out.exists() and not out.is_dir():
        raise AdvisorError(f"--out '{out}' is a file, not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise AdvisorError(f"--out '{out}': '{parent}' is a file, not a folder")
            break
    try:
        real = out.resolve()
    except (OSError, RuntimeError) as exc:
        raise AdvisorError(f"--out '{out}': cannot resolve the folder ({exc})") from None
    if real == Path(real.anchor):
        raise AdvisorError(f"--out '{out}' is the root of the file system: give a folder of its own")
    home = _home()
    if home is not None and (real == home or real in home.parents):
        where = "your home folder" if real == home else f"above your home folder ({home})"
        raise AdvisorError(f"--out '{out}' is {where}: give a folder of its own")
    if force or not out.is_dir() or _marked(out):
        return
    try:
        with os.scandir(out) as it:
            occupied = any(True for _ in it)
    except OSError as exc:
        raise AdvisorError(f"--out '{out}': cannot read the folder: {exc.strerror}") from None
    if occupied:
        raise AdvisorError(f"--out '{out}' holds files that advisor generate did not write (no "
                           f"{MARKER} in it): give a new or empty folder, or --force to write "
                           f"into it")


def check_tree(out: Path, pages: list[Page], fmt: str) -> None:
    """Refuse (AdvisorError, naming it) a symbolic link, or an entry of the wrong kind, where the
    run writes: the index, the marker, the lock, the site's files, the page folders and the pages. A
    link would make a write land outside the output folder."""
    if not out.is_dir():
        return
    ext = FORMATS[fmt]
    for name in (f"index.{ext}", MARKER, files.LOCK_NAME, *_site_files(fmt)):
        files.check_entry(out / name)
    by_folder: dict[str, set[str]] = {}
    for page in pages:
        folder, _, name = page.relpath.rpartition("/")
        by_folder.setdefault(folder, set()).add(name)
    for folder, names in by_folder.items():
        d = out / folder
        if not files.check_entry(d, "folder"):
            continue
        try:
            with os.scandir(d) as it:
                present = [e.name for e in it if e.name in names]
        except OSError as exc:
            raise AdvisorError(f"'{d}': cannot read the folder: {exc.strerror}") from None
        for name in present:
            files.check_entry(d / name)


def check_no_clash(out: Path, pages: list[Page], fmt: str) -> None:
    """--force writes beside another program's files, never over them: in a folder without
    the marker, or one whose marker says it was first written beside other files (a --force run:
    it lists the files generate wrote there), refuse (AdvisorError, naming it) when a file the run
    would write is already there and is not generate's (an index.md of the user's own, a
    style.css, a page's name)."""
    if not out.is_dir():
        return
    marker = _read_marker(out)
    if _marked(out) and not marker.beside:
        return
    ext = FORMATS[fmt]
    for rel in (f"index.{ext}", *_site_files(fmt), *(page.relpath for page in pages)):
        if rel not in marker.own and os.path.lexists(out / rel):
            raise AdvisorError(f"--out '{out}' already holds '{rel}', which advisor generate did "
                               f"not write: it writes beside other files, never over them "
                               f"(move it, or give another folder)")


def _site_files(fmt: str) -> tuple[str, ...]:
    return ("style.css", "site.js", "list.html") if fmt == "html" else ()


# A marker is read up to this size: its list of files (a --force run's) is a line a page.
_MARKER_MAX_BYTES = 64 * 1024 * 1024
_BESIDE = "written beside other files (--force): generate's own files are those listed"


@dataclass
class _Marker:
    states: dict[str, str] = field(default_factory=dict)  # index name -> complete | partial
    beside: bool = False      # first written beside other programs' files (--force)
    own: set[str] = field(default_factory=set)  # then: the files generate wrote, relative paths


def _read_marker(out: Path) -> _Marker:
    """The marker's content; an empty _Marker where there is none (or it cannot be read)."""
    try:
        fd = os.open(out / MARKER, os.O_RDONLY | files.NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return _Marker()
            text = fh.read(_MARKER_MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return _Marker()
    marker = _Marker()
    for line in text.splitlines():
        if line == _BESIDE:
            marker.beside = True
            continue
        name, _, value = line.partition(": ")
        if name == "file" and value:
            marker.own.add(value)
        elif name.startswith("index.") and value in ("complete", "partial"):
            marker.states[name] = value
    return marker


def _write_marker(out: Path, marker: _Marker) -> None:
    lines = [_MARKER_TEXT] + [f"{name}: {state}\n" for name, state in sorted(marker.states.items())]
    if marker.beside:
        lines += [_BESIDE + "\n"] + [f"file: {rel}\n" for rel in sorted(marker.own)]
    files.write_if_changed(out / MARKER, "".join(lines).encode("utf-8"))


@contextmanager
def _locked(out: Path):
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one run a folder is up to the user
        yield
        return
    fd = files.open_lock(out / files.LOCK_NAME)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AdvisorError(f"another advisor generate is writing to '{out}'") from None
        yield
    finally:
        os.close(fd)


def _grid(rows: list, sel) -> "site.Grid":
    from advisor.sizing.tensors import parameter_count

    models = [site.GridModel(m.id, m.name, m.family or "other", parameter_count(m.architecture),
                             m.native_precision) for m in sel.models]
    gpus = [site.GridGpu(g.id, g.name, g.vendor, g.memory_bytes) for g in sel.gpus]
    return site.build_grid(rows, models, gpus)


def generate(kb: KnowledgeBase, rules: list[RuleSpec], out: Path, filters: Filters = Filters(),
             fmt: str = "markdown", context_tokens: int = DEFAULT_CONTEXT_TOKENS, batch: int = 1, gpu_count: int = 1,
             defaults: frozenset = frozenset(), jobs: int = 1,
             progress: Progress | None = None, objective=None, force: bool = False) -> Summary:
    """objective: the plans' objective (advisor.plans.objective.Objective); None: the built-in
    rules/objective.yaml, or $ADVISOR_RULES' (advisor.advise.load_objective_file). force: write
    into a folder with other files in it (check_out)."""
    if fmt not in FORMATS:
        raise AdvisorError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
    # the limits explain has (advisor.limits), checked once here instead of failing every page
    check_question(gpus=gpu_count, gpus_flag="--gpu-count", batch=batch, context=context_tokens)
    if jobs < 1:
        raise AdvisorError(f"--jobs must be at least 1, not {jobs}")
    jobs = max(1, min(jobs, os.cpu_count() or 1, MAX_JOBS))
    sel = select(kb, filters)
    for g in sel.gpus:
        check_one_machine(g, gpu_count, "--gpu-count")  # a Mac is a machine: none is a pool of two
    if "context" not in defaults and sel.models:
        longest = max(sel.models, key=lambda m: m.context_limit)
        if context_tokens > longest.context_limit:
            raise AdvisorError(f"--context {context_tokens:,} is beyond the maximum of every model "
                               f"selected (the longest: {longest.name}, {longest.context_limit:,} "
                               f"tokens)")
    pages = plan_pages(sel, fmt)
    out = Path(out)
    check_out(out, force)
    check_tree(out, pages, fmt)
    check_no_clash(out, pages, fmt)   # a --force run's folder stays beside the files it found
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AdvisorError(f"--out '{out}': cannot create the folder: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise AdvisorError(f"--out '{out}': the folder is not writable")
    marker = _read_marker(out)
    if not _marked(out):
        try:
            with os.scandir(out) as it:
                marker.beside = any(True for _ in it)   # --force into another program's folder
        except OSError as exc:
            raise AdvisorError(f"--out '{out}': cannot read the folder: {exc.strerror}") from None
    if marker.beside:   # before any page: an interrupted run's pages are still generate's
        marker.own |= {f"index.{FORMATS[fmt]}", *_site_files(fmt), *(p.relpath for p in pages)}
    if not (out / MARKER).is_file() or marker.beside:
        _write_marker(out, marker)  # first: a rerun after an interruption finds the folder its own
    states = marker.states
    start = time.perf_counter()
    summary = Summary(out=out, total=len(pages))
    with _locked(out):
        summary.stale_temp_files_removed = files.remove_stale_temp_files(out)
        settings = Settings(out, fmt, context_tokens, batch, gpu_count, frozenset(defaults),
                            objective)
        try:
            outcomes = run_pages(pages, kb, rules, settings, jobs, progress)
        except BaseException:
            files.remove_stale_temp_files(out)  # the workers are stopped and the folder is ours
            raise
        rows, counts = [], {"models": len(sel.models), "gpus": len(sel.gpus),
                            "precisions": len(sel.precisions), "fits": 0, "tight": 0,
                            "does_not_fit": 0, "cannot_run": 0, "failed": 0}
        models, gpus = {m.id: m for m in sel.models}, {g.id: g for g in sel.gpus}
        for page, o in zip(pages, outcomes):
            if o.status == FAILED:
                summary.failed.append((page.relpath, o.reason or "unknown error"))
                counts["failed"] += 1
            else:
                summary.written += o.status == WRITTEN
                summary.unchanged += o.status == UNCHANGED
                counts[o.verdict.replace("-", "_")] += 1
            rows.append(site.IndexRow(models[page.model_id].name, gpus[page.gpu_id].name,
                                      page.precision, None if o.status == FAILED else page.relpath,
                                      o.verdict, o.what_to_do, o.decode_tokens_per_s, o.reason,
                                      page.model_id, page.gpu_id, o.plan))
        capped = "context" in settings.defaults
        grid = _grid(rows, sel) if fmt == "html" else None
        text = site.index_text(fmt, rows, counts, context_tokens, batch, gpu_count, capped, grid)
        index = out / f"index.{FORMATS[fmt]}"
        if summary.failed and index.exists() and states.get(index.name) != "partial":
            summary.index_kept = True  # a complete index is never replaced by a failed run's
        else:
            summary.index_written = files.write_if_changed(index, text.encode("utf-8"))
            marker.states = {**states, index.name: "partial" if summary.failed else "complete"}
            _write_marker(out, marker)
        if fmt == "html":
            files.write_if_changed(out / "style.css", site.style_css().encode("utf-8"))
            files.write_if_changed(out / "site.js", site.site_js().encode("utf-8"))
            if not summary.index_kept:
                files.write_if_changed(out / "list.html", site.list_text(
                    rows, counts, context_tokens, batch, gpu_count, capped).encode("utf-8"))
    summary.seconds = time.perf_counter() - start
    return summary
