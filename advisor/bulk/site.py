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
    from advisor.render import count

    env.filters.update(thousands=lambda n: f"{n:,}", md_cell=md_cell, line=one_line, counted=count)
    return env


def page_html(markdown_text: str, title: str, root: str, figure: str = "") -> str:
    """An advisory page; `figure` (memory_figure's SVG) goes after the Memory heading."""
    html_text = md_to_html(markdown_text)  # built from escaped text only
    if figure:
        html_text = html_text.replace("<h2>Memory</h2>\n", f"<h2>Memory</h2>\n{figure}", 1)
    return _environment(True).get_template("html/page.html.j2").render(
        title=title, root=root, body=Markup(html_text))


_FIGURE_PARTS = (("weights", "#4c78a8"), ("KV cache", "#f58518"), ("overhead", "#9d755d"))


def memory_figure(weights_bytes: int, kv_cache_bytes: int, overhead_bytes: int,
                  available_bytes: int, width: int = 600) -> str:
    """The memory table as a picture: an inline SVG bar of weights, KV cache and runtime overhead
    (stacked, in that order) against the GPUs' usable memory (the dashed line). The scale is the
    larger of the two, so a model that does not fit runs past the line. Sizes are GB (10^9 bytes),
    as in the table; every text is numbers and fixed words (no escaping needed)."""
    parts = [weights_bytes, kv_cache_bytes, overhead_bytes]
    total = sum(parts)
    scale = max(total, available_bytes, 1)
    x, rects, legend = 0.0, [], []
    for (name, colour), b in zip(_FIGURE_PARTS, parts):
        w = width * b / scale
        rects.append(f'<rect x="{x:.1f}" y="8" width="{w:.1f}" height="28" fill="{colour}">'
                     f'<title>{name}: {b / 1e9:.2f} GB</title></rect>')
        legend.append(f'<tspan fill="{colour}">■</tspan> {name} {b / 1e9:.2f} GB')
        x += w
    line = width * available_bytes / scale
    return (f'<figure class="memory"><svg xmlns="http://www.w3.org/2000/svg" role="img" '
            f'viewBox="0 0 {width + 10} 70" width="{width + 10}" height="70" '
            f'aria-label="memory: {total / 1e9:.2f} GB needed, {available_bytes / 1e9:.2f} GB '
            f'available">' + "".join(rects)
            + f'<line x1="{line:.1f}" y1="2" x2="{line:.1f}" y2="42" stroke="#1d1d1f" '
              f'stroke-dasharray="4 3" stroke-width="2"><title>available: '
              f'{available_bytes / 1e9:.2f} GB</title></line>'
            + f'<text x="0" y="60" font-size="12">{" · ".join(legend)} · available '
              f'{available_bytes / 1e9:.2f} GB</text></svg></figure>\n')


def style_css() -> str:
    return (data_dir("templates") / "html" / "style.css").read_text(encoding="utf-8")


# What the recommended plan takes, as the grid colours it (best first).
PLAN_CLASSES = {"as-asked": "runs as asked", "this-hardware": "runs on these GPUs with changes",
                "more-hardware": "needs more or rented GPUs", "other-model": "another model",
                "none": "no plan"}


