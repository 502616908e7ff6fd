"""A set of GPUs of more than one kind, and llama.cpp's layer split over it (`-ts`).

llama.cpp's layer split (src/llama-model.cpp, load_tensors, ggml-org/llama.cpp at 0c1e570):
without --tensor-split it weighs each device by its free memory at load time ("default split,
by free memory": ggml_backend_dev_memory's free), turns the weights into cumulative fractions
s_0 < s_1 < ... < s_{n-1} = 1, and gives layer il (0 .. n_layer, the output layer being slot
n_layer) to the first device i with s_i > il / (n_layer + 1) (std::upper_bound over the split
points; act_gpu_layers = min(n_gpu_layers, n_layer + 1) with every layer offloaded). So the
output layer always lands on the last device, the token embedding table stays in host memory,
and each layer's KV cache is allocated on the device of its layer (llama-kv-cache: the buffer
type of dev_layer(il)). Every device holding layers gets its own compute buffer and the
backend's context. n_layer is the GGUF's block count: a trailing block after the model's layers
(GLM-4.5's NextN, advisor.sizing.offload.gguf_trailing_blocks) is a slot too, before the output
layer, that holds nothing llama.cpp loads (llama_blocks).

With --tensor-split (-ts) given, the same code takes the user's proportions instead of the free
memory (all of them zero means "not given" to llama.cpp, so advisor refuses that spelling). The
arithmetic is float32 as llama.cpp's (the values parsed with std::stof, summed and divided in
float, il / (n_layer + 1) in float), emulated here so that a split point that lands exactly on a
layer boundary goes where llama.cpp sends it. A card whose proportion is 0 gets no layers; it
still holds the backend's context (llama.cpp initialises every device it is given) but no
compute buffer, since no part of the graph runs on it.

Here the free memory of a card is what it may allocate (GPU.usable_memory_bytes) less the
device context llama.cpp's process holds there (advisor.sizing.runtime.
llamacpp_device_context_bytes); the split printed as `-ts` is that free memory in GiB to one
decimal, and the layers are assigned from the printed values, so the command and the sizing
agree. Memory per card: its layers' weights and KV cache, the output layer on the last card,
its compute buffer and device context; the set fits only if every card does, each with
llama.cpp's margin (constants.FIT_MARGIN_BYTES_PER_GPU).

Decode over a layer split is sequential: a token passes the cards one after another, so its
time is the sum over the cards of each card's time for its own layers at its own decode profile
(advisor.sizing.speed.gpu_decode_seconds, the one-card model) plus a hop a boundary. For N
cards of one kind the sum is the one-kind layer split's time (advisor.sizing.parallel).

Pure functions; no I/O.
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.precision import Precision
from advisor.sizing.workload import Workload

GIB = 1 << 30


@dataclass(frozen=True)
class GpuSet:
    """GPUs in device order (as the user listed them; CUDA_VISIBLE_DEVICES order)."""
    devices: tuple[GPU, ...]

    @property
    def count(self) -> int:
        return len(self.devices)

    @property
    def kinds(self) -> tuple[tuple[GPU, int], ...]:
        """(card, how many) by first appearance."""
        order: list[GPU] = []
        counts: dict[str, int] = {}
        for g in self.devices:
            if g.id not in counts:
                order.append(g)
                counts[g.id] = 0
            counts[g.id] += 1
        return tuple((g, counts[g.id]) for g in order)

    @property
    def mixed(self) -> bool:
        return len(self.kinds) > 1

    def words(self) -> str:
        """"NVIDIA GeForce RTX 3090 + 2 × NVIDIA GeForce RTX 3060 12GB"."""
        return " + ".join(f"{n} × {g.name}" if n > 1 else g.name for g, n in self.kinds)

    def spec(self) -> str:
        """The set as the GPU argument writes it: "rtx-3090,2x rtx-3060-12gb"."""
        return ",".join(f"{n}x {g.id}" if n > 1 else g.id for g, n in self.kinds)

    def smallest(self) -> GPU:
        """The card with the least usable memory (then the least bandwidth, then the id)."""
        return min(self.devices, key=lambda g: (g.usable_memory_bytes, g.bandwidth_gb_s, g.id))

    def to_json(self) -> list[dict]:
        return [{"id": g.id, "name": g.name, "count": n, "memory_bytes": g.memory_bytes}
                for g, n in self.kinds]


@dataclass(frozen=True)
class CardShare:
    """One card's part of a layer split: bytes in memory and the layers it computes."""
    gpu: GPU
    first_layer: int
    layers: int               # repeating layers on this card
    output: bool              # the output layer (the last card's)
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int       # device context + compute buffer
    available_bytes: int      # what the card may allocate
    # overhead_bytes by part (overhead_parts' names: device_context, compute_buffer), for the
    # memory table's breakdown, which must add up to the cards' sum
    overhead_parts: tuple[tuple[str, int], ...] = ()

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes

    @property
    def headroom_bytes(self) -> int:
        return self.available_bytes - self.total_bytes

    def to_json(self) -> dict:
        return {"id": self.gpu.id, "first_layer": self.first_layer, "layers": self.layers,
                "output_layer": self.output, "weights_bytes": self.weights_bytes,
                "kv_cache_bytes": self.kv_cache_bytes, "overhead_bytes": self.overhead_bytes,
                "total_bytes": self.total_bytes, "available_bytes": self.available_bytes,
                "headroom_bytes": self.headroom_bytes}


