"""The command line: parse, call the library, render, exit. Bad input exits 2 with one line."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from advisor.errors import AdvisorError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AdvisorError as exc:
            click.echo(f"advisor: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="advisor")
def main() -> None:
    """Can I run model X on GPU Y, and if not, what exactly should I do instead?"""


@main.command()
@click.argument("model")
@click.argument("gpu")
@click.option("--precision", "-p", default=None,
              help="fp32, fp16, bf16, fp8, int8, int4 or a GGUF type (Q4_K_M ...). Default fp16.")
@click.option("--context", "-c", type=int, default=None, help="Context length in tokens. Default 8192.")
@click.option("--batch", "-b", type=int, default=1, show_default=True, help="Sequences at once.")
@click.option("--gpus", "-n", type=int, default=1, show_default=True, help="GPUs of this kind.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True)
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(path_type=Path),
              help="A folder of rule files that adds to or overrides the built-in rules "
                   "(also $ADVISOR_RULES, separated by ':').")
def explain(model, gpu, precision, context, batch, gpus, fmt, rules_dirs):
    """Explain whether MODEL runs on GPU, and what to do if it does not."""
    from advisor.advise import Advisor, load_rulebook
    from advisor.kb import load_kb
    from advisor.render import render_json, render_markdown

    defaults = set()
    if precision is None:
        precision, defaults = "fp16", defaults | {"precision"}
    if context is None:
        context, defaults = 8192, defaults | {"context"}
    advisor = Advisor(load_kb(), load_rulebook(rules_dirs))
    adv = advisor.explain(model, gpu, precision, context, batch, gpus)
    text = render_json(adv) if fmt == "json" else render_markdown(adv, defaults)
    sys.stdout.write(text)
