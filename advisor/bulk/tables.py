"""Plain-text tables for the terminal (advisor fit, advisor gpus)."""
from __future__ import annotations

from advisor.bulk.inverse import FitRow, GpuRow
from advisor.render import gb, params, tps


def text_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]) + "\n"


def fit_table(rows: list[FitRow]) -> str:
    return text_table(
        ["model", "parameters", "precision", "memory", "headroom", "max context", "decode"],
        [[r.model.id, params(r.parameters), r.precision.name, gb(r.placement.total_bytes),
          gb(r.placement.headroom_bytes), f"{r.max_context_tokens:,}", tps(r.decode_tokens_per_s)]
         for r in rows],
        right={1, 3, 4, 5, 6})


def gpus_table(rows: list[GpuRow]) -> str:
    return text_table(
        ["GPU", "count", "precision", "memory", "needs", "headroom", "decode", "USD/hour"],
        [[r.gpu.id, str(r.count), r.precision.name, gb(r.memory_bytes), gb(r.placement.total_bytes),
          gb(r.placement.headroom_bytes), tps(r.decode_tokens_per_s),
          "–" if r.price_usd_per_hour is None else f"{r.price_usd_per_hour:,.2f}"]
         for r in rows],
        right={1, 3, 4, 5, 6, 7})


def finetune_fit_table(rows) -> str:
    return text_table(
        ["model", "parameters", "method", "trainable", "per GPU", "headroom"],
        [[r.model.id, params(r.parameters), r.spec.method, params(r.memory.trainable_parameters),
          gb(r.memory.per_gpu_bytes), gb(r.headroom_bytes)] for r in rows],
        right={1, 3, 4, 5})