@dataclass(frozen=True)
class MixedSplit:
    cards: tuple[CardShare, ...]
    tensor_split: tuple[float, ...]   # the -ts values: GiB of free memory a card, or the user's
    asked: str | None = None          # the user's -ts as given ("3,1,1"); None: by free memory

    @property
    def headroom_bytes(self) -> int:
        """The tightest card's free memory (negative: that card does not hold its share)."""
        return min(s.headroom_bytes for s in self.cards)

    @property
    def per_gpu_bytes(self) -> int:
        return max(s.total_bytes for s in self.cards)

    @property
    def fits(self) -> bool:
        return all(s.headroom_bytes >= c.FIT_MARGIN_BYTES_PER_GPU for s in self.cards)

    def ts_arg(self) -> str:
        """-ts as printed: the user's as given, else the free memory "23.5,11.5,11.5" (1 a card
        for cards of one kind, the same split: default_ts_arg)."""
        if self.asked is not None:
            return self.asked
        if len({s.gpu.id for s in self.cards}) == 1:
            return ",".join(["1"] * len(self.cards))
        return ts_text(self.tensor_split)


def ts_text(values: tuple[float, ...]) -> str:
    """-ts values as llama.cpp reads them: "23.5,11.5,11.5"."""
    return ",".join(f"{v:g}" for v in values)


def free_memory_bytes(gpu: GPU) -> int:
    """What llama.cpp sees free on a card when it splits: usable memory less its device context."""
    from advisor.sizing.runtime import llamacpp_device_context_bytes

    return gpu.usable_memory_bytes - llamacpp_device_context_bytes(gpu)


def tensor_split(gset: GpuSet) -> tuple[float, ...]:
    """The -ts values a set gets: each card's free memory in GiB, one decimal. A card whose
    device context takes all its memory (a user KB card of a few hundred MiB) has nothing free:
    0, as llama.cpp would read it, never a negative share; when no card has a tenth of a GiB free,
    one a card (the set holds no layer either way, and the sizing says which card is short)."""
    free = tuple(max(0.0, round(free_memory_bytes(g) / GIB, 1)) for g in gset.devices)
    return free if any(free) else tuple(1.0 for _ in gset.devices)


def default_ts_arg(gset: GpuSet) -> str:
    """The -ts a plan prints for a set without the user's split: each card's free GiB for
    unequal cards, 1 a card for cards of one kind (the same split)."""
    return ts_text(tensor_split(gset)) if gset.mixed else ",".join(["1"] * gset.count)


def split_layers(model: Model, gset: GpuSet, text: str | None) -> tuple[int, ...]:
    """The device of each of `model`'s layers, then of its output layer, under the -ts `text`
    (None: llama.cpp's split by free memory, tensor_split), as llama.cpp assigns its slots
    (layer_devices over the GGUF's blocks, llama_blocks; a trailing block, which holds nothing
    loaded, is left out): two splits are the same split when these are equal ("-ts 1,1" and
    "-ts 23.6,23.6" on two cards of one kind)."""
    blocks = llama_blocks(model)
    where = _slots(tuple(split_weights(text) if text is not None else tensor_split(gset)), blocks)
    return where[:model.architecture.layers] + (where[blocks],)


def llama_blocks(model: Model) -> int:
    """The blocks llama.cpp splits over the devices before the output layer: the model's
    layers and its GGUF's trailing blocks (advisor.sizing.offload.gguf_trailing_blocks:
    GLM-4.5-Air's 46 and its NextN block, 47), so that -ts shares fall on the slots llama.cpp
    assigns them (layer_devices(weights, llama_blocks(model)))."""
    from advisor.sizing.offload import ngl_all

    return ngl_all(model) - 1


