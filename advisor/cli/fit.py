"""advisor fit GPU: the models that run on one card, N of one kind, or a set of unequal cards."""
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
                   "maximum if smaller; models whose maximum is below a chosen context are left out."
                   " A reasoning model's default holds the output its publisher recommends (a long prompt needs a longer context).")
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
    GPU is one card or a set, as explain takes it: 2x rtx-3090 is rtx-3090 --gpus 2; unequal
    cards ('rtx-3090,2x rtx-3060-12gb') are answered with llama.cpp's layer split over them (-ts).
    Without GPU: the GPUs and RAM detected on this machine (advisor hardware shows them)."""
    from advisor.bulk.inverse import models_that_fit
    from advisor.bulk.tables import fit_grid
    from advisor.errors import AdvisorError
    from advisor.sizing.workload import DEFAULT_CONTEXT_TOKENS, Workload

    from advisor.limits import batch_words, check_question

    check_question(gpus=gpus, batch=batch, context=context)  # explain's limits, shared
    kb, machine = load_kb_from(kb_dirs), None
    gset = None  # the cards asked about (advisor.sizing.mixed.GpuSet)
    if gpu is None:  # this machine's GPUs and RAM
        from advisor.cli.hardware import detected, detected_count, detected_set

        kb, machine = detected(kb)
        detected_count(len(machine.cards), gpus)  # at most MAX_GPUS, as a --gpus given
        gset = detected_set(kb, machine) if gpus is None else None  # unequal cards: the set
        if gset is None:
            from advisor.sizing.mixed import GpuSet

            gset = GpuSet((machine.gpu,) * detected_count(machine.count, gpus))
        if ram_gb is None and machine.ram_bytes is not None and not machine.gpu.unified_memory:
            ram_gb = round(machine.ram_bytes / 2**30, 1)
    else:  # one card, N of one kind (2x rtx-3090 is rtx-3090 --gpus 2), or unequal cards
        from advisor.hardware.gpuset import resolve_gpu_set

        gset = resolve_gpu_set(kb, gpu, gpus)
    g, gpus = gset.devices[0], gset.count
    mixed = gset.mixed
    any_method = finetune.get("method") is None
    spec, _ = finetune_spec(task, finetune, given_options(click.get_current_context(), {
        "context": context, "batch": batch, "ram_gb": ram_gb, "prefer": prefer}))
    if spec is not None and mixed:
        raise AdvisorError(f"fit --task finetune takes cards of one kind, not the set {gset.spec()}: "
                           "fine-tuning is sized as data-parallel training (ZeRO sharding), where "
                           "every card holds the same share, so unequal cards are not sized; ask "
                           f"about one kind (fit {gset.smallest().id} --gpus {gpus}, the smallest card "
                           "of the set)")
    if spec is not None:  # what holds for every model, once: not "no model" for a bad knob
        from advisor.sizing.finetune import validate_spec, with_changes

        validate_spec(with_changes(spec, pure_bf16=False) if any_method else spec, gpus)
    batch = 1 if batch is None else batch
    _beyond_every_model(kb, "--seq-len" if spec is not None else "--context",
                        spec.seq_len if spec is not None else context)
    _rules, objective = load_rules_from(rules_dirs)
    from advisor.limits import check_one_machine
    from advisor.render import one_line

    check_one_machine(g, gpus)

    if mixed:
        from advisor.sizing.mixed import default_ts_arg

        on = one_line(gset.words())
        head = {"gpu": set_arg(gset), "name": gset.words(), "count": gpus,
                "gpu_set": gset.to_json(), "devices": [d.id for d in gset.devices],
                "tensor_split": default_ts_arg(gset)}
    else:
        on = f"{gpus} × {one_line(g.name)}" if gpus > 1 else one_line(g.name)
        head = {"gpu": g.id, "name": g.name, "count": gpus}
    if machine is not None:
        from advisor.hardware import summary_lines

        shown = _as_set(machine, gset, kb) if mixed else machine
        head["hardware"] = shown.to_json()
        if fmt != "json":
            lines = summary_lines(shown)
            if mixed:
                lines[0] = _detected_set_line(machine, gset)
            click.echo(" ".join(lines) + "\n")
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
                           offload=ram_gb is not None and not mixed,
                           prefer=prefer or objective.prefer, rank=rank,
                           gpu_set=gset if mixed else None)
    head.update(rank=rank, quality_benchmark="mmlu-pro" if rank == "quality" else None,
                context_tokens=context, batch=batch,
                ram_bytes=work.ram_bytes if ram_gb is not None else None)
    where = f"{on} and {ram_gb:g} GiB of RAM" if ram_gb is not None and not mixed else on
    how = ""
    if mixed:  # the split, and what is not planned over unequal cards
        how = (f"; llama.cpp's layer split over the cards in device order, -ts {head['tensor_split']} "
               "(each card's free GiB)" + (", nothing offloaded to the "
                                           f"{ram_gb:g} GiB of RAM (not planned over unequal cards)"
                                           if ram_gb is not None else ""))
        head["offload"] = False
    # a defaulted context is each model's own (explain's default): a reasoning model's holds a
    # prompt and the output its publisher recommends (advisor.sizing.workload)
    ctx = f"{count(context, 'token')} of context" + (
        "" if chosen else " (for a reasoning model, enough for the output its publisher recommends)")
    _show(fmt, rows, head, fit_grid,
          f"No model in the knowledge base runs usably on {where} with {ctx}{batch_words(batch)}{how}.",
          f"Models that run on {where} ({ctx}, batch {batch}), each at "
          f"its best plan, {RANK_WORDS[rank]}{how}:")


def set_arg(gset) -> str:
    """The GPU argument that names gset's devices in their order: runs of one card counted
    ("rtx-3090,2x rtx-3060-12gb"; a card that comes back later is written again, so the order
    is kept, unlike GpuSet.spec, which groups by kind)."""
    runs: list[list] = []
    for d in gset.devices:
        if runs and runs[-1][0].id == d.id:
            runs[-1][1] += 1
        else:
            runs.append([d, 1])
    return ",".join(f"{n}x {g.id}" if n > 1 else g.id for g, n in runs)


def _as_set(machine, gset, kb):
    """The detected Machine, its note saying that the whole set is answered for."""
    from dataclasses import replace

    note = (f"mixed GPUs detected: answering for the whole set ({set_arg(gset)}), llama.cpp's layer "
            f"split over the cards in the order detected; to ask about one kind, name it with "
            f"--gpus N (advisor fit {machine.gpu.id} --gpus {machine.count})")
    return replace(machine, notes=[note])


def _detected_set_line(machine, gset) -> str:
    from advisor.render import one_line

    tools = ", ".join(sorted({c.tool for c, _ in machine.cards}))
    return (f"Detected on this machine ({tools}): {one_line(gset.words())} (the knowledge base's "
            f"{set_arg(gset)}).")


RANK_WORDS = {
    "quality": "best MMLU-Pro as its publisher reports it first (each publisher's own harness: "
               "not strictly comparable), then models scored only by the evaluator named, then "
               "the rest largest first",
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
