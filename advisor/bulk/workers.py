"""Run pages in worker processes, one rules engine each (the engine is not thread-safe).

Pages go out in chunks over a queue; each worker builds its own PageMaker once. Workers are
started with the 'spawn' method (no state copied from the parent, same on every platform).
They ignore SIGINT (a Ctrl-C reaches the whole process group; the parent decides), stop on
SIGTERM, and stop by themselves when their parent disappears (it was killed with SIGKILL).

A signal that arrives while a page is being made takes effect when that page is done (at most
a few milliseconds): an exception raised inside the rules engine's callbacks is swallowed there
(durable logs it and the page would merely fail), and the page's file is then either written or
not started. The same holds for a run in the calling process (jobs=1), for SIGINT and SIGTERM.
A worker that dies (a crash in the rules engine's C core) fails the chunk it held; the others
go on.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from typing import Callable

from advisor.bulk.pages import FAILED, Outcome, Page, PageMaker, Settings
from advisor.kb.store import KnowledgeBase
from advisor.rules.spec import RuleSpec

Progress = Callable[[int, int], None]   # (pages done, pages in all)
# Starting a worker (a new interpreter, imports, the KB and rules sent over, cold caches) costs
# about what rendering this many pages does: smaller runs use fewer workers, or none.
PAGES_PER_WORKER = 1000
_POLL_S = 0.2


class _Deferred:
    """Signal handlers that raise at once when idle, and after the page when busy."""

    def __init__(self, raises: dict):
        self.raises = raises          # signal number -> exception to raise
        self.busy = False
        self.pending: int | None = None

    def handler(self, signum, frame):
        if self.busy:
            self.pending = signum
        else:
            self._raise(signum)

    def _raise(self, signum):
        exc = self.raises[signum]
        raise exc(128 + signum) if exc is SystemExit else exc()

    def install(self) -> dict:
        return {s: signal.signal(s, self.handler) for s in self.raises}

    def make(self, maker: PageMaker, page: Page) -> Outcome:
        self.busy = True
        try:
            return maker.make(page)
        finally:
            self.busy = False
            if self.pending is not None:
                self._raise(self.pending)


def _watch_parent(parent: int) -> None:
    def watch():
        while os.getppid() == parent:
            time.sleep(_POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def _worker(wid: int, parent: int, kb, rules, settings, tasks, results) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    deferred = _Deferred({signal.SIGTERM: SystemExit})
    deferred.install()
    _watch_parent(parent)
    try:
        maker = PageMaker(kb, rules, settings)
        while True:
            item = tasks.get()
            if item is None:
                break
            cid, chunk = item
            results.put(("taken", wid, cid, None))
            results.put(("done", wid, cid, [deferred.make(maker, p) for p in chunk]))
    except SystemExit:
        results.cancel_join_thread()  # stopped: do not wait to flush to a parent that may be gone
        raise


def make_chunks(pages: list[Page], jobs: int) -> list[list[Page]]:
    """Chunks of one model's pages each (a worker then sizes each model once: the rent search
    over every KB GPU is memoised per process), split so that every worker gets several."""
    groups: list[list[Page]] = []
    for p in pages:
        if groups and groups[-1][0].model_id == p.model_id:
            groups[-1].append(p)
        else:
            groups.append([p])
    most = max(16, len(pages) // (jobs * 4))
    return [g[i:i + most] for g in groups for i in range(0, len(g), most)]


def run_pages(pages: list[Page], kb: KnowledgeBase, rules: list[RuleSpec], settings: Settings,
              jobs: int = 1, progress: Progress | None = None) -> list[Outcome]:
    """Outcomes of every page, in page order."""
    total = len(pages)
    report = progress or (lambda done, all_: None)
    jobs = min(jobs, max(1, total // PAGES_PER_WORKER))
    if jobs <= 1:
        return _run_here(pages, PageMaker(kb, rules, settings), report)
    chunks = dict(enumerate(make_chunks(pages, jobs)))
    jobs = min(jobs, len(chunks))
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_worker, name=f"advisor-worker-{w}", daemon=True,
                         args=(w, os.getpid(), kb, rules, settings, tasks, results))
             for w in range(jobs)]
    outcomes: dict[int, Outcome] = {}
    try:
        for p in procs:
            p.start()
        for item in chunks.items():
            tasks.put(item)
        for _ in procs:
            tasks.put(None)
        report(0, total)
        _collect(procs, chunks, results, outcomes, report, total)
        for p in procs:
            p.join()
    except BaseException:
        _stop(procs)
        raise
    finally:
        for q in (tasks, results):
            q.cancel_join_thread()
            q.close()
    return [outcomes[p.number] for p in pages]


def _run_here(pages: list[Page], maker: PageMaker, report: Progress) -> list[Outcome]:
    total, out = len(pages), []
    deferred, previous = _Deferred({signal.SIGINT: KeyboardInterrupt,
                                    signal.SIGTERM: KeyboardInterrupt}), None
    if threading.current_thread() is threading.main_thread():
        previous = deferred.install()
    try:
        report(0, total)
        for i, p in enumerate(pages, 1):
            out.append(deferred.make(maker, p))
            if i % 64 == 0 or i == total:
                report(i, total)
    finally:
        for signum, handler in (previous or {}).items():
            signal.signal(signum, handler)
    return out


def _collect(procs, chunks, results, outcomes, report, total) -> None:
    pending, holding, dead = dict(chunks), {}, set()

    def fail(cid, reason):
        for page in pending.pop(cid, []):
            outcomes[page.number] = Outcome(page.number, FAILED, reason=reason)

    while pending:
        try:
            kind, wid, cid, payload = results.get(timeout=_POLL_S)
        except queue.Empty:
            for wid, p in enumerate(procs):
                if wid not in dead and p.exitcode not in (None, 0):
                    dead.add(wid)
                    if wid in holding:
                        code = p.exitcode
                        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                        fail(holding.pop(wid), f"worker process died ({how})")
            if all(p.exitcode is not None for p in procs):
                _drain(results, pending, outcomes)
                for cid in list(pending):
                    fail(cid, "no worker process left to render it")
            report(len(outcomes), total)
            continue
        if kind == "taken":
            holding[wid] = cid
        else:
            holding.pop(wid, None)
            if pending.pop(cid, None) is not None:
                for o in payload:
                    outcomes[o.number] = o
            report(len(outcomes), total)


def _drain(results, pending, outcomes) -> None:
    while True:
        try:
            kind, _wid, cid, payload = results.get(timeout=_POLL_S)
        except queue.Empty:
            return
        if kind == "done" and pending.pop(cid, None) is not None:
            for o in payload:
                outcomes[o.number] = o


def _stop(procs) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 5
    for p in procs:
        if p.pid is None:
            continue  # never started
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
