"""Memory and speed of one placement (a model, a precision, N GPUs of one kind) and what fits.

Everything here is pure: inputs are KB entries and numbers, outputs are dataclasses. Bytes come
from advisor.sizing.memory.memory_parts; speed from advisor.sizing.speed; how several GPUs
split the work from advisor.sizing.parallel; CPU offload from advisor.sizing.offload.
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
from dataclasses import dataclass, replace

from advisor.kb.schema import GPU, Model
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.memory import MemoryParts, memory_parts
from advisor.sizing.offload import (offload_decode_seconds, partial_offload, plan_offload,
                                    ram_bandwidth_for)
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.parallel import Split, choose_split, split_decode_seconds, split_prefill_speedup
from advisor.sizing.precision import Precision, parse_precision
from advisor.sizing.speed import active_weight_bytes, prefill_seconds_per_token
from advisor.sizing.vllm_memory import vllm_tensor_parallel_size
from advisor.sizing.vllm_parallel import uses_layout, vllm_layout
from advisor.sizing.vllm_speed import vllm_step
from advisor.sizing.workload import Workload


def decode_era(runtime: str) -> str | None:
    """The speed profile a runtime's decode is timed with: llama.cpp's current build (None, the
    default era) for llama.cpp and Ollama (its engine), constants.OTHER_RUNTIMES_ERA for
    transformers. vLLM's decode is timed by its own step model (advisor.sizing.vllm_speed), not
    by an era."""
    return None if runtime in GGML_RUNTIMES else c.OTHER_RUNTIMES_ERA


def vllm_group(split: Split | None) -> tuple[int, int, int]:
    """(tensor parallel, pipeline stages, data-parallel replicas) of a vLLM split; a single GPU
    is (1, 1, 1)."""
    if split is None or split.kind != "tensor":
        return 1, 1, 1
    return split.tensor_parallel, split.pipeline_stages, split.data_parallel


def usable_memory_bytes(gpu: GPU) -> int:
    """What the GPU may allocate (GPU.usable_memory_bytes: all of a discrete card, the default
    working-set share of unified memory)."""
    return gpu.usable_memory_bytes


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
    model: Model | None = None
    gpu: GPU | None = None
    precision: Precision | None = None
    work: Workload | None = None
    split: Split | None = None
    # llama.cpp -ngl N below all its slots (work.gpu_layers; offload.partial_offload): the layer split, its RAM and speed
    # (advisor.sizing.offload.Offload); None when every layer is on the GPUs
    offload: object | None = None
    # a set of cards of more than one kind under llama.cpp: the per-card layer split
    # (advisor.sizing.mixed.MixedSplit); headroom is then the tightest card's and margin_bytes
    # one card's, so every verdict reads "every card fits"
    mixed: object | None = None

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes

    @property
    def headroom_bytes(self) -> int:
        if self.mixed is not None:
            return self.mixed.headroom_bytes
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

    def _kv_bytes_at(self, context_tokens: int) -> int:
        a = self.model.architecture
        return kv_cache_bytes(a, context_tokens, 1, self.work.kv_cache_dtype)

    def decode_seconds_per_token(self, context_tokens: int, era: str | None = None) -> float:
        """One sequence's seconds a token with context_tokens cached. era: the llama.cpp build
        profile (constants.LLAMACPP_ERAS; the current one by default); under vLLM with no era
        given, vLLM's decode step at batch 1 (advisor.sizing.vllm_speed)."""
        a = self.model.architecture
        if self.mixed is not None:  # llama.cpp's layer split over unequal cards
            from advisor.sizing.mixed import mixed_decode_seconds

            return mixed_decode_seconds(self.mixed, self.model, self.precision, context_tokens,
                                        self.work.kv_cache_dtype,
                                        decode_era(self.work.runtime) if era is None else era)
        if self.offload is not None:
            return offload_decode_seconds(self.model, self.gpu, self.precision,
                                          self.work.kv_cache_dtype, self.offload.gpu_layers,
                                          context_tokens, ram_bandwidth_for(self.gpu, self.work))
        if era is None and self.work.runtime in c.TENSOR_PARALLEL_RUNTIMES:
            tp, pp, _ = vllm_group(self.split)
            return vllm_step(self.gpu, a, self.precision, 1, self._kv_bytes_at(context_tokens),
                             tp, pp).seconds
        if era is None and self.work.runtime == "mlx":
            from advisor.sizing.mlx import mlx_decode_seconds

            layers_b, out_b = active_weight_bytes(a, self.precision)
            return mlx_decode_seconds(self.gpu, layers_b + out_b,
                                      self._kv_bytes_at(context_tokens), a.layers)
        if era is None:
            era = decode_era(self.work.runtime)
        return weights_decode_seconds(self.split, self.gpu, a, self.precision, self.work.runtime,
                                      self._kv_bytes_at(context_tokens), era)

    def decode_tokens_per_s(self, full_context: bool = False) -> float | None:
        """One sequence: at an empty cache, or with the whole context cached."""
        if self.headroom_bytes < 0:
            return None
        ctx = self.work.context_tokens if full_context else 0
        return 1.0 / self.decode_seconds_per_token(ctx)

    def prefill_tokens_per_s(self) -> float | None:
        if self.headroom_bytes < 0 or self.offload is not None:
            return None  # partial offload: not modelled (the plans give none either)
        a = self.model.architecture
        q = None if self.precision.family == "float" else self.weights_bytes
        if self.mixed is not None:
            from advisor.sizing.mixed import mixed_prefill_tokens_per_s

            return mixed_prefill_tokens_per_s(self.mixed, self.model, self.precision,
                                              self.work.prompt_tokens, q, self.work.runtime)
        s = prefill_seconds_per_token(self.gpu, a, self.precision, self.work.prompt_tokens, q,
                                      self.work.runtime)
        if s is None:
            return None
        return split_prefill_speedup(self.split, self.work.prompt_tokens) / s

    def time_to_first_token_s(self) -> float | None:
        """The prompt's prefill plus the first decode step."""
        pp = self.prefill_tokens_per_s()
        if pp is None:
            return None
        return self.work.prompt_tokens / pp + self.decode_seconds_per_token(self.work.prompt_tokens)


