"""advisor generate --out DIR [filters]"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from advisor.cli.sources import explain_only_ngl, kb_option, load_kb_from, load_rules_from, rules_option
from advisor.render import count


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@click.command()
@explain_only_ngl("generate")
@click.option("--out", "-o", required=True, type=click.Path(),
              help="Folder to write into (created if missing): a new or empty folder, or one an "
                   "earlier generate wrote.")
@click.option("--force", is_flag=True,
              help="Write into a folder that holds other files (never /, nor your home folder).")
@click.option("--models", "-m", multiple=True, help="Model ids, names or globs (comma-separated or repeated).")
@click.option("--gpus", "-g", multiple=True, help="GPU ids, names or globs.")
@click.option("--precisions", "-p", multiple=True, help="Precisions or globs (Q4_K_M, 'Q*', '*' for all 46). Default: fp32, fp16, bf16, "
                   "fp8, int8, int4, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K.")
@click.option("--families", multiple=True, help="Model families or globs (llama-3.1).")
@click.option("--vendors", multiple=True, help="GPU vendors: nvidia, amd, apple, intel.")
@click.option("--memory", "memory_gib", default=None, help="GPU memory range in GiB: 24..80, 48.., ..24.")
@click.option("--params", "params_b", default=None, help="Model size range in billions of parameters: 7..80.")
@click.option("--context", "-c", type=int, default=None, help="Context length in tokens. Default 8192."
              " A reasoning model's default holds the output its publisher recommends (a long prompt needs a longer context).")
@click.option("--batch", "-b", type=int, default=1, show_default=True, help="Sequences at once.")
@click.option("--gpu-count", "-n", type=int, default=None, help="GPUs of each kind. Default 1, or "
              "as many as detected with --this-machine.")
@click.option("--this-machine", "this_machine", is_flag=True,
              help="For the GPUs detected on this machine (advisor hardware shows them) instead "
                   "of --gpus, --vendors and --memory.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown",
              show_default=True)
@click.option("--jobs", "-j", type=int, default=None, help="Worker processes. Default, and at most: one a CPU core (64 at most).")
@rules_option
@kb_option
def generate(out, force, models, gpus, precisions, families, vendors, memory_gib, params_b, context, batch,
             gpu_count, fmt, jobs, this_machine, rules_dirs, kb_dirs):
    """Write one advisory per (model, GPU, precision) and an index of them all."""
    from advisor.bulk.generate import generate as run
    from advisor.bulk.select import Filters
    from advisor.sizing.workload import DEFAULT_CONTEXT_TOKENS

    from advisor.errors import AdvisorError
    from advisor.render import one_line

    if not out.strip():
        raise AdvisorError("--out is empty: name the folder to write into")
    if out.startswith("~"):
        raise AdvisorError(f"--out '{out}' starts with '~', which the shell did not expand: give "
                           f"the folder's full path")
    out = Path(out)
    # generate takes no --runtime: every page runs its format's default runtime, and says so
    # as explain does ("with llama.cpp (the runtime for that format)"; hostile pass 14A)
    defaults = frozenset({"runtime"}) | (frozenset() if context is not None else frozenset({"context"}))
    filters = Filters(tuple(models), tuple(gpus), tuple(precisions), tuple(families), tuple(vendors),
                      memory_gib, params_b)
    kb = load_kb_from(kb_dirs)
    if this_machine:
        if gpus or vendors or memory_gib:
            raise AdvisorError("--this-machine picks the GPUs: leave out --gpus, --vendors and --memory")
        from advisor.cli.hardware import detected, detected_count
        from advisor.hardware import summary_lines

        kb, machine = detected(kb)
        filters = Filters(tuple(models), (machine.gpu.id,), tuple(precisions), tuple(families), (),
                          None, params_b)
        gpu_count = detected_count(machine.count, gpu_count)
        click.echo(" ".join(summary_lines(machine, ram=False)))
    gpu_count = 1 if gpu_count is None else gpu_count
    rules, objective = load_rules_from(rules_dirs)
    bar = None
    on_terminal = sys.stderr.isatty()

    def progress(done, total):
        nonlocal bar
        if not on_terminal:
            return
        if bar is None:  # made at the first report, so that its clock starts with the pages
            bar = click.progressbar(length=total, label="advisories", file=sys.stderr, show_pos=True)
        bar.update(done - bar.pos)

    signal.signal(signal.SIGTERM, _interrupt)  # kill: stop the workers, leave no temp file
    try:
        summary = run(kb, rules, out, filters, fmt, DEFAULT_CONTEXT_TOKENS if context is None else context, batch,
                      gpu_count, defaults, jobs if jobs is not None else (os.cpu_count() or 1),
                      progress, objective, force)
    except KeyboardInterrupt:
        if bar is not None:
            bar.render_finish()
        click.echo("advisor: interrupted; pages written so far are complete. "
                   "Run the same command again to finish.", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if bar is not None:
        bar.render_finish()
    s = summary
    index = "written" if s.index_written else "kept (pages failed)" if s.index_kept else "unchanged"
    click.echo(f"{count(s.total, 'page')} in {s.out}: {s.written:,} written, {s.unchanged:,} unchanged, "
               f"{len(s.failed):,} failed; index {index} ({s.seconds:.1f} s, "
               f"{s.total / max(s.seconds, 1e-9):,.0f} pages/s)"
               + ("; pages failed: exit status 2" if s.failed else ""))
    if s.stale_temp_files_removed:
        click.echo(f"removed {s.stale_temp_files_removed} temporary file(s) left by an interrupted run")
    for page, reason in s.failed:
        click.echo(f"failed: {one_line(page)}: {one_line(reason)}")
    sys.exit(2 if s.failed else 0)
