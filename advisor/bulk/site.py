"""The index of a bulk run (markdown or HTML) and advisory pages as HTML.

HTML pages are the markdown advisory converted by md_to_html, which knows the subset the
advisory templates write (headings, paragraphs, '- ' lists, pipe tables, **bold**, *emphasis*
and `code`) and escapes every piece of text before it adds any tag. Page and index templates
live in templates/html/ and templates/bulk/, rendered with undefined variables as errors and,
for HTML, with autoescaping on.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

import jinja2
from markupsafe import Markup

from advisor.paths import data_dir
from advisor.render import md_text, tps
from advisor.text import one_line

_ESCAPE = r"\\[!-/:-@\[-`{-~]"   # a backslash escape: one character, never markup
_INLINE_RE = re.compile(rf"\\([!-/:-@\[-`{{-~])|`([^`]+)`|\*\*((?:{_ESCAPE}|[^\\])+?)\*\*"
                        rf"|\*((?:{_ESCAPE}|[^*\s\\])(?:{_ESCAPE}|[^*\\])*?)\*")


def plain(text: str) -> str:
    """Markdown text without its backslash escapes (a page's title)."""
    return re.sub(_ESCAPE, lambda m: m.group(0)[1], text)


def _inline(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE_RE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        if m.group(1) is not None:  # a backslash escape (advisor.render.md_text): the character
            out.append(html.escape(m.group(1)))
        elif m.group(2) is not None:
            out.append(f"<code>{html.escape(m.group(2))}</code>")
        elif m.group(3) is not None:
            out.append(f"<strong>{_inline(m.group(3))}</strong>")
        else:
            out.append(f"<em>{_inline(m.group(4))}</em>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _cells(line: str) -> list[str]:
    """The cells of a table row; an escaped pipe (`\\|`) is text inside a cell."""
    inner = re.sub(r"^\||(?<!\\)\|$", "", line.strip())
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def _table(lines: list[str]) -> str:
    head, align, body = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    cls = [' class="num"' if a.endswith(":") else "" for a in align]
    rows = ["<table>", "<thead><tr>" + "".join(
        f"<th{cls[i] if i < len(cls) else ''}>{_inline(c)}</th>" for i, c in enumerate(head)) + "</tr></thead>",
        "<tbody>"]
    for r in body:
        rows.append("<tr>" + "".join(
            f"<td{cls[i] if i < len(cls) else ''}>{_inline(c)}</td>" for i, c in enumerate(r)) + "</tr>")
    rows += ["</tbody>", "</table>"]
    return "\n".join(rows)


def md_to_html(text: str) -> str:
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            level = min(level, 6)
            blocks.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            if j - i >= 2:
                blocks.append(_table(lines[i:j]))
            else:
                blocks.append(f"<p>{_inline(line)}</p>")
            i = j
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:].strip())}</li>")
                i += 1
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and lines[j].startswith("- "):
                    i = j  # blank lines between items: still one list
            blocks.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        else:
            para = []
            while (i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "- "))):
                para.append(lines[i].strip())
                i += 1
            blocks.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(blocks) + "\n"


def md_cell(text: str) -> str:
    """Text safe inside a markdown table cell and link text (md_text, every `_` escaped)."""
    return re.sub(r"(?<!\\)_", r"\\_", md_text(text))


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=autoescape)
    env.filters.update(thousands=lambda n: f"{n:,}", md_cell=md_cell, line=one_line)
    return env


def page_html(markdown_text: str, title: str, root: str) -> str:
    body = Markup(md_to_html(markdown_text))  # built from escaped text only
    return _environment(True).get_template("html/page.html.j2").render(
        title=title, root=root, body=body)


def style_css() -> str:
    return (data_dir("templates") / "html" / "style.css").read_text(encoding="utf-8")


@dataclass(frozen=True)
class IndexRow:
    model_name: str
    gpu_name: str
    precision: str
    href: str | None
    verdict: str | None            # None when the page failed
    what_to_do: str | None         # the plan of "What to do", in one line
    decode_tokens_per_s: float | None
    reason: str | None = None

    @property
    def verdict_text(self) -> str:
        if self.verdict is None:
            return f"failed: {self.reason}"
        return self.verdict.replace("-", " ")

    @property
    def speed_text(self) -> str:
        return tps(self.decode_tokens_per_s) if self.decode_tokens_per_s is not None else "–"


def index_text(fmt: str, rows: list[IndexRow], counts: dict, context_tokens: int, batch: int,
               gpu_count: int, context_capped: bool = False) -> str:
    name = "html/index.html.j2" if fmt == "html" else "bulk/index.md.j2"
    return _environment(fmt == "html").get_template(name).render(
        rows=rows, counts=counts, context_tokens=context_tokens, batch=batch, gpu_count=gpu_count,
        context_capped=context_capped)
