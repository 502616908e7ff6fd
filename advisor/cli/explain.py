"""advisor explain MODEL GPU"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from advisor.cli.finetune_options import finetune_options, finetune_spec

@click.command()
@click.argument("model")
@click.argument("gpu")
@click.option("--precision", "-p", default=None,
              help="fp32, fp16, bf16, fp8, int8, int4 or a GGUF type (Q4_K_M ...). Default fp16.")
@click.option("--context", "-c", type=int, default=None, help="Context length in tokens. Default 8192.")
@click.option("--batch", "-b", type=int, default=None, help="Sequences at once. Default 1.")
@click.option("--gpus", "-n", type=int, default=1, show_default=True, help="GPUs of this kind.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True)
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(path_type=Path),
              help="A folder of rule files that adds to or overrides the built-in rules "
                   "(also $ADVISOR_RULES, separated by ':').")
@finetune_options
def explain(model, gpu, precision, context, batch, gpus, fmt, rules_dirs, task, **finetune):
    """Explain whether MODEL runs on GPU, and what to do if it does not."""
    from advisor.advise import Advisor, load_rulebook
    from advisor.kb import load_kb
    from advisor.render import render_json, render_markdown

    spec, defaults = finetune_spec(task, finetune, {"precision": precision, "context": context,
                                                     "batch": batch})
    batch = 1 if batch is None else batch
    if precision is None:
        precision, defaults = "fp16", defaults | {"precision"}
    if context is None:
        context, defaults = 8192, defaults | {"context"}
    advisor = Advisor(load_kb(), load_rulebook(rules_dirs))
    adv = advisor.explain(model, gpu, precision, context, batch, gpus, finetune=spec)
    text = render_json(adv) if fmt == "json" else render_markdown(adv, defaults)
    sys.stdout.write(text)
