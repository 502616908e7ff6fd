"""advisor fit GPU"""
from __future__ import annotations

import json
import sys


import click

from advisor.cli.finetune_options import finetune_options, finetune_spec, given_options
from advisor.cli.sources import explain_only_ngl, kb_option, load_kb_from, load_rules_from, rules_option
from advisor.cli.terminal import format_option, write_table
from advisor.render import count

@click.command()
@explain_only_ngl("fit")
@click.argument("gpu", required=False)
@click.option("--gpus", "-n", type=int, default=None,
              help="GPUs of this kind. Default 1, or as many as detected when GPU is left out.")
@click.option("--context", "-c", type=int, default=None,
              help="Context every model must fit with, in tokens. Default 8192, or a model's "
                   "maximum if smaller; models whose maximum is below a chosen context are left out.")
@click.option("--batch", "-b", type=int, default=None, help="Sequences at once. Default 1.")
@format_option("table", "json")
@kb_option
@rules_option
@click.option("--ram-gb", type=float, default=None,
              help="System RAM (GiB, as sold): plans may keep part of a model there (llama.cpp "
                   "CPU offload). Without it, only what fits on the GPUs.")
@click.option("--prefer", type=click.Choice(["quality", "speed", "cost"]), default=None,
              help="What each model's plan optimises (rules/objective.yaml). Default: quality.")
@click.option("--rank", type=click.Choice(["quality", "size"]), default="quality", show_default=True,
              help="Order of the models: by their published MMLU-Pro score (the KB's `quality`; "
                   "models without one follow, largest first), or largest first.")
