"""CPU offload with llama.cpp: which layers stay on the GPU (-ngl), what system RAM holds, speed.

llama.cpp puts the last n_gpu_layers repeating layers on the GPU and the first ones in system
RAM; the output layer goes to the GPU only when -ngl exceeds the layer count, so under partial
offload it is computed by the CPU too (src/llama-model.cpp load_tensors: i_gpu_start =
max(n_layer - n_gpu_layers, 0), act_gpu_layers = min(n_gpu_layers, n_layer + 1), the output
layer being slot n_layer). n_layer there is the GGUF's block count, which for GLM-4.5 holds a
trailing NextN block after the model's layers (gguf_trailing_blocks): -ngl counts it, so a -ngl
(a user's, Workload.gpu_layers, or a plan's) is converted to the layers placed in one place,
gpu_layers_of_ngl, and back with llamacpp_ngl. The token embedding table always stays in system RAM. Layers in RAM
are computed by the CPU, reading their weights and KV cache at RAM bandwidth, one after the
GPU's layers each token. vLLM does not offload layers.

On a Mac (unified memory) the same split keeps the GPU's layers within Metal's working set
(GPU.usable_memory_bytes: the default share, or a raised `iogpu.wired_limit_mb`,
advisor.sizing.wired) and the rest outside it, in the same memory: one pool, so the GPU's part
and the CPU's together must leave macOS its reserve (wired.macos_split_reserve_bytes), and the CPU
reads its layers at the CPU side's bandwidth (mac_cpu_bandwidth_gb_s).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from advisor.kb.schema import GPU, Model
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.memory import memory_total_bytes, model_weights
from advisor.sizing.overhead import fit_margin_bytes, overhead_bytes
from advisor.sizing import constants as c
from advisor.sizing.precision import Precision
from advisor.sizing.speed import (
    active_weight_bytes,
    cpu_decode_seconds,
    gpu_decode_seconds,
    moe_decode_seconds,
    moe_layers,
)
from advisor.sizing.weights import weight_summary
from advisor.sizing.wired import macos_split_reserve_bytes
from advisor.sizing.workload import Workload


@dataclass(frozen=True)
class Offload:
    gpu_layers: int              # repeating layers on the GPU (the output layer not counted)
    cpu_layers: int              # repeating layers in system RAM (the output layer is there too)
    ram_bytes: int               # system RAM: those layers' weights and KV, output and embedding
    decode_tokens_per_s: float
    gpu_bytes: int = 0           # on the GPU: its layers' weights and KV, and llama.cpp's overhead
    ram_fits: bool = True
    decode_tokens_per_s_full_context: float = 0.0
    gpu_weights_bytes: int = 0   # the weights of the GPU's layers
    decode_roofline_tokens_per_s: float = 0.0  # GPU bandwidth for its layers, RAM's for the rest
    # llama.cpp's -ngl of this split, in its count (gpu_layers_of_ngl): the user's own N where the
    # split is the one they asked (work.gpu_layers), else llamacpp_ngl(gpu_layers)
    ngl: int = 0



def gguf_trailing_blocks(model) -> int:
    """Blocks a published GGUF of `model` holds after its layers (constants.GGUF_TRAILING_BLOCKS,
    by Hugging Face class: GLM-4.5's NextN block), which llama.cpp counts among the slots -ngl
    and -ts address but loads nothing of; 0 for other models."""
    return c.GGUF_TRAILING_BLOCKS.get(getattr(model, "hf_architecture", None) or "", 0)


def ngl_all(model) -> int:
    """llama.cpp's -ngl that puts everything on the GPU: every block of the GGUF (the model's
    layers and its trailing blocks, gguf_trailing_blocks) and then the output layer, its last
    slot (GLM-4.5-Air: 46 + 1 + 1 = 48; Llama 3.1 8B: 33). llama.cpp reads a larger -ngl as this."""
    return model.architecture.layers + gguf_trailing_blocks(model) + 1


def gpu_layers_of_ngl(model, ngl: int | None) -> int | None:
    """The model's repeating layers on the GPU under llama.cpp's -ngl N, N counted as llama.cpp
    counts it (Workload.gpu_layers, a user's --n-gpu-layers; Plan.n_gpu_layers): it offloads the
    last N of its slots, the GGUF's blocks (the trailing ones after the layers too) then the
    output layer (src/llama-model.cpp: i_gpu_start = max(n_block - N, 0); the output layer only
    when N > n_block). So N up to layers + trailing keeps max(N - trailing, 0) layers on the GPU
    and the output layer in RAM (GLM-4.5-Air: -ngl 1 puts only the NextN block there, no layer;
    -ngl 47 every layer, the output layer in RAM); None for every layer and the output layer on
    the GPU (N None, or N at least ngl_all). The one conversion from llama.cpp's count to the
    placement sized here; llamacpp_ngl is its inverse."""
    if ngl is None or ngl >= ngl_all(model):
        return None
    return max(int(ngl) - gguf_trailing_blocks(model), 0)


def llamacpp_ngl(model, gpu_layers: int | None) -> int:
    """llama.cpp's -ngl that keeps `gpu_layers` repeating layers on the GPU (None, or more than
    the layers: everything, ngl_all): 0 for none, else the layers and the GGUF's trailing blocks
    after them (gpu_layers + trailing), the output layer staying in RAM. The inverse of
    gpu_layers_of_ngl (gpu_layers_of_ngl(m, llamacpp_ngl(m, g)) == g), for the -ngl a plan
    prints; a user's own -ngl is echoed as given (Offload.ngl), since -ngl 0 and -ngl 1 both
    keep no layer of GLM-4.5 on the GPU."""
    if gpu_layers is None or gpu_layers > model.architecture.layers:
        return ngl_all(model)
    return int(gpu_layers) + gguf_trailing_blocks(model) if gpu_layers > 0 else 0


def mac_cpu_bandwidth_gb_s(gpu: GPU) -> float:
    """GB/s the CPU cores of a Mac read its unified memory at, for llama.cpp's CPU layers: the
    chip's bandwidth, at most constants.APPLE_CPU_BANDWIDTH_CAP_GB_S (the CPU cores of the Max
    and Ultra chips do not reach the GPU's bandwidth; uncalibrated beyond the Pro chips' runs
    quoted there). cpu_decode_seconds then applies CPU_BANDWIDTH_FRACTION to it, as to a PC's
    RAM. Raises ValueError on a discrete GPU."""
    if not gpu.unified_memory:
        raise ValueError(f"{gpu.id} has no unified memory")
    return min(float(gpu.bandwidth_gb_s), c.APPLE_CPU_BANDWIDTH_CAP_GB_S)


def ram_bandwidth_for(gpu: GPU, work: Workload) -> float:
    """The bandwidth (GB/s) llama.cpp's CPU layers are read at: a Mac's CPU side
    (mac_cpu_bandwidth_gb_s), else the system RAM's the workload gives (--ram-bandwidth)."""
    return mac_cpu_bandwidth_gb_s(gpu) if gpu.unified_memory else work.ram_bandwidth_gb_s