def place(model: Model, gpu: GPU, precision: Precision, work: Workload, gpus: int = 1,
          detail: bool = True, gpu_set=None) -> Placement:
    """All layers on `gpus` GPUs of one kind: llama.cpp's layer split (one card's bandwidth a
    token), or tensor parallel under vLLM. detail=False: no memory breakdown or notes.
    gpu_set: a set of cards of more than one kind (advisor.sizing.mixed.GpuSet, `gpu` its first
    device and `gpus` its count), under llama.cpp: every layer split over the cards by their
    free memory (mixed_split), each card checked on its own (other runtimes: the caller sizes
    the set as `gpus` of its smallest card, as vLLM's even split needs). With the user's
    --tensor-split (work.tensor_split) a set of one kind is sized the same way, card by card at
    the layers that split gives each (and so are the other plans on those cards, at the split by
    free memory: callers pass a set of one kind only then)."""
    if gpu_set is not None and work.runtime in GGML_RUNTIMES:
        return _place_mixed(model, precision, work, gpu_set, detail)
    m = memory_parts(model, precision, work, gpus, gpu.vendor, detail, gpu)
    a = model.architecture
    layers_b, out_b = active_weight_bytes(a, precision)
    streamed = layers_b + out_b  # the embedding table is a lookup, one row a token
    layout = None
    if uses_layout(work.runtime, work.data_parallel, work.expert_parallel):
        layout = vllm_layout(a, gpus, work.data_parallel, work.expert_parallel)
    split = choose_split(model, gpus, work.runtime, m, layout)
    off = None
    if partial_offload(model, work) and gpus == 1:
        off = plan_offload(model, gpu, precision, work)
    return Placement(
        weights_bytes=m.weights_bytes,
        kv_cache_bytes=m.kv_cache_bytes,
        overhead_bytes=m.overhead_bytes,
        available_bytes=usable_memory_bytes(gpu) * gpus,
        margin_bytes=fit_margin_bytes(gpus, work.runtime),
        decode_bytes_per_token_empty=streamed,
        decode_bytes_per_token_full=streamed + kv_cache_bytes(a, work.context_tokens, 1,
                                                                   work.kv_cache_dtype),
        bandwidth_gb_s=gpu.bandwidth_gb_s,
        parts=m, model=model, gpu=gpu, precision=precision, work=work, split=split, offload=off,
    )


