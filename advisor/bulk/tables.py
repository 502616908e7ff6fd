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


def _where(p) -> str:
    if p.cpu_offload_layers:
        return f"{p.gpu_layers}/{p.model.architecture.layers} layers on GPU"
    if p.moe_cpu_layers:
        return f"experts of {p.moe_cpu_layers} layers in RAM"
    return "GPU"


def fit_table(rows: list[FitRow]) -> str:
    return text_table(
        ["model", "parameters", "precision", "KV", "runtime", "where", "memory", "max context",
         "decode", "quality"],
        [[r.model.id, params(r.parameters), r.plan.precision.name, r.plan.kv_cache_dtype,
          r.plan.runtime, _where(r.plan), gb(r.plan.total_bytes), f"{r.max_context_tokens:,}",
          tps(r.plan.decode_tokens_per_s), r.plan.quality_class_name]
         for r in rows],
        right={1, 6, 7, 8})


def gpus_table(rows: list[GpuRow]) -> str:
    return text_table(
        ["GPU", "count", "precision", "runtime", "memory", "needs", "decode", "USD/hour"],
        [[r.gpu.id, str(r.count), r.plan.precision.name, r.plan.runtime, gb(r.memory_bytes),
          gb(r.plan.total_bytes), tps(r.plan.decode_tokens_per_s),
          "–" if r.price_usd_per_hour is None else f"{r.price_usd_per_hour:,.2f}"]
         for r in rows],
        right={1, 4, 5, 6, 7})


def finetune_fit_table(rows) -> str:
    return text_table(
        ["model", "parameters", "method", "trainable", "per GPU", "headroom"],
        [[r.model.id, params(r.parameters), r.spec.method, params(r.memory.trainable_parameters),
          gb(r.memory.per_gpu_bytes), gb(r.headroom_bytes)] for r in rows],
        right={1, 3, 4, 5})
