"""What a model needs in memory for a workload: weights, KV cache, overhead.

The single entry point placement code calls; how each part is sized lives in weights.py,
kv_cache.py and overhead.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from advisor.kb.schema import Model
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.overhead import overhead_bytes
from advisor.sizing.precision import Precision
from advisor.sizing.weights import weights_breakdown_bytes
from advisor.sizing.workload import Workload


@dataclass(frozen=True)
class MemoryParts:
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    embedding_bytes: int        # token embedding table (a lookup: one row read a token)
    output_bytes: int           # output head, final norm
    layers_bytes: int           # all repeating blocks
    largest_layer_bytes: int
    breakdown: dict = field(default_factory=dict)  # name -> bytes, for memory.breakdown

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes


def memory_parts(model: Model, precision: Precision, work: Workload, gpus: int = 1) -> MemoryParts:
    a = model.architecture
    w = weights_breakdown_bytes(a, precision)
    weights = w["embedding"] + w["output"] + w["layers"]
    kv = kv_cache_bytes(a, work.context_tokens, work.batch)
    over = overhead_bytes(a, gpus)
    return MemoryParts(
        weights_bytes=weights, kv_cache_bytes=kv, overhead_bytes=over,
        embedding_bytes=w["embedding"], output_bytes=w["output"], layers_bytes=w["layers"],
        largest_layer_bytes=w["largest_layer"],
        breakdown={"weights": weights, "kv_cache": kv, "overhead": over},
    )
