"""advisor gpus MODEL"""
from __future__ import annotations

import json
import sys


import click

from advisor.cli.sources import explain_only_ngl, kb_option, load_kb_from, load_rules_from, rules_option
from advisor.cli.terminal import format_option, write_table
from advisor.render import count


@click.command()
@explain_only_ngl("gpus")
@click.argument("model")
@click.option("--precision", "-p", default=None,
              help="Only this precision. Default: the best plan each card (or set) runs.")
@click.option("--context", "-c", type=int, default=None,
              help="Context in tokens. Default 8192, or the model's maximum if smaller."
                   " A reasoning model's default holds the output its publisher recommends (a long prompt needs a longer context).")
@click.option("--batch", "-b", type=int, default=1, show_default=True, help="Sequences at once.")
@click.option("--max-gpus", type=int, default=8, show_default=True, help="Largest set to consider.")
@format_option("table", "json")
@kb_option
@rules_option
def gpus(model, precision, context, batch, max_gpus, fmt, kb_dirs, rules_dirs):
    """The GPUs and sets of GPUs that run MODEL, cheapest (or smallest) first."""
    from advisor.bulk.inverse import gpus_that_run
    from advisor.bulk.tables import gpus_grid
    from advisor.errors import AdvisorError
    from advisor.sizing.precision import parse_precision
    from advisor.sizing.workload import Workload, default_context_reason, default_context_tokens

    from advisor.limits import batch_words, check_question
    from advisor.render import one_line

    check_question(gpus=max_gpus, gpus_flag="--max-gpus", batch=batch, context=context)
    kb = load_kb_from(kb_dirs)
    _rules, objective = load_rules_from(rules_dirs)
    from advisor.files import resolve_model

    # as explain reads MODEL: a KB entry, an Ollama name, a model file or folder, a Hub repo
    try:
        m, stored = resolve_model(kb, model)
    except AdvisorError:
        _if_a_gpu(kb, model)
        raise
    # an Ollama name (qwen2.5:32b) stands for its tag's quantization, a file for its own format,
    # unless --precision says otherwise
    p = parse_precision(precision or stored) if (precision or stored) else None
    if p is not None:  # explain's refusal of a format the architecture has no weights for
        from advisor.sizing.weights import format_mismatch

        bad = format_mismatch(m.architecture, p, m.gguf_repos)
        if bad:
            raise AdvisorError(f"--precision {p.name}: {bad} ({one_line(m.name)})")
    most = m.context_limit
    reason = None
    if context is None:  # explain's default: 8,192 tokens, or a reasoning model's budget
        context = default_context_tokens(m)
        reason = default_context_reason(m, context)
    elif context > most:
        raise AdvisorError(f"--context {context:,} is beyond {m.name}'s maximum of {most:,} tokens")
    from advisor.plans.planner import Planner

    rows = gpus_that_run(Planner(kb, objective), kb, m, Workload(context, batch), p, max_gpus,
                         objective.prefer)
    if fmt == "json":
        doc = {"model": m.id, "name": m.name, "precision": p.name if p else None,
               "context_tokens": context, "batch": batch, "max_gpus": max_gpus,
               **({"context_reason": reason} if reason else {}),
               "gpus": [r.to_json() for r in rows]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    at = f" at {p.name}" if p else ""
    name = one_line(m.name)
    if reason:
        click.echo(f"Context: {reason}.\n")
    if not rows:
        click.echo(f"No GPU in the knowledge base, up to {max_gpus} of a kind, runs {name}{at} "
                   f"with {count(context, 'token')} of context{batch_words(batch)}.")
        return
    write_table(fmt, f"GPUs that run {name}{at} ({count(context, 'token')} of context, batch {batch}), "
                     f"cheapest first where priced, then smallest:", gpus_grid(rows))


def _if_a_gpu(kb, text: str) -> None:
    """MODEL that names a KB GPU or a set of them (explain's GPU argument) rather than a model:
    an AdvisorError, one line, naming fit, which lists the models that run on it. Nothing
    otherwise (the model's own error stands)."""
    from advisor.errors import AdvisorError
    from advisor.hardware.gpuset import resolve_gpu_set
    from advisor.limits import short

    try:
        resolve_gpu_set(kb, text, None)
    except (AdvisorError, ValueError):
        return
    q = short(text.strip())  # quoted, as a shell argument reads
    raise AdvisorError(f"{q} names GPUs, not a model: advisor gpus MODEL lists the GPUs that run a "
                       f"model; the models that run on these cards: advisor fit {q} (one model: "
                       f"advisor explain MODEL {q})")
