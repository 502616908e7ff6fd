"""The command line: parse, call the library, render, exit. Bad input exits 2 with one line.

One module per command (group); each defines a click command registered here.
"""
from __future__ import annotations

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


def _register() -> None:
    from advisor.cli.explain import explain
    from advisor.cli.kb import kb
    from advisor.cli.rules import rules

    main.add_command(explain)
    main.add_command(kb)
    main.add_command(rules)


_register()