def ram_limit_bytes(gpu: GPU, work: Workload, gpu_bytes: int) -> int:
    """What may hold the CPU's part of a split: the system RAM given (--ram), or on a Mac the
    unified memory less macOS's reserve (advisor.sizing.wired.macos_split_reserve_bytes) less what the
    GPU's part takes from the same memory (never negative)."""
    if not gpu.unified_memory:
        return work.ram_bytes
    return max(gpu.memory_bytes - macos_split_reserve_bytes(gpu) - gpu_bytes, 0)


def partial_offload(model: Model, work: Workload) -> bool:
    """The workload asks llama.cpp for fewer than all layers on the GPU (a -ngl N below
    ngl_all: the output layer, llama.cpp's last slot, in RAM; gpu_layers_of_ngl)."""
    return gpu_layers_of_ngl(model, work.gpu_layers) is not None


def plan_offload(model: Model, gpu: GPU, precision: Precision, work: Workload,
                 ram_bandwidth_gb_s: float | None = None,
                 gpu_layers: int | None = None) -> Offload | None:
    """Whole repeating layers (weights and their KV) on the GPU, the rest and the output layer in
    system RAM, as llama.cpp's -ngl N below ngl_all places them. gpu_layers (repeating layers,
    not llama.cpp's count) None: the workload's (work.gpu_layers, a user's -ngl, read by
    gpu_layers_of_ngl and echoed as Offload.ngl), else the most the GPU holds with llama.cpp's
    margin (None when everything fits, or not one layer does); given (0 to layers; layers keeps
    only the output layer in RAM), that split, with gpu_bytes that may not fit. GPU bytes are
    advisor.sizing.memory's at that layer count (memory_total_bytes with work.gpu_layers), so a
    -ngl question and its plan agree. On unified memory (a Mac) the GPU's budget is its working
    set (gpu.usable_memory_bytes, a raised wired limit included), the CPU's layers are read at
    mac_cpu_bandwidth_gb_s, and ram_fits asks that both parts together leave macOS its reserve
    (ram_limit_bytes: one memory, counted once). None under a runtime that does not offload
    (vLLM; on a Mac, MLX). Raises ValueError for gpu_layers outside 0..layers."""
    if work.runtime in c.TENSOR_PARALLEL_RUNTIMES or (gpu.unified_memory
                                                      and work.runtime not in c.GGML_RUNTIMES):
        return None
    ram_bw = ram_bandwidth_gb_s or ram_bandwidth_for(gpu, work)
    a = model.architecture
    ngl = None  # the user's own -ngl, where the split is theirs
    if gpu_layers is None and partial_offload(model, work):
        gpu_layers, ngl = gpu_layers_of_ngl(model, work.gpu_layers), work.gpu_layers
    w, _, _ = model_weights(model, precision)
    ctx = work.context_tokens
    full = replace(work, gpu_layers=None)
    kv_layer = kv_cache_bytes(a, ctx, work.batch, work.kv_cache_dtype, "llama.cpp") // a.layers
    over = memory_total_bytes(model, precision, replace(full, gpu_layers=0), 1, ctx,
                              work.kv_cache_dtype, gpu)  # the overhead alone: no layer on the GPU
    if gpu_layers is None:
        layer = w["largest_layer"] + kv_layer
        budget = gpu.usable_memory_bytes - over - fit_margin_bytes()
        if budget < layer:
            return None
        if budget - w["output"] >= a.layers * layer:
            return None  # everything fits, the output layer too: no offload needed
        gpu_layers = min(a.layers - 1, budget // layer)  # the output layer is the CPU's
    elif not 0 <= gpu_layers <= a.layers:
        raise ValueError(f"gpu_layers {gpu_layers} outside 0..{a.layers}")
    gpu_layers = int(gpu_layers)
    if ngl is None:
        ngl = llamacpp_ngl(model, gpu_layers)
    cpu_layers = a.layers - gpu_layers
    mean_layer = w["layers"] // a.layers
    cpu_bytes = cpu_layers * (mean_layer + kv_layer)
    # memory_total_bytes reads work.gpu_layers in llama.cpp's count, as a user's -ngl
    gpu_bytes = memory_total_bytes(model, precision, replace(full, gpu_layers=ngl), 1, ctx,
                                   work.kv_cache_dtype, gpu)
    act_layers, act_out = active_weight_bytes(a, precision)
    act_layer = act_layers // a.layers

    def speed(c: int) -> float:
        return 1.0 / offload_decode_seconds(model, gpu, precision, work.kv_cache_dtype, gpu_layers,
                                            c, ram_bw)

    roofline = 1.0 / (gpu_layers * act_layer / (gpu.bandwidth_gb_s * 1e9)
                      + (cpu_layers * act_layer + act_out) / (ram_bw * 1e9))
    ram = cpu_bytes + w["output"] + w["embedding"]
    return Offload(gpu_layers=gpu_layers, cpu_layers=int(cpu_layers), ram_bytes=ram,
                   decode_tokens_per_s=speed(0), gpu_bytes=gpu_bytes,
                   ram_fits=ram <= ram_limit_bytes(gpu, work, gpu_bytes),
                   decode_tokens_per_s_full_context=speed(ctx),
                   gpu_weights_bytes=gpu_layers * mean_layer,
                   decode_roofline_tokens_per_s=roofline, ngl=int(ngl))


def offload_decode_seconds(model: Model, gpu: GPU, precision: Precision, kv_cache_dtype: str,
                           gpu_layers: int, context_tokens: int, ram_bandwidth_gb_s: float) -> float:
    """Seconds a token (one sequence, `context_tokens` cached) with `gpu_layers` repeating layers
    on the GPU and the rest, with the output layer, computed by the CPU from system RAM: the
    GPU's layers at its decode profile (advisor.sizing.speed.gpu_decode_seconds), then the
    CPU's at CPU_BANDWIDTH_FRACTION of the RAM bandwidth (cpu_decode_seconds), one after the
    other each token (llama.cpp runs the layers in order)."""
    a = model.architecture
    cpu_layers = a.layers - gpu_layers
    act_layers, act_out = active_weight_bytes(a, precision)
    act_layer = act_layers // a.layers
    kv_l = kv_cache_bytes(a, context_tokens, 1, kv_cache_dtype) // a.layers
    gpu_moe = min(gpu_layers, moe_layers(a))
    return (gpu_decode_seconds(gpu, gpu_layers * act_layer, gpu_layers * kv_l, gpu_layers,
                               precision.family != "float")
            + moe_decode_seconds(a, None, gpu_moe)
            + cpu_decode_seconds(cpu_layers * act_layer + act_out, cpu_layers * kv_l,
                                 ram_bandwidth_gb_s, cpu_layers))


@dataclass(frozen=True)
class ExpertCard:
    """One card's share of an expert offload over equal cards (llama.cpp -sm layer)."""
    first_layer: int             # its first repeating layer
    layers: int                  # repeating layers it holds (their dense weights, KV cache and
                                 # the routed experts not kept in RAM)
    output: bool                 # the output layer (llama.cpp's last layer slot: the last card's)
    bytes: int                   # all it allocates: those weights, KV, overhead

    @property
    def slots(self) -> int:
        """Its llama.cpp layer slots, the -ts count (the output layer is slot n_layer)."""
        return self.layers + int(self.output)


@dataclass(frozen=True)
class ExpertOffload:
    cpu_moe_layers: int          # MoE layers whose routed experts are in RAM (the first ones)
    moe_layers: int
    ram_bytes: int
    gpu_bytes: int               # the busiest card's bytes
    ram_fits: bool
    decode_tokens_per_s: float
    n_cpu_moe: int = 0           # llama.cpp --n-cpu-moe: blocks 0..N-1, leading dense ones too
    cards: tuple[ExpertCard, ...] = ()  # per card, in device order (one card: the whole model)
    # blocks the GGUF holds after the layers (constants.GGUF_TRAILING_BLOCKS): slots of the last
    # card that hold nothing
    trailing_slots: int = 0

    @property
    def total_gpu_bytes(self) -> int:
        """What all the cards allocate together."""
        return sum(k.bytes for k in self.cards) if self.cards else self.gpu_bytes

    def ts_arg(self) -> str | None:
        """llama.cpp's -ts over the cards: each card's layer slots ("22,25"), the GGUF's trailing
        blocks (trailing_slots) counted on the last card; None on one card. With counts that sum
        to llama.cpp's slots (its n_layer + 1), its split points fall on whole slots, so each
        card gets exactly its count (advisor.sizing.mixed.layer_devices)."""
        if len(self.cards) < 2:
            return None
        counts = [k.slots for k in self.cards]
        counts[-1] += self.trailing_slots
        return ",".join(map(str, counts))


def _expert_cards(dense: tuple[int, ...], experts: tuple[int, ...], on_gpu: list[bool], out: int,
                  kv: int, per_card: int, gpus: int, cap: int | None
                  ) -> tuple[ExpertCard, ...] | None:
    """llama.cpp's layer split of the slots 0..n_layer (the last being the output layer) over
    `gpus` cards in order, each card a contiguous run of at least one slot: the split whose
    busiest card allocates least (its bytes at most `cap` where given, else None). A card's
    bytes: its layers' dense weights, their routed experts where on_gpu, its share of the KV
    cache (kv x its layers // n_layer), the output layer on the last card, and `per_card`."""
    n = len(dense)
    pre = [0]
    for i in range(n):
        pre.append(pre[-1] + dense[i] + (experts[i] if on_gpu[i] else 0))

    def card_bytes(s: int, e: int) -> int:  # slots s..e-1
        lay = min(e, n) - s
        return pre[min(e, n)] - pre[s] + kv * lay // n + (out if e == n + 1 else 0) + per_card

    def greedy(limit: int) -> list[int] | None:
        """Split ends, filling each card up to limit in order; None if it needs more cards."""
        ends, s = [], 0
        for k in range(gpus):
            if s == n + 1:
                return None  # a card left with no slot
            last = n + 1 - (gpus - 1 - k)  # leave one slot to each later card
            if card_bytes(s, s + 1) > limit:
                return None
            lo, hi = s + 1, last
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if card_bytes(s, mid) <= limit:
                    lo = mid
                else:
                    hi = mid - 1
            ends.append(lo)
            s = lo
        return ends if s == n + 1 else None

    top = card_bytes(0, n + 1)
    if cap is not None and greedy(cap) is None:
        return None
    lo, hi = 0, top if cap is None else min(top, cap)
    while lo < hi:  # the least limit at which the split exists: the busiest card's bytes
        mid = (lo + hi) // 2
        if greedy(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    ends, s, cards = greedy(lo), 0, []
    for e in ends:
        cards.append(ExpertCard(s, min(e, n) - s, e == n + 1, card_bytes(s, e)))
        s = e
    return tuple(cards)


def plan_expert_offload(model: Model, gpu: GPU, precision: Precision,
                        work: Workload, gpu_count: int = 1) -> ExpertOffload | None:
    """MoE with llama.cpp: dense weights (attention, router, shared experts, output) and the KV
    cache on the GPU, routed experts of the first N MoE layers in system RAM (--n-cpu-moe, or
    -ot "blk\\.(0|..|N-1)\\.ffn_.*_exps=CPU"), N the fewest at which every card keeps
    llama.cpp's margin (fit_margin_bytes) beside its overhead (overhead_bytes, one card's, on
    each). A token reads only its active experts, so RAM bandwidth hurts far less than
    offloading whole layers.

    On gpu_count equal cards (llama.cpp -sm layer) each card holds whole layers in order, the
    output layer on the last (src/llama-model.cpp load_tensors; advisor.sizing.mixed), and
    --n-cpu-moe takes the experts of the first layers only, so the first card loses more than
    the others: the split (-ts, ExpertOffload.ts_arg, layer slots a card) is the one whose
    busiest card allocates least (_expert_cards), and the speed is
    expert_offload_decode_seconds over the cards. None for dense models, under vLLM, on
    unified memory, when it fits without, or when the dense part alone does not fit."""
    a = model.architecture
    if (not a.experts_total or work.runtime in c.TENSOR_PARALLEL_RUNTIMES or gpu.unified_memory
            or gpu_count < 1):
        return None
    w = weight_summary(a, precision)
    dense, experts, out = w.dense_per_layer, w.experts_per_layer, w.output
    kv = kv_cache_bytes(a, work.context_tokens, work.batch, work.kv_cache_dtype)
    cap = gpu.usable_memory_bytes - fit_margin_bytes()
    moe_layers = [i for i in range(a.layers) if experts[i]]
    on_gpu = [True] * a.layers
    cards = None
    n = 0
    while True:
        cards = _expert_cards(dense, experts, on_gpu, out, kv, overhead_bytes(a), gpu_count, cap)
        if cards is not None or n == len(moe_layers):
            break
        on_gpu[moe_layers[n]] = False
        n += 1
    if n == 0 or cards is None:
        return None
    cpu_experts = sum(experts[i] for i in moe_layers[:n])
    seconds = expert_offload_decode_seconds(model, gpu, precision, n, work.ram_bandwidth_gb_s,
                                            gpu_count)
    ram = cpu_experts + w.embedding
    gpu_bytes = max(k.bytes for k in cards)
    total = sum(k.bytes for k in cards)
    return ExpertOffload(cpu_moe_layers=n, moe_layers=len(moe_layers), ram_bytes=ram,
                         gpu_bytes=gpu_bytes,
                         ram_fits=ram <= ram_limit_bytes(gpu, work, total),
                         decode_tokens_per_s=1.0 / seconds, n_cpu_moe=moe_layers[n - 1] + 1,
                         cards=cards,
                         trailing_slots=gguf_trailing_blocks(model))


def expert_offload_decode_seconds(model: Model, gpu: GPU, precision: Precision,
                                  cpu_moe_layers: int, ram_bandwidth_gb_s: float,
                                  gpu_count: int = 1) -> float:
    """Seconds a token (one sequence) with the routed experts of the first `cpu_moe_layers` MoE
    layers in system RAM and everything else on the GPU (llama.cpp --n-cpu-moe; see
    llamacpp_cpu_moe_layers for its layer count): the GPU reads the dense weights, the output
    head and its layers' active experts at its decode profile, every MoE layer's router and sum
    run there (MUL_MAT_ID only where the experts are), and the CPU reads the active share of its
    layers' experts at CPU_BANDWIDTH_FRACTION of the RAM bandwidth, one after the other each
    token. On gpu_count equal cards (llama.cpp -sm layer) a token passes the cards one after
    another, so the GPU part is the same one-card time (each card reads its own layers at the
    card's bandwidth) plus a hop a card boundary (gpu_decode_seconds' hops). Raises ValueError for a dense model or cpu_moe_layers outside 0..MoE layers."""
    a = model.architecture
    w = weight_summary(a, precision)
    moe = [i for i in range(a.layers) if w.experts_per_layer[i]]
    if not moe:
        raise ValueError(f"{model.id} has no routed experts to keep in RAM")
    if not 0 <= cpu_moe_layers <= len(moe):
        raise ValueError(f"cpu_moe_layers {cpu_moe_layers} outside 0..{len(moe)}")
    experts = w.experts_per_layer
    cpu_experts = sum(experts[i] for i in moe[:cpu_moe_layers])
    share = a.experts_active / a.experts_total
    gpu_read = sum(w.dense_per_layer) + w.output + int(share * (sum(experts) - cpu_experts))
    quantized = precision.family != "float"
    return (gpu_decode_seconds(gpu, gpu_read, 0, a.layers, quantized, max(gpu_count - 1, 0))
            + moe_decode_seconds(a, None, len(moe), len(moe) - cpu_moe_layers)
            + cpu_decode_seconds(int(share * cpu_experts), 0, ram_bandwidth_gb_s, cpu_moe_layers))


def llamacpp_cpu_moe_layers(model: Model, n_cpu_moe: int) -> int:
    """MoE layers whose experts llama.cpp's --n-cpu-moe N keeps in RAM: it matches the expert
    tensors of blocks 0..N-1 (common/arg.cpp), so dense blocks among them (the leading ones, and
    every other block of an interleaved model such as Llama 4 Maverick: Architecture.is_moe_layer)
    count towards N but hold no experts, and N past the last block means all."""
    a = model.architecture
    return sum(1 for i in range(min(n_cpu_moe, a.layers)) if a.is_moe_layer(i))