@finetune_options
def fit(gpu, gpus, context, batch, fmt, kb_dirs, rules_dirs, ram_gb, prefer, rank, task, **finetune):
    """The models that run on GPU, each at its best plan, best published MMLU-Pro first (--rank
    size: largest first; with --task
    finetune: the models that can be fine-tuned on it, each with the most thorough method).
    Without GPU: the GPUs and RAM detected on this machine (advisor hardware shows them)."""
    from advisor.bulk.inverse import models_that_fit
    from advisor.bulk.tables import fit_grid
    from advisor.errors import AdvisorError
    from advisor.sizing.workload import DEFAULT_CONTEXT_TOKENS, Workload

    from advisor.limits import batch_words, check_question, short

    check_question(gpus=gpus, batch=batch, context=context)  # explain's limits, shared
    kb, machine = load_kb_from(kb_dirs), None
    if gpu is None:  # this machine's GPUs and RAM
        from advisor.cli.hardware import detected

        kb, machine = detected(kb)
        gpu, gpus = machine.gpu.id, machine.count if gpus is None else gpus
        if ram_gb is None and machine.ram_bytes is not None and not machine.gpu.unified_memory:
            ram_gb = round(machine.ram_bytes / 2**30, 1)
    gpus = 1 if gpus is None else gpus
    any_method = finetune.get("method") is None
    spec, _ = finetune_spec(task, finetune, given_options(click.get_current_context(), {
        "context": context, "batch": batch, "ram_gb": ram_gb, "prefer": prefer}))
    if spec is not None:  # what holds for every model, once: not "no model" for a bad knob
        from advisor.sizing.finetune import validate_spec, with_changes

        validate_spec(with_changes(spec, pure_bf16=False) if any_method else spec, gpus)
    batch = 1 if batch is None else batch
    _beyond_every_model(kb, "--seq-len" if spec is not None else "--context",
                        spec.seq_len if spec is not None else context)
    _rules, objective = load_rules_from(rules_dirs)
    from advisor.hardware.gpuset import is_set

    if gpu is not None and is_set(gpu, kb):  # explain's GPU sets: fit sizes one kind of card
        raise AdvisorError(f"fit takes one kind of GPU, not the set {short(gpu.strip())}: give its "
                           "id with --gpus N (fit rtx-3090 --gpus 2); a set of unequal cards is asked "
                           "model by model with explain MODEL 'rtx-3090,2x rtx-3060-12gb'")
    g = kb.gpu(gpu)
    from advisor.limits import check_one_machine
    from advisor.render import one_line

    check_one_machine(g, gpus)

    on = f"{gpus} × {one_line(g.name)}" if gpus > 1 else one_line(g.name)
    head = {"gpu": g.id, "name": g.name, "count": gpus}
    if machine is not None:
        from advisor.hardware import summary_lines

        head["hardware"] = machine.to_json()
        if fmt != "json":
            click.echo(" ".join(summary_lines(machine)) + "\n")
    if spec is not None:
        from advisor.bulk.inverse_finetune import models_to_finetune
        from advisor.bulk.tables import finetune_fit_grid

        rows = models_to_finetune(kb, g, spec, gpus, any_method)
        how = "each with the most thorough method that fits" if any_method else f"with {spec.method}"
        head.update(task="finetune", method=None if any_method else spec.method,
                    seq_len=spec.seq_len, micro_batch=spec.micro_batch, sharding=spec.sharding)
        _show(fmt, rows, head, finetune_fit_grid,
              f"No model in the knowledge base can be fine-tuned on {on} with {spec.seq_len:,}-token "
              f"sequences{'' if spec.micro_batch == 1 else f', micro-batch {spec.micro_batch:,}'} ({how}).",
              f"Models that can be fine-tuned on {on} ({spec.seq_len:,}-token sequences, "
              f"micro-batch {spec.micro_batch}, sharding {spec.sharding}), {how}:")
        return
    chosen = context is not None
    context = context if chosen else DEFAULT_CONTEXT_TOKENS
    from dataclasses import replace

    from advisor.plans.planner import Planner

    work = Workload(context, batch)
    if ram_gb is not None:
        if not 0 <= ram_gb < 1e6:
            raise AdvisorError(f"--ram-gb must be a size in GiB, not {ram_gb}")
        work = replace(work, ram_bytes=int(ram_gb * 2**30))
    rows = models_that_fit(Planner(kb, objective), kb, g, work, gpus, cap_context=not chosen,
                           offload=ram_gb is not None, prefer=prefer or objective.prefer,
                           rank=rank)
    head.update(rank=rank, quality_benchmark="mmlu-pro" if rank == "quality" else None,
                context_tokens=context, batch=batch,
                ram_bytes=work.ram_bytes if ram_gb is not None else None)
    where = f"{on} and {ram_gb:g} GiB of RAM" if ram_gb is not None else on
    _show(fmt, rows, head, fit_grid,
          f"No model in the knowledge base runs usably on {where} with {count(context, 'token')} of "
          f"context{batch_words(batch)}.",
          f"Models that run on {where} ({count(context, 'token')} of context, batch {batch}), each at "
          f"its best plan, {RANK_WORDS[rank]}:")


RANK_WORDS = {
    "quality": "best published MMLU-Pro first (as each publisher, or the evaluator named, reports "
               "it: not strictly comparable), then the rest largest first",
    "size": "largest first"}


def _beyond_every_model(kb, flag: str, tokens: int | None) -> None:
    """A context (or fine-tuning sequence) longer than every KB model's maximum is refused, as
    generate refuses it, instead of answering that no model runs it."""
    from advisor.errors import AdvisorError

    models = list(kb.all_models())
    if tokens is None or not models:
        return
    longest = max(models, key=lambda m: m.context_limit)
    if tokens > longest.context_limit:
        from advisor.render import one_line

        raise AdvisorError(f"{flag} {tokens:,} is beyond the maximum of every model in the knowledge "
                           f"base (the longest: {one_line(longest.name)}, "
                           f"{longest.context_limit:,} tokens)")


def _show(fmt: str, rows: list, head: dict, table, empty: str, heading: str) -> None:
    """JSON (head plus the rows), or a heading and the table (table: rows -> Grid)."""
    if fmt == "json":
        sys.stdout.write(json.dumps({**head, "models": [r.to_json() for r in rows]}, indent=2) + "\n")
    elif not rows:
        click.echo(empty)
    else:
        write_table(fmt, heading, table(rows))
