"""The tables of advisor fit and advisor gpus: their cells (a Grid), as plain text.

A Grid holds what a table says; text_table lays it out in columns of plain text (piped output,
`--format table`), advisor.cli.terminal draws it on a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.bulk.inverse import FitRow, GpuRow
from advisor.render import gb, params, tps, usd


@dataclass(frozen=True)
class Grid:
    """A table's cells: headers, rows of strings (one a header), and the columns (0-based
    indices) that hold numbers, aligned right."""
    headers: list[str]
    rows: list[list[str]]
    right: frozenset[int] = frozenset()

    def text(self) -> str:
        """The grid as plain-text columns (see text_table)."""
        return text_table(self.headers, self.rows, self.right)


def text_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """Columns two spaces apart, a dashed line under the headers, no trailing spaces; numbers
    (the columns in right) right-aligned. Ends with a newline."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]) + "\n"


def _where(p) -> str:
    if p.cpu_offload_layers:
        return f"{p.gpu_layers}/{p.model.architecture.layers} layers on GPU"
    if p.moe_cpu_layers:
        return f"experts of {p.moe_cpu_layers} layers in RAM"
    return "GPU"


def fit_grid(rows: list[FitRow]) -> Grid:
    """advisor fit's table: a model a row, in the order given."""
    return Grid(
        ["model", "MMLU-Pro", "parameters", "precision", "KV", "runtime", "where", "memory",
         "max context", "decode", "quality"],
        [[r.model.id, _mmlu_pro(r), params(r.parameters), r.plan.precision.name,
          r.plan.kv_cache_dtype, r.plan.runtime, _where(r.plan), gb(r.plan.total_bytes),
          f"{r.max_context_tokens:,}", tps(r.plan.decode_tokens_per_s), r.plan.quality_class_name]
         for r in rows],
        frozenset({2, 7, 8, 9}))


def _mmlu_pro(r: FitRow) -> str:
    """The published score, with the variant where it is not the instruct checkpoint and who
    ran it where that is not the publisher: 71.1, 56.2 tiger-lab, 58.3 base deepseek, 76 think
    (long evaluator ids shortened: OLL-v2 is the Open LLM Leaderboard v2, AA Artificial
    Analysis)."""
    q = r.quality
    if q is None:
        return "–"
    who = [] if q.self_reported else [_EVALUATOR_SHORT.get(q.evaluator, q.evaluator)]
    variant = [] if q.variant == "instruct" else [_VARIANT_SHORT.get(q.variant, q.variant)]
    return " ".join([f"{q.score:g}", *variant, *who])


# Short names in the MMLU-Pro column (the JSON keeps the KB's ids).
_EVALUATOR_SHORT = {"open-llm-leaderboard-v2": "OLL-v2", "artificial-analysis": "AA"}
_VARIANT_SHORT = {"thinking": "think"}


def gpus_grid(rows: list[GpuRow]) -> Grid:
    """advisor gpus' table: a card (or set of cards) a row, in the order given; the price is
    of the cards one rents for the set (GpuRow.rented_count, said where it is more)."""
    return Grid(
        ["GPU", "count", "precision", "runtime", "memory", "needs", "decode", "USD/hour"],
        [[r.gpu.id, str(r.count), r.plan.precision.name, r.plan.runtime, gb(r.memory_bytes),
          gb(r.plan.total_bytes), tps(r.plan.decode_tokens_per_s),
          "–" if r.price_usd_per_hour is None else usd(r.price_usd_per_hour)
          + ("" if r.rented_count == r.count else f" ({r.rented_count} rented)")]
         for r in rows],
        frozenset({1, 4, 5, 6, 7}))


def finetune_fit_grid(rows) -> Grid:
    """advisor fit --task finetune's table: a model a row, in the order given."""
    return Grid(
        ["model", "parameters", "method", "trainable", "per GPU", "headroom"],
        [[r.model.id, params(r.parameters), r.spec.method, params(r.memory.trainable_parameters),
          gb(r.memory.per_gpu_bytes), gb(r.headroom_bytes)] for r in rows],
        frozenset({1, 3, 4, 5}))


def fit_table(rows: list[FitRow]) -> str:
    """advisor fit's table as plain text."""
    return fit_grid(rows).text()


def gpus_table(rows: list[GpuRow]) -> str:
    """advisor gpus' table as plain text."""
    return gpus_grid(rows).text()


def finetune_fit_table(rows) -> str:
    """advisor fit --task finetune's table as plain text."""
    return finetune_fit_grid(rows).text()