def _place_mixed(model: Model, precision: Precision, work: Workload, gset, detail: bool) -> Placement:
    """place() over a set of unequal cards under llama.cpp, or Ollama's llama-server
    (advisor.sizing.mixed)."""
    from advisor.sizing.mixed import mixed_split

    gpu, n = gset.devices[0], gset.count
    m = memory_parts(model, precision, work, n, gpu.vendor, detail, gpu)
    if work.runtime == "ollama" and m.assumptions:  # Ollama sums the set's memory, not n x the first
        from advisor.sizing.ollama import assumptions as ollama_assumptions

        first = ollama_assumptions(gpu, n, work.flash_attn)
        mine = ollama_assumptions(gpu, n, work.flash_attn, gset.devices)
        m = replace(m, assumptions=tuple(mine[first.index(x)] if x in first else x
                                         for x in m.assumptions))
    ms = mixed_split(model, precision, work, gset)
    a = model.architecture
    layers_b, out_b = active_weight_bytes(a, precision)
    streamed = layers_b + out_b
    over = sum(s.overhead_bytes for s in ms.cards)
    if m.breakdown:  # the memory table's parts are the cards' (a -ts 0 card runs no graph)
        parts: dict[str, int] = {}
        for s in ms.cards:
            for k, v in s.overhead_parts:
                parts[f"overhead_{k}"] = parts.get(f"overhead_{k}", 0) + v
        b = {}
        for k, v in m.breakdown.items():
            if k == "overhead":
                b.update({"overhead": over, **parts})
            elif not k.startswith("overhead_"):
                b[k] = v
        m = replace(m, overhead_bytes=over, breakdown=b)
    split = Split("layer", n, 1, n, 1, ms.per_gpu_bytes, over // n, 1)
    return Placement(
        weights_bytes=sum(s.weights_bytes for s in ms.cards),
        kv_cache_bytes=sum(s.kv_cache_bytes for s in ms.cards),
        overhead_bytes=over,
        available_bytes=sum(g.usable_memory_bytes for g in gset.devices),
        margin_bytes=c.FIT_MARGIN_BYTES_PER_GPU,
        decode_bytes_per_token_empty=streamed,
        decode_bytes_per_token_full=streamed + kv_cache_bytes(a, work.context_tokens, 1,
                                                              work.kv_cache_dtype),
        bandwidth_gb_s=min(g.bandwidth_gb_s for g in gset.devices),
        parts=m, model=model, gpu=gpu, precision=precision, work=work, split=split, mixed=ms,
    )


_EMPTY_DECODE: dict = {}


def weights_decode_seconds(split: Split, gpu: GPU, a, precision: Precision, runtime: str,
                           kv_bytes: float, era: str | None) -> float:
    """One sequence's seconds a token on `split` outside vLLM's step model and llama.cpp's
    offload: the weights and `kv_bytes` of cache read at the card's bandwidth with the era's
    efficiency (advisor.sizing.parallel.split_decode_seconds). bitsandbytes formats under
    transformers take the 16-bit model's time divided by their measured share of it
    (constants.BITSANDBYTES_DECODE_SHARE): they dequantize every weight on the fly and decode
    slower than 16 bits, not faster as their bytes would say."""
    share = c.BITSANDBYTES_DECODE_SHARE.get(precision.name) if runtime == "transformers" else None
    if share is not None:
        layers_b, out_b = active_weight_bytes(a, parse_precision("bf16"))
        return split_decode_seconds(split, gpu, a, layers_b, out_b, kv_bytes, False, era,
                                    False) / share
    layers_b, out_b = active_weight_bytes(a, precision)
    return split_decode_seconds(split, gpu, a, layers_b, out_b, kv_bytes,
                                precision.family != "float", era, precision.family == "gguf")


def empty_decode_seconds(model: Model, gpu: GPU, precision: Precision, runtime: str, gpus: int,
                         data_parallel: int = 1) -> float:
    """Seconds a token at an empty cache, as Placement.decode_seconds_per_token(0) gives it,
    without sizing memory: the split's kind and tensor-parallel size depend only on the runtime,
    the GPU count and the heads (choose_split). Memoised on the model, card, format, runtime
    and count (the planner asks thousands of times). data_parallel > 1 (vLLM): a sequence
    decodes on one replica of gpus / data_parallel GPUs, tensor parallel over all of them (as
    choose_split's layout split)."""
    replica = runtime in c.TENSOR_PARALLEL_RUNTIMES and data_parallel > 1
    if replica:
        gpus //= data_parallel
    key = (id(model), id(gpu), precision, runtime, gpus, replica)
    hit = _EMPTY_DECODE.get(key)
    if hit is not None and hit[0] is model and hit[1] is gpu:
        return hit[2]
    a = model.architecture
    if gpus == 1:
        split = Split("single", 1, 1, 1, 1, 0, 0, 1)
    elif runtime in c.TENSOR_PARALLEL_RUNTIMES:
        tp = gpus if replica else vllm_tensor_parallel_size(a, gpus)
        split = Split("tensor", gpus, tp, gpus // tp, -(-gpus // c.GPUS_PER_NODE), 0, 0, 1)
    else:
        split = Split("layer", gpus, 1, gpus, -(-gpus // c.GPUS_PER_NODE), 0, 0, 1)
    if runtime in c.TENSOR_PARALLEL_RUNTIMES:
        tp, pp, _ = vllm_group(split)
        s = vllm_step(gpu, a, precision, 1, 0, tp, pp).seconds
    elif runtime == "mlx":
        from advisor.sizing.mlx import mlx_decode_seconds

        layers_b, out_b = active_weight_bytes(a, precision)
        s = mlx_decode_seconds(gpu, layers_b + out_b, 0, a.layers)
    else:
        s = weights_decode_seconds(split, gpu, a, precision, runtime, 0, decode_era(runtime))
    if len(_EMPTY_DECODE) > 1 << 16:
        _EMPTY_DECODE.clear()
    _EMPTY_DECODE[key] = (model, gpu, s)
    return s