def split_weights(text: str) -> tuple[float, ...]:
    """The user's -ts text ("3,1,1", or with llama.cpp's other separator "3/1/1") as the
    proportions it states (layer_devices rounds them to float32 as llama.cpp's std::stof does).
    The text is assumed checked (plain non-negative decimal numbers: advisor.advise checks it);
    raises ValueError otherwise."""
    items = [t for t in text.replace("/", ",").split(",") if t]
    return tuple(float(t) for t in items)


def _f32(x: float) -> float:
    """x rounded to IEEE float32, as a C float holds it. A float32 sum or quotient computed in
    float64 and rounded so is the correctly rounded float32 result (float64 keeps more than
    twice float32's 24 bits), so this reproduces llama.cpp's float arithmetic exactly."""
    return struct.unpack("f", struct.pack("f", x))[0]


def layer_devices(weights: tuple[float, ...], layers: int) -> list[int]:
    """The device index of each layer slot 0 .. layers (the last being the output layer), as
    llama.cpp assigns them from -ts weights with every layer offloaded (src/llama-model.cpp,
    load_tensors): split points s_i = (w_0 + ... + w_i) / sum(w), then slot il goes to the
    first device with s_i > il / (layers + 1) (std::upper_bound), all in float32 as llama.cpp
    computes them. A device of weight 0 gets no slot; the output layer (il = layers) goes to
    the last device of positive weight. Raises ValueError on a negative or non-finite weight
    or when none is positive."""
    if not weights or any(not 0 <= w < float("inf") for w in weights) or not any(weights):
        raise ValueError(f"tensor split weights must be non-negative, one positive: {weights}")
    w32 = [_f32(w) for w in weights]
    run, points = 0.0, []
    for w in w32:
        run = _f32(run + w)
        points.append(run)
    points = [_f32(p / run) for p in points]
    slots = layers + 1
    out = []
    for il in range(slots):
        x = _f32(il / slots)
        i = next((k for k, p in enumerate(points) if p > x), len(points) - 1)
        out.append(i)
    return out


@functools.lru_cache(maxsize=1024)
def _slots(weights: tuple[float, ...], layers: int) -> tuple[int, ...]:
    """layer_devices, memoised (pure in its arguments): fit sizes every model over one set at
    a dozen formats and contexts, each the same split of the same layers."""
    return tuple(layer_devices(weights, layers))


