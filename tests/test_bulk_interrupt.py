"""A real `advisor generate` killed midway (Ctrl-C, kill, kill -9) leaves only complete pages,
and running it again finishes the job.

A page is complete when the rerun finds it up to date (content comparison): so the rerun's
'unchanged' count must equal the pages found after the kill, and the final tree must equal an
uninterrupted run's.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advisor.bulk.files import TEMP_SUFFIX
from tests.bulk_helpers import ROOT, synthetic_kb, tree

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(autouse=True)
def _sigint_as_in_a_terminal():
    """The runs are started as a terminal starts them, with Ctrl-C's default action: a test
    suite started as a background job (`cmd &` in a script) inherits an ignored SIGINT, which a
    child would keep through exec and then never see the Ctrl-C this file sends. A handler in
    this process is reset to the default in the child."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def big_kb(tmp_path_factory):
    # 12 models x 16 GPUs x 12 precisions = 2,304 pages: a few seconds, long enough to interrupt
    return synthetic_kb(tmp_path_factory.mktemp("kb"), 12, 16)


def _cmd(kb: Path, out: Path, jobs: int) -> list[str]:
    # --kb layers the synthetic entries over the built-in KB: select only them
    return [sys.executable, "-m", "advisor", "generate", "--kb", str(kb), "--out", str(out),
            "--models", "*-syn*", "--gpus", "*-syn*", "--jobs", str(jobs)]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _pages(out: Path) -> list[Path]:
    return [p for p in out.rglob("*.md") if p.name != "index.md"]


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _assert_gone(pids: list[int], seconds: float = 10) -> None:
    """The workers (and spawn's resource tracker) exit soon after their parent."""
    deadline = time.monotonic() + seconds
    while True:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return
        if time.monotonic() > deadline:
            cmds = [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ") for p in alive]
            raise AssertionError(f"processes outlived the run: {cmds}")
        time.sleep(0.05)


def _start_and_wait(kb, out, jobs, at_least=300):
    proc = subprocess.Popen(_cmd(kb, out, jobs), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_pages(out)) < at_least if out.exists() else True:
        assert proc.poll() is None, f"finished before it could be interrupted: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    return proc


def _rerun_finishes(kb, out, complete_pages, reference) -> None:
    r = subprocess.run(_cmd(kb, out, 2), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = re.search(r"([\d,]+) pages in .*: ([\d,]+) written, ([\d,]+) unchanged, 0 failed; index written",
                  r.stdout)
    assert m, r.stdout
    total, written, unchanged = (int(x.replace(",", "")) for x in m.groups())
    assert total == 12 * 16 * 12 and written + unchanged == total
    assert unchanged == complete_pages, "every page left by the killed run must be complete"
    assert tree(out) == reference


@pytest.fixture(scope="module")
def reference(big_kb, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    subprocess.run(_cmd(big_kb, out, 2), env=_env(), check=True, capture_output=True, timeout=300)
    return tree(out)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_run_leaves_no_partial_file_and_a_rerun_finishes(big_kb, reference, tmp_path, how):
    out = tmp_path / "out"
    proc = _start_and_wait(big_kb, out, jobs=2)
    workers = _children(proc.pid)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)   # what a terminal sends: the whole process group
    else:
        os.kill(proc.pid, signal.SIGTERM)    # `kill PID`: the parent only
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    _assert_gone(workers)
    names = [p.name for p in out.rglob("*")]
    assert not [n for n in names if n.endswith(TEMP_SUFFIX)], "temporary files left behind"
    assert "index.md" not in names
    complete = len(_pages(out))
    assert 0 < complete < 12 * 16 * 12
    _rerun_finishes(big_kb, out, complete, reference)


def test_killed_run_leaves_only_complete_pages_and_a_rerun_cleans_up(big_kb, reference, tmp_path):
    out = tmp_path / "out"
    proc = _start_and_wait(big_kb, out, jobs=2)
    workers = _children(proc.pid)
    assert workers, "expected worker processes"
    os.kill(proc.pid, signal.SIGKILL)        # `kill -9 PID`: no clean-up in the parent
    proc.communicate(timeout=30)
    _assert_gone(workers)                    # orphaned workers notice and stop
    assert not (out / "index.md").exists()
    complete = len(_pages(out))
    _rerun_finishes(big_kb, out, complete, reference)
    assert not [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


def test_kill_9_of_the_whole_group_then_rerun(big_kb, reference, tmp_path):
    out = tmp_path / "out"
    proc = _start_and_wait(big_kb, out, jobs=2)
    os.killpg(proc.pid, signal.SIGKILL)      # everything dies mid-write: temp files may stay
    proc.communicate(timeout=30)
    time.sleep(0.2)
    complete = len(_pages(out))
    _rerun_finishes(big_kb, out, complete, reference)
    assert not [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX)]
