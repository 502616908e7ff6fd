"""Markdown and tables drawn for a terminal with rich. Imported only when output is drawn
(advisor.cli.terminal decides), so that other runs do not pay for importing rich.

rich's Markdown renderer, with these changes for the advisories:

- Commands stay copyable. A code block is written as it is: never wrapped, padded or boxed (a
  line wider than the terminal is left to the terminal to wrap, which copies back as one line).
  A paragraph breaks its lines only at spaces outside inline code, so a launch command at the
  end of an Options bullet moves whole to a line of its own instead of being split; a word
  wider than the terminal (a long URL) is not folded either.
- No line is padded with trailing spaces; headings are left-aligned.
- The verdict ("**Verdict: does not fit.**") takes its verdict's colour: fits green, tight
  yellow, does not fit and cannot run red.
- Tables are drawn in boxes (ASCII ones where the output cannot encode box characters); links
  are written out, "text (url)".
"""
from __future__ import annotations

import io
import os
from dataclasses import replace
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markdown import CodeBlock, Heading, ListItem, Markdown, Paragraph, TableElement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

if TYPE_CHECKING:  # not imported to draw: advisor.bulk.tables brings the planner
    from advisor.bulk.tables import Grid

_CODE = "advisor-inline-code"  # a meta key of the inline-code style: marks code in a paragraph

# A verdict (advisor.rules.spec.VERDICTS) -> the style of its "Verdict: ..." words
VERDICT_STYLES = {"fits": "bold green", "tight": "bold yellow", "does-not-fit": "bold red",
                  "cannot-run": "bold red"}

THEME = Theme({
    "markdown.h1": "bold underline",
    "markdown.h2": "bold magenta",
    "markdown.h3": "bold",
    "markdown.code": Style(bold=True, color="cyan", meta={_CODE: True}),  # no background
    "markdown.code_block": "cyan",
    "markdown.item.bullet": "bold",
    "markdown.link": "bright_blue",
    "markdown.link_url": "underline",
    "markdown.table.border": "dim",
    "markdown.table.header": "bold",
    "advisor.heading": "bold",
})

_VERDICT = "Verdict: "


# The narrowest drawing: below it a heading would take a line a character. A terminal narrower
# than this wraps the longer lines itself, and nothing is lost.
MIN_WIDTH = 20


def make_console(file, *, width: int | None = None, color: bool | None = None) -> Console:
    """A console that writes to file as to a terminal. width: columns (None: $COLUMNS when it
    is a positive number, else the terminal's, else 80), at least MIN_WIDTH. color: False for
    no escape codes at all; None: rich's choice (the terminal's colours; none where NO_COLOR is
    set, or TERM=dumb)."""
    console = Console(file=file, width=width, force_terminal=True, theme=THEME, highlight=False,
                      emoji=False, markup=False, color_system=None if color is False else "auto")
    if console.width < 1:  # COLUMNS=0, which rich takes as a width of 0 and draws nothing
        try:
            columns = os.get_terminal_size(file.fileno()).columns
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            columns = 0
        console.width = columns or 80
    console.width = max(console.width, MIN_WIDTH)
    return console


def print_markdown(console: Console, text: str) -> None:
    """Draw markdown text (an advisory) on console."""
    console.print(_Markdown(_encodable(console, text), hyperlinks=False), crop=False)


def print_grid(console: Console, heading: str, grid: Grid) -> None:
    """Draw a heading line and a table (advisor fit, advisor gpus) on console. A table wider
    than the console (advisor fit's needs about 130 columns) is drawn as a list instead: each
    row's first cell, then its other cells with their headers, wrapped, so that no cell is
    folded or cut."""
    console.print(wrap(Text(_encodable(console, heading), style="advisor.heading"), [], console.width),
                  crop=False)
    console.print()
    grid = replace(grid, headers=[_encodable(console, h) for h in grid.headers],
                   rows=[[_encodable(console, cell) for cell in row] for row in grid.rows])
    table = grid_table(grid)
    if console.measure(table, options=console.options.update_width(10**6)).maximum <= console.width:
        console.print(table, crop=False)
        return
    for row in grid.rows:
        console.print(Text(row[0], style="markdown.strong"), crop=False)
        line, pairs = Text(), []
        for header, cell in zip(grid.headers[1:], row[1:]):
            if pairs:
                line.append(", ")
            start = len(line)
            line.append(header, style="markdown.table.header")
            line.append(" ")
            line.append(cell)
            pairs.append((start, len(line)))
        console.print(wrap(line, pairs, console.width, alone=False, indent=2), crop=False)


def _encodable(console: Console, text: str) -> str:
    """text with what the output's encoding cannot write escaped (as \\xd7), as the standard
    streams' backslashreplace would, but before the layout, so that columns stay aligned."""
    try:
        return text.encode(console.encoding, "backslashreplace").decode(console.encoding)
    except LookupError:  # an encoding Python does not know: the stream's own errors handler
        return text