def _layer_bytes(model: Model, precision: Precision) -> tuple[list[int], dict[str, int]]:
    """Each repeating layer's bytes (scaled to a file's own total when the model was read from
    one) and model_weights' breakdown."""
    from advisor.sizing.memory import model_weights
    from advisor.sizing.weights import weight_summary

    a = model.architecture
    w, _, _ = model_weights(model, precision)
    s = weight_summary(a, precision)
    per = [d + e for d, e in zip(s.dense_per_layer, s.experts_per_layer)]
    summed = sum(per) or 1
    if summed != w["layers"]:
        per = [p * w["layers"] // summed for p in per]
    return per, w


def mixed_split(model: Model, precision: Precision, work: Workload, gset: GpuSet,
                context_tokens: int | None = None, kv_dtype: str | None = None) -> MixedSplit:
    """llama.cpp's layer split of every layer over the set (module docstring), at the workload's
    context and KV precision unless given."""
    from advisor.sizing.runtime import overhead_parts

    a = model.architecture
    ctx = work.context_tokens if context_tokens is None else context_tokens
    kv_dtype = kv_dtype or work.kv_cache_dtype
    asked = work.tensor_split
    ts = split_weights(asked) if asked is not None else tensor_split(gset)
    if len(ts) != gset.count:
        raise ValueError(f"-ts {asked} gives {len(ts)} values for {gset.count} cards")
    # llama.cpp's slots: the layers, a GGUF's trailing blocks (which hold nothing loaded), then
    # the output layer, the last
    blocks = llama_blocks(model)
    where = _slots(tuple(ts), blocks)
    per, w = _layer_bytes(model, precision)
    rt = work.runtime if work.runtime in c.GGML_RUNTIMES else "llama.cpp"
    kv = kv_cache_bytes(a, ctx, work.batch, kv_dtype, rt, gset.count)
    out_bytes = w["output"] + (w["embedding"] if a.tied_embeddings else 0)
    ubatch = None
    if rt == "ollama":  # its automatic batch, from the whole model against the whole set
        from advisor.sizing.ollama import automatic_ubatch

        ubatch = automatic_ubatch(a, ctx * work.batch, sum(per) + out_bytes, gset.devices,
                                  gset.count, work.flash_attn)
    cards = []
    for i, g in enumerate(gset.devices):
        mine = [il for il in range(a.layers) if where[il] == i]
        output = where[blocks] == i
        weights = sum(per[il] for il in mine) + (out_bytes if output else 0)
        kv_i = kv * len(mine) // a.layers
        over = overhead_parts(a, rt, 1, work.prompt_tokens, work.batch, weights, kv_i,
                              ctx, g, flash_attn=work.flash_attn, ubatch=ubatch)
        if not mine and not output:  # a -ts 0 card: the backend's context, no graph to run
            over = {"device_context": over["device_context"]}
        cards.append(CardShare(g, mine[0] if mine else -1, len(mine), output, weights, kv_i,
                               sum(over.values()), g.usable_memory_bytes, tuple(over.items())))
    return MixedSplit(tuple(cards), ts, asked)


def mixed_max_context(model: Model, precision: Precision, work: Workload, gset: GpuSet,
                      kv_dtype: str | None = None) -> int:
    """Largest context (up to the model's context_limit) at which every card keeps llama.cpp's
    margin free; 0 when one token does not fit."""
    from advisor.sizing.context import largest_within

    margin = c.FIT_MARGIN_BYTES_PER_GPU

    def short(ctx: int) -> int:  # the largest shortfall below the margin over the cards
        split = mixed_split(model, precision, work, gset, ctx, kv_dtype)
        return max(margin - s.headroom_bytes for s in split.cards)

    if short(1) > 0:
        return 0
    return largest_within(1, model.context_limit, short, 0)


def mixed_decode_seconds(split: MixedSplit, model: Model, precision: Precision,
                         context_tokens: int, kv_dtype: str, era: str | None = None) -> float:
    """Seconds a token (one sequence, `context_tokens` cached): each card's layers at its own
    decode profile (gpu_decode_seconds), one card after another, plus a hop a boundary. The
    layer counts are the split's own (the user's -ts where given); a card with no layers (-ts 0)
    is not visited."""
    from advisor.sizing.speed import active_compute_parameters, active_weight_bytes, gpu_decode_seconds

    a = model.architecture
    layers_b, out_b = active_weight_bytes(a, precision)
    quantized = precision.family != "float"
    elements = active_compute_parameters(a) if quantized and precision.family == "gguf" else 0
    kv = kv_cache_bytes(a, context_tokens, 1, kv_dtype)
    streamed = layers_b + out_b
    total = 0.0
    for k, s in enumerate(_working(split)):
        read = layers_b * s.layers // a.layers + (out_b if s.output else 0)
        total += gpu_decode_seconds(s.gpu, read, kv * s.layers // a.layers, s.layers, quantized,
                                    1 if k else 0,
                                    elements * read // streamed if elements and streamed else None,
                                    era)
    return total


def mixed_roofline_tokens_per_s(split: MixedSplit, model: Model, precision: Precision) -> float:
    """The physical ceiling: each card's active bytes at its spec bandwidth, one after another."""
    from advisor.sizing.speed import active_weight_bytes

    a = model.architecture
    layers_b, out_b = active_weight_bytes(a, precision)
    seconds = sum((layers_b * s.layers // a.layers + (out_b if s.output else 0))
                  / (s.gpu.bandwidth_gb_s * 1e9) for s in split.cards)
    return 1.0 / seconds if seconds > 0 else 0.0


def mixed_prefill_tokens_per_s(split: MixedSplit, model: Model, precision: Precision,
                               prompt_tokens: int, quantized_weight_bytes: int | None,
                               runtime: str = "llama.cpp") -> float | None:
    """Prompt tokens a second: each card computes its share of the layers at its own prefill
    rate (prefill_seconds_per_token for the whole model, scaled by the share), and llama.cpp
    pipelines the micro-batches over the cards (pipeline_speedup). None where a card has no
    compute figures."""
    from advisor.sizing.speed import pipeline_speedup, prefill_seconds_per_token

    a = model.architecture
    seconds = 0.0
    for s in _working(split):
        one = prefill_seconds_per_token(s.gpu, a, precision, prompt_tokens, quantized_weight_bytes,
                                        runtime)
        if one is None:
            return None
        seconds += one * s.layers / a.layers
    if seconds <= 0:
        return None
    return pipeline_speedup(prompt_tokens, split_count(split)) / seconds


def _working(split: MixedSplit) -> list[CardShare]:
    """The cards that hold layers or the output layer (a -ts 0 card holds neither)."""
    return [s for s in split.cards if s.layers or s.output]


def split_count(split: MixedSplit) -> int:
    """Pipeline stages: the cards that compute part of a token."""
    return len(_working(split))
