"""Advisories per second of `advisor generate` over a whole KB matrix (every model x every GPU x
every precision), rendering and writing included.

    python benchmarks/bulk_speed.py [--synthetic 60x50] [--kb DIR] [--jobs N] [--format markdown|html]
                                    [--out DIR]

Three runs of the library call `advisor generate` makes, each printed with pages, seconds and
pages per second: `first` (an empty folder: every page rendered and written), `rerun` (the same
folder: every page rendered and compared, none written) and `render-only` (explain + render in
this process, one core, no files). Default: the built-in KB, then a synthetic KB of 60 models
and 50 GPUs (tools/synthetic_kb.py; the size the KB is growing to). Goal (issue 7), on a 2-core
machine with --jobs 2: at least 1,000 pages/s on the first run, the whole matrix in under 60 s.
The output folder is a temporary one unless --out is given; it is removed afterwards.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.advise import Advisor, load_rulebook  # noqa: E402
from advisor.bulk.generate import generate  # noqa: E402
from advisor.bulk.select import DEFAULT_PRECISIONS  # noqa: E402
from advisor.kb import load_kb  # noqa: E402
from advisor.render import render_markdown  # noqa: E402
from advisor.sizing.precision import all_precisions  # noqa: E402


def _line(label: str, pages: int, seconds: float, extra: str = "") -> None:
    print(f"  {label:<12} {pages:>7,} pages  {seconds:7.2f} s  {pages / seconds:8,.0f} pages/s{extra}")


def bench(kb_dir: Path | None, label: str, jobs: int, fmt: str, out_root: Path | None) -> None:
    kb, rules = load_kb(kb_dir), load_rulebook()
    names = [p.name for p in all_precisions() if p.name in DEFAULT_PRECISIONS]
    models, gpus, precisions = len(kb.all_models()), len(kb.all_gpus()), len(names)
    print(f"{label}: {models} models x {gpus} GPUs x {precisions} precisions = "
          f"{models * gpus * precisions:,} pages, --jobs {jobs}, --format {fmt}")
    tmp = Path(tempfile.mkdtemp(prefix="bulk-speed-", dir=out_root))
    try:
        out = tmp / "out"
        for run in ("first", "rerun"):
            t = time.perf_counter()
            s = generate(kb, rules, out, fmt=fmt, jobs=jobs, defaults=frozenset({"context"}))
            dt = time.perf_counter() - t
            assert not s.failed, s.failed[:3]
            _line(run, s.total, dt, f"  ({s.written:,} written, {s.unchanged:,} unchanged)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    advisor = Advisor(kb, rules)
    combos = [(m.id, g.id, p) for m in kb.all_models() for g in kb.all_gpus() for p in names]
    t = time.perf_counter()
    for m, g, p in combos:
        render_markdown(advisor.explain(m, g, p))
    _line("render-only", len(combos), time.perf_counter() - t, "  (one core, no files)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=Path, help="a KB folder instead of the built-in KB")
    ap.add_argument("--synthetic", default="60x50", help="MODELSxGPUS of the synthetic KB; 'none' to skip")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--format", default="markdown", choices=["markdown", "html"])
    ap.add_argument("--out", type=Path, help="folder for the temporary output (default: the system's)")
    a = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU cores")
    bench(a.kb, str(a.kb) if a.kb else "built-in KB", a.jobs, a.format, a.out)
    if a.synthetic != "none" and not a.kb:
        n_models, n_gpus = (int(x) for x in a.synthetic.lower().split("x"))
        sys.path.insert(0, str(ROOT / "tools"))
        from synthetic_kb import write_synthetic_kb

        with tempfile.TemporaryDirectory(prefix="synthetic-kb-") as d:
            write_synthetic_kb(Path(d), n_models, n_gpus)
            bench(Path(d), f"synthetic KB {n_models}x{n_gpus}", a.jobs, a.format, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