def grid_table(grid: Grid) -> Table:
    """A Grid as a rich table, with a line under the headers and no side lines (the columns
    as far apart as in the plain table); numbers right-aligned, the first column (ids, to copy)
    never wrapped."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  border_style="markdown.table.border", header_style="markdown.table.header")
    for i, header in enumerate(grid.headers):
        table.add_column(Text(header), justify="right" if i in grid.right else "left",
                         no_wrap=i == 0, overflow="fold")
    for row in grid.rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def render_markdown(text: str, *, width: int = 80, color: bool = True) -> str:
    """Markdown as print_markdown draws it, as a string (ANSI escapes in it where color)."""
    out = io.StringIO()
    print_markdown(make_console(out, width=width, color=color), text)
    return out.getvalue()


def render_grid(heading: str, grid: Grid, *, width: int = 80, color: bool = True) -> str:
    """A table as print_grid draws it, as a string."""
    out = io.StringIO()
    print_grid(make_console(out, width=width, color=color), heading, grid)
    return out.getvalue()


def wrap(text: Text, code: list[tuple[int, int]], width: int, *, alone: bool = True,
         indent: int = 0) -> Text:
    """text broken into lines of at most width cells, only at spaces outside the code spans
    (start, end offsets into text.plain). A run that cannot break and is wider than width (a
    URL) is left whole on a line of its own; a run with code of several words (a command) that
    does not fit where it falls starts a line and ends it, so that the command alone can be
    copied (alone=False: no such rule). Every line begins with indent spaces.
    Existing line breaks are kept."""
    plain = text.plain
    in_code = bytearray(len(plain))
    for start, end in code:
        in_code[start:end] = b"\x01" * (end - start)
    lines: list[Text] = []
    offset = 0
    for part in plain.split("\n"):
        words, i, stop = [], offset, offset + len(part)
        while i < stop:  # runs of characters that are not breakable spaces
            if plain[i].isspace() and not in_code[i]:
                i += 1
                continue
            j = i
            while j < stop and (in_code[j] or not plain[j].isspace()):
                j += 1
            words.append((i, j))
            i = j
        first = len(lines)
        line_start = line_end = used = None
        own = False  # the line holds a command moved to it: nothing more goes on it
        for start, end in words:
            if line_start is not None and not own and used + cell_len(plain[line_end:end]) <= width:
                used += cell_len(plain[line_end:end])
                line_end = end
                continue
            if line_start is not None:
                lines.append(text[line_start:line_end])
            line_start, line_end, used = start, end, indent + cell_len(plain[start:end])
            own = alone and any(in_code[k] and plain[k].isspace() for k in range(start, end))
        lines.append(text[line_start:line_end] if line_start is not None else Text())
        if indent:
            lines[first:] = [Text(" " * indent) + line for line in lines[first:]]
        offset = stop + 1
    out = Text("\n").join(lines)
    out.no_wrap, out.overflow, out.justify, out.end = True, "ignore", "default", "\n"
    return out


def _colour_verdict(text: Text) -> None:
    """Style "Verdict: X." at the start of text in X's colour (VERDICT_STYLES)."""
    plain = text.plain
    end = plain.find(".", len(_VERDICT))
    if plain.startswith(_VERDICT) and end > 0:
        style = VERDICT_STYLES.get(plain[len(_VERDICT):end].replace(" ", "-"))
        if style:
            text.stylize(style, 0, end + 1)


class _Paragraph(Paragraph):
    """A paragraph that breaks lines only outside inline code (see wrap)."""

    def on_enter(self, context) -> None:
        super().on_enter(context)
        self.code: list[tuple[int, int]] = []

    def on_text(self, context, text) -> None:
        start = len(self.text)
        super().on_text(context, text)
        if context.current_style.meta.get(_CODE):
            self.code.append((start, len(self.text)))

    def __rich_console__(self, console, options):
        text = self.text.copy()
        _colour_verdict(text)
        yield wrap(text, self.code, options.max_width)


class _Heading(Heading):
    """A heading, left-aligned and not padded."""

    def __rich_console__(self, console, options):
        text = self.text.copy()
        text.justify = "default"
        yield text


class _CodeBlock(CodeBlock):
    """A code block as it is: each line whole, whatever the width (copyable)."""

    def __rich_console__(self, console, options):
        yield Text(str(self.text).rstrip("\n"), style="markdown.code_block", no_wrap=True,
                   overflow="ignore", justify="default")


class _ListItem(ListItem):
    """A list item whose lines are neither cropped to the width nor padded (rich's crops a
    line wider than the width: a command's would lose its end)."""

    def render_bullet(self, console, options):
        bullet = " * " if options.ascii_only else " • "
        return self._prefixed(console, options, bullet, "   ", "markdown.item.bullet")

    def render_number(self, console, options, number, last_number):
        width = len(str(last_number)) + 2
        return self._prefixed(console, options, f"{number}".rjust(width - 1) + " ", " " * width,
                              "markdown.item.number")

    def _prefixed(self, console, options, first: str, rest: str, style_name: str):
        style = console.get_style(style_name, default="none")
        segments = console.render(self.elements, options.update(width=options.max_width - len(first)))
        if self.style:
            segments = Segment.apply_style(segments, self.style)
        for i, line in enumerate(Segment.split_lines(segments)):
            yield Segment(rest if i else first, style)
            yield from line
            yield Segment.line()


class _Table(TableElement):
    """A markdown table drawn in a box."""

    def __rich_console__(self, console, options):
        table = Table(box=box.ROUNDED, border_style="markdown.table.border",
                      header_style="markdown.table.header")
        if self.header is not None and self.header.row is not None:
            for cell in self.header.row.cells:
                table.add_column(cell.content.copy(), justify=cell.justify)
        if self.body is not None:
            for row in self.body.rows:
                table.add_row(*(cell.content for cell in row.cells))
        yield table


class _Markdown(Markdown):
    elements = {**Markdown.elements, "paragraph_open": _Paragraph, "heading_open": _Heading,
                "fence": _CodeBlock, "code_block": _CodeBlock, "list_item_open": _ListItem,
                "table_open": _Table}
