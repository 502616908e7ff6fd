"""The command line: parse, call the library, render, exit. Bad input exits 2 with one line.

One module per command (group); each defines a click command registered here. A command's
module is imported when that command runs (or help lists it), so `advisor explain` does not
import the others'.
"""
from __future__ import annotations

from importlib import import_module

import click

from advisor.errors import AdvisorError

# command name -> the module that defines it (as an attribute of the same name)
_COMMANDS = {"explain": "advisor.cli.explain", "fit": "advisor.cli.fit",
             "generate": "advisor.cli.generate", "gpus": "advisor.cli.gpus", "kb": "advisor.cli.kb",
             "rules": "advisor.cli.rules"}


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AdvisorError as exc:
            click.echo(f"advisor: error: {exc}", err=True)
            ctx.exit(2)

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx, name):
        if name in _COMMANDS and name not in self.commands:
            self.add_command(getattr(import_module(_COMMANDS[name]), name))
        return super().get_command(ctx, name)


@click.group(cls=_Group)
@click.version_option(package_name="advisor")
def main() -> None:
    """Can I run model X on GPU Y, and if not, what exactly should I do instead?"""
