"""Where a command's answer goes: plain text, or drawn for a terminal.

`--format terminal` draws the answer with rich (advisor.cli.draw): an advisory's markdown with
its headings styled, its tables in boxes and its verdict in colour; advisor fit's and advisor
gpus' tables in boxes. It is the default when standard output is a terminal; piped or
redirected, the default is the plain format (markdown, table), byte for byte what it was
before there was a terminal format, and `--format markdown` (or `table`) asks for the plain
one on a terminal too. NO_COLOR (set and not empty) keeps the drawing and drops the colours.

rich is imported only when an answer is drawn: a plain or JSON answer does not pay for it.
"""
from __future__ import annotations

import sys

import click

TERMINAL = "terminal"


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (False when it is closed or not a file)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def format_option(plain: str, *others: str):
    """The --format option of a command whose plain format is plain (markdown, table), with
    the other formats it has (json) and terminal. Unset, it is terminal when standard output
    is a terminal, else plain: the command receives the format chosen, never None."""
    def choose(ctx, param, value):
        return value if value is not None else (TERMINAL if stdout_is_terminal() else plain)

    return click.option(
        "--format", "fmt", type=click.Choice([plain, *others, TERMINAL]), default=None,
        callback=choose,
        help=f"{TERMINAL}: drawn with colour (NO_COLOR=1 for none). Default: {TERMINAL} when "
             f"standard output is a terminal, else {plain}.")


def write_markdown(text: str, fmt: str) -> None:
    """Write an answer to standard output: markdown (or JSON) as it is, or drawn when fmt is
    terminal."""
    if fmt != TERMINAL:
        sys.stdout.write(text)
        return
    from advisor.cli.draw import make_console, print_markdown

    print_markdown(make_console(sys.stdout), text)


def write_table(fmt: str, heading: str, grid) -> None:
    """Write a heading line, a blank line and a table (an advisor.bulk.tables.Grid) to
    standard output: as plain-text columns, or drawn when fmt is terminal."""
    if fmt != TERMINAL:
        click.echo(heading + "\n")
        sys.stdout.write(grid.text())
        return
    from advisor.cli.draw import make_console, print_grid

    print_grid(make_console(sys.stdout), heading, grid)
