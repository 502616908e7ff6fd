"""Memory of one placement (a model, a precision, N GPUs of one kind) and what fits.

Everything here is pure: inputs are KB entries and numbers, outputs are dataclasses.
"""
from __future__ import annotations

from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes_per_token
from advisor.sizing.memory import MemoryParts, memory_parts
from advisor.sizing.overhead import fit_margin_bytes, overhead_bytes
from advisor.sizing.precision import Precision
from advisor.sizing.speed import decode_tokens_per_s, offload_decode_tokens_per_s
from advisor.sizing.weights import weights_breakdown_bytes
from advisor.sizing.workload import Workload


@dataclass(frozen=True)
class Placement:
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    available_bytes: int
    margin_bytes: int
    decode_bytes_per_token_empty: int
    decode_bytes_per_token_full: int
    bandwidth_gb_s: float
    parts: MemoryParts | None = None

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes

    @property
    def headroom_bytes(self) -> int:
        return self.available_bytes - self.total_bytes

    @property
    def fits(self) -> bool:
        """Fits with llama.cpp's per-device margin to spare."""
        return self.headroom_bytes >= self.margin_bytes

    @property
    def verdict(self) -> str:
        if self.headroom_bytes < 0:
            return "does-not-fit"
        return "fits" if self.fits else "tight"

    def decode_tokens_per_s(self, full_context: bool = False) -> float | None:
        if self.headroom_bytes < 0:
            return None
        per_token = self.decode_bytes_per_token_full if full_context else self.decode_bytes_per_token_empty
        return decode_tokens_per_s(per_token, self.bandwidth_gb_s)


def place(model: Model, gpu: GPU, precision: Precision, work: Workload, gpus: int = 1) -> Placement:
    """All layers on `gpus` GPUs of one kind (llama.cpp layer split: one card's bandwidth a token)."""
    m = memory_parts(model, precision, work, gpus)
    streamed = m.layers_bytes + m.output_bytes  # the embedding table is a lookup, one row a token
    return Placement(
        weights_bytes=m.weights_bytes,
        kv_cache_bytes=m.kv_cache_bytes,
        overhead_bytes=m.overhead_bytes,
        available_bytes=gpu.memory_bytes * gpus,
        margin_bytes=fit_margin_bytes(gpus),
        decode_bytes_per_token_empty=streamed,
        decode_bytes_per_token_full=streamed + m.kv_cache_bytes,
        bandwidth_gb_s=gpu.bandwidth_gb_s,
        parts=m,
    )


def valid_tensor_parallel_sizes(model: Model, limit: int = 64) -> list[int]:
    """GPU counts that split the attention heads and KV heads evenly (llmfit supports_tp;
    vLLM refuses other sizes), and multiples of a full node beyond one node."""
    a = model.architecture
    sizes = [n for n in range(1, c.GPUS_PER_NODE + 1)
             if a.attention_heads % n == 0 and a.kv_heads % n == 0]
    n = 2 * c.GPUS_PER_NODE
    while n <= limit:
        sizes.append(n)  # several nodes: tensor parallel inside a node, pipeline across nodes
        n += c.GPUS_PER_NODE
    return sizes


# min_gpus memo: (id(model), id(gpu), precision, work, limit) -> (model, gpu, answer). KB entries
# are frozen, so an answer holds for as long as the same objects are asked about; the entries are
# kept in the value, so an id cannot be reused while its key is here. The rent search asks about
# every KB GPU for every question that misses: this makes it one place() sweep per entry pair.
_MIN_GPUS: dict = {}
_MIN_GPUS_MAX = 1 << 16


def min_gpus(model: Model, gpu: GPU, precision: Precision, work: Workload, limit: int = 64) -> int | None:
    key = (id(model), id(gpu), precision, work, limit)
    hit = _MIN_GPUS.get(key)
    if hit is not None and hit[0] is model and hit[1] is gpu:
        return hit[2]
    n = _min_gpus(model, gpu, precision, work, limit)
    if len(_MIN_GPUS) >= _MIN_GPUS_MAX:
        _MIN_GPUS.clear()
    _MIN_GPUS[key] = (model, gpu, n)
    return n


def _min_gpus(model: Model, gpu: GPU, precision: Precision, work: Workload, limit: int) -> int | None:
    for n in valid_tensor_parallel_sizes(model, limit):
        if place(model, gpu, precision, work, n).fits:
            return n
    return None


@dataclass(frozen=True)
class Offload:
    gpu_layers: int
    cpu_layers: int
    ram_bytes: int
    decode_tokens_per_s: float


def plan_offload(model: Model, gpu: GPU, precision: Precision, work: Workload,
                 ram_bandwidth_gb_s: float = c.DEFAULT_RAM_BANDWIDTH_GB_S) -> Offload | None:
    """llama.cpp -ngl: whole layers (weights and their KV) on the GPU, the rest in system RAM.
    The output layer goes to the GPU first; the token embedding table stays in RAM."""
    a = model.architecture
    w = weights_breakdown_bytes(a, precision)
    kv_layer = kv_cache_bytes_per_token(a) * work.context_tokens * work.batch // a.layers
    layer = w["largest_layer"] + kv_layer
    budget = (gpu.memory_bytes - overhead_bytes(a) - fit_margin_bytes() - w["output"])
    if budget < layer:
        return None
    gpu_layers = min(a.layers, budget // layer)
    if gpu_layers >= a.layers:
        return None  # everything fits: no offload needed
    cpu_layers = a.layers - gpu_layers
    cpu_bytes = cpu_layers * layer
    gpu_bytes = gpu_layers * layer + w["output"]
    speed = offload_decode_tokens_per_s(gpu_bytes, cpu_bytes, gpu.bandwidth_gb_s, ram_bandwidth_gb_s)
    return Offload(gpu_layers=int(gpu_layers), cpu_layers=int(cpu_layers),
                   ram_bytes=cpu_bytes + w["embedding"], decode_tokens_per_s=speed)