@dataclass(frozen=True)
class PlanCell:
    """The recommended plan of a page, as the site's grid shows it."""
    kind: str                      # a PLAN_CLASSES key
    precision: str
    decode_tokens_per_s: float
    gpu_count: int

    @staticmethod
    def of(plan, situation) -> "PlanCell | None":
        if plan is None:
            return None
        if plan.path == "as-asked" or (
                plan.path in ("your-hardware", "your-gpus") and plan.model.id == situation.model.id
                and plan.precision.name == situation.precision.name and not plan.offload
                and plan.gpu_count == situation.gpu_count):
            # the page's format runs on its cards: as asked, or with a better runtime, KV
            # cache or context chosen for it (rule plan-better-than-asked)
            kind = "as-asked"
        elif plan.path == "another-model":
            kind = "other-model"
        elif plan.gpu.id == situation.gpu.id and plan.gpu_count <= situation.gpu_count \
                and plan.path != "rent":
            kind = "this-hardware"
        else:
            kind = "more-hardware"
        return PlanCell(kind, plan.precision.name, plan.decode_tokens_per_s, plan.gpu_count)

    @property
    def text(self) -> str:
        cards = f"{self.gpu_count} cards, " if self.kind == "more-hardware" and self.gpu_count > 1 else ""
        return f"{cards}{self.precision}, {tps(self.decode_tokens_per_s)}"


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
    model_id: str = ""
    gpu_id: str = ""
    plan: PlanCell | None = None

    @property
    def verdict_text(self) -> str:
        if self.verdict is None:
            return f"failed: {self.reason}"
        return self.verdict.replace("-", " ")

    @property
    def speed_text(self) -> str:
        return tps(self.decode_tokens_per_s) if self.decode_tokens_per_s is not None else "–"


@dataclass(frozen=True)
class GridModel:
    id: str
    name: str
    family: str
    parameters: int
    native_precision: str | None


@dataclass(frozen=True)
class GridGpu:
    id: str
    name: str
    vendor: str
    memory_bytes: int


@dataclass(frozen=True)
class Grid:
    """Models x GPUs; a cell is the page of the pair at the model's published precision (or the
    run's first precision for that pair when the published one was not generated), with the
    pair's other pages beside it."""
    models: tuple[GridModel, ...]
    gpus: tuple[GridGpu, ...]
    cells: dict            # (model id, gpu id) -> (IndexRow shown, tuple of the other IndexRows)

    def cell(self, model_id: str, gpu_id: str):
        return self.cells.get((model_id, gpu_id))

    @property
    def families(self) -> list[str]:
        return sorted({m.family for m in self.models})

    @property
    def vendors(self) -> list[str]:
        return sorted({g.vendor for g in self.gpus})


def build_grid(rows: list[IndexRow], models: list[GridModel], gpus: list[GridGpu]) -> Grid:
    """Pure: the grid of a run's index rows (in the run's order), models largest first, GPUs by
    memory (then id)."""
    native = {m.id: m.native_precision for m in models}
    pairs: dict = {}
    for r in rows:
        pairs.setdefault((r.model_id, r.gpu_id), []).append(r)
    cells = {}
    for key, rs in pairs.items():
        shown = next((r for r in rs if r.precision == native.get(key[0])), rs[0])
        cells[key] = (shown, tuple(r for r in rs if r is not shown))
    return Grid(tuple(sorted(models, key=lambda m: (-m.parameters, m.id))),
                tuple(sorted(gpus, key=lambda g: (g.memory_bytes, g.id))), cells)


def index_text(fmt: str, rows: list[IndexRow], counts: dict, context_tokens: int, batch: int,
               gpu_count: int, context_capped: bool = False, grid: Grid | None = None) -> str:
    """The run's index: markdown (every page in one table), or HTML (the model x GPU grid, with
    `grid`; every page's row is in list_text's list.html)."""
    name = "html/index.html.j2" if fmt == "html" else "bulk/index.md.j2"
    return _environment(fmt == "html").get_template(name).render(
        rows=rows, counts=counts, context_tokens=context_tokens, batch=batch, gpu_count=gpu_count,
        context_capped=context_capped, grid=grid, classes=PLAN_CLASSES)


def list_text(rows: list[IndexRow], counts: dict, context_tokens: int, batch: int,
              gpu_count: int, context_capped: bool = False) -> str:
    """list.html: every page of the run in one table (the HTML index before the grid)."""
    return _environment(True).get_template("html/list.html.j2").render(
        rows=rows, counts=counts, context_tokens=context_tokens, batch=batch, gpu_count=gpu_count,
        context_capped=context_capped)


def site_js() -> str:
    return (data_dir("templates") / "html" / "site.js").read_text(encoding="utf-8")
