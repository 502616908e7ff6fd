"""Sizing a candidate into a plan: memory, context, speed, price, quality, command.

The one place plans are sized; every number comes from the sizing core (advisor.sizing): place()
for plans that sit on the GPUs, plan_offload / plan_expert_offload for llama.cpp's CPU offload,
max_context_tokens for the longest context that fits.
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
from dataclasses import dataclass, replace
from functools import lru_cache

from advisor.kb.schema import GPU, PRIMARY_BENCHMARK, Architecture, Model, with_fields
from advisor.plans import commands as cmd
from advisor.plans.objective import Objective
from advisor.plans.plan import Candidate, Plan, RankTerms
from advisor.plans.prices import rent_cost, rent_usd_per_hour
from advisor.plans.quality import QualityCost, quality_cost, weight_table
from advisor.plans.runtimes import RUNTIME_NAMES, default_runtime, half_fallback
from advisor.render import count, md_code, md_text
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.gguf_mix import REQUIRES_IMATRIX
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.memory import memory_total_bytes, model_weights_bytes, share_problem
from advisor.sizing.offload import (gpu_layers_of_ngl, ngl_all, partial_offload,
                                    plan_expert_offload, plan_offload)
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.plan import Placement, empty_decode_seconds, place
from advisor.sizing.precision import Precision, parse_precision
from advisor.sizing.serving import serving_at_batch
from advisor.sizing.tensors import active_parameter_count, parameter_count
from advisor.sizing.vllm_parallel import layout_problem, uses_layout
from advisor.sizing.weights import weights_bytes
from advisor.sizing.workload import Workload, is_reasoning, reasoning_context_tokens


# The choices a question may make (Ask.chosen): the weight format (--precision, a model file,
# an Ollama tag that names its quantization), the KV cache precision (--kv-cache), the context
# (--context), llama.cpp's flash attention (--flash-attn), its layer split (--n-gpu-layers) and
# its split over several GPUs (--tensor-split).
CHOICES = ("precision", "kv_cache", "context", "flash_attn", "gpu_layers", "tensor_split")




@dataclass(frozen=True)
class Ask:
    """The question the plans answer."""
    model: Model
    gpu: GPU
    gpu_count: int
    precision: Precision
    runtime: str               # the as-asked plan's runtime (asked, or the format's default)
    runtime_asked: bool        # the user named it: every plan keeps to it
    work: Workload             # context, batch, KV precision, prompt and RAM as asked
    prefer: str
    repo: str | None = None    # a repository the user named (e.g. a base checkpoint)
    utilization_asked: bool = False  # --gpu-memory-utilization given: every vLLM plan keeps it
    # The precision of the file the question names (a GGUF path, or Ollama's file of the tag
    # asked) where that file caches a latent-attention model per head (the model's
    # Architecture.mla_per_head_cache): plans on your hardware may keep that file (sized per
    # head) or make a current one (sized with the latent). None otherwise.
    own_file: str | None = None
    # The Ollama name the question gave (llama3.1:70b) and the precision of its file: Ollama
    # plans at that precision run it (the precision above may be a baseline's, not the tag's)
    ollama_name: str | None = None
    ollama_precision: str | None = None
    # The GGUF repo the question named (hf.co/ORG/REPO:QUANT, advisor.kb.ollama_hf), at the
    # precision above: the as-asked plan under llama.cpp downloads from it (-hf ORG/REPO:QUANT)
    gguf_repo: str | None = None
    # a set of unequal cards under llama.cpp (advisor.sizing.mixed.GpuSet; `gpu` its first
    # device, `gpu_count` its count): plans on your cards split layers over it. None otherwise.
    gpu_set: object | None = None
    # What the user chose rather than left to a default, beyond the runtime and vLLM's share
    # (runtime_asked, utilization_asked): a subset of CHOICES. A plan on the user's own
    # hardware that keeps every choice may be recommended over the question as asked where the
    # objective ranks it first (beats_asked), and a context not chosen counts as whole from the
    # objective's defaulted_context_tokens (context_cap); the defaults are levers the planner
    # may move. By default everything counts as chosen (the inverse questions, fit and gpus).
    chosen: frozenset = frozenset(CHOICES)

    @staticmethod
    def of(model: Model, gpu: GPU, gpus: int, work: Workload, precision: Precision | None = None,
           runtime: str | None = None, prefer: str = "quality") -> "Ask":
        """A question with the defaults explain uses: the checkpoint as published, its format's
        runtime (plans may switch unless a runtime is given)."""
        p = precision or parse_precision(model.native_precision or "bf16")
        rt = runtime or default_runtime(p, gpu)
        return Ask(model, gpu, gpus, p, rt, runtime is not None, replace(work, runtime=rt), prefer)


def keeps_choices(plan, ask: Ask) -> bool:
    """Whether `plan` keeps everything the question chose (Ask.chosen, runtime_asked and
    utilization_asked): the same format, KV cache precision, flash attention (llama.cpp's
    switch, so a llama.cpp or Ollama plan) and runtime, at
    least the context asked; a question that gave --n-gpu-layers is kept only by its own split
    (the gpu-layers path answers it with another), and one that gave --tensor-split by plans
    that put every layer where it puts them (_same_split)."""
    return choices_dropped(plan, ask) == 0


def choices_dropped(plan, ask: Ask) -> int:
    """How many of the question's choices (keeps_choices) `plan` does not keep; another model,
    or a question that gave --n-gpu-layers, drops them all (len(CHOICES) + 2)."""
    chosen = ask.chosen
    if "gpu_layers" in chosen or plan.model.id != ask.model.id:
        return len(CHOICES) + 2
    share = plan.gpu_memory_utilization
    return sum((
        "tensor_split" in chosen and not _same_split(plan, ask),
        "precision" in chosen and plan.precision.name != ask.precision.name,
        "kv_cache" in chosen and plan.kv_cache_dtype != ask.work.kv_cache_dtype,
        "context" in chosen and plan.context_tokens < min(ask.work.context_tokens,
                                                           plan.model.context_limit),
        # --flash-attn is llama.cpp's switch: a plan under another runtime does not keep it
        "flash_attn" in chosen and (plan.runtime not in GGML_RUNTIMES
                                    or plan.flash_attn != ask.work.flash_attn),
        ask.runtime_asked and plan.runtime != ask.runtime,
        ask.utilization_asked and share is not None and share != ask.work.gpu_memory_utilization,
    ))


def beats_asked(plan, asked, ask: Ask, objective: Objective) -> bool:
    """Whether `plan` (a path's best plan, on the user's own GPUs and RAM, of the model asked)
    should be recommended over `asked`, the question as asked. It must keep every choice the
    question made (keeps_choices), so that it differs only in what was left to a default (the
    format of a model named without one, the KV cache precision, the runtime, the offload
    split, a defaulted context), lose no quality class (under --prefer speed: stay of good
    quality) and no speed band, and be ranked first by the objective (both plans' levers
    counted from the question: the as-asked plan's 0, or 1 for a GGUF file to make), either

    - for its speed, decoding at least the objective's beats_asked_speedup times as fast as the
      question (Ollama's qwen2.5:32b with 12 layers in RAM at 8.7 tokens/s against every layer
      on the card at 38); a few percent never displace a question that runs, under any
      --prefer (the objective alone would, across a band edge or under --prefer speed);
    - or for what comes after speed: ranked first with the plan's speed taken as the
      question's (vLLM serving the checkpoint rather than a BF16 GGUF to make, in one band);
    - or, in the same quality class, needing no file to make where the question does, and no
      slower (Q8_0 published rather than a 141 GB BF16 GGUF to convert).

    A better quality class alone never displaces a question that runs, nor does any slower
    plan: Ollama's llama3.1:8b at Q4_K_M and 150 tokens/s is not swapped for Q8_0 at 98, nor
    qwen3:30b under --prefer speed at 160 for another publisher's Q5_K_M at 152. A plan that
    holds a reasoning model's thinking where the question's default context cuts it
    (thinking_context: deepseek-r1:8b at Ollama's 4,096 tokens on a 12 GB card, where 65,536
    with a q8_0 cache fit) is ranked first by its context. False without an as-asked plan, for
    fine-tuning plans, and on the other paths."""
    if (asked is None or plan is asked or plan.path not in ("your-hardware", "your-gpus")
            or plan.task != "inference" or not plan.owned or not keeps_choices(plan, ask)):
        return False
    if plan.quality_class > asked.quality_class and not (
            ask.prefer == "speed" and plan.quality_class <= objective.good_class):
        return False
    if (plan.speed_band, plan.fast_band) < (asked.speed_band, asked.fast_band):
        return False
    asked_file = _file_to_make(asked, ask)
    plan_file = _file_to_make(plan, ask)
    if plan.decode_tokens_per_s < asked.decode_tokens_per_s and not (asked_file and not plan_file):
        # a question that runs is never displaced by a slower plan, except one in the same
        # bands (above) that needs no file made where the question does: vLLM serving Llama 3.1
        # 8B's checkpoint on an H100 at 138 tokens/s rather than a BF16 GGUF to make at 157
        return False

    def recounted(p):  # a plan carries what lever_count reads of a candidate
        return p.with_(levers=lever_count(p, ask, changes_from(p, ask), p))

    # the context the plans answer (a reasoning model's thinking where the default cuts it)
    cap = context_cap(thinking_context(ask), objective)
    mine, theirs = recounted(plan), recounted(asked)
    ranked_first = objective.key(mine, ask.prefer, cap) < objective.key(theirs, ask.prefer, cap)
    if ranked_first and plan.decode_tokens_per_s >= objective.beats_asked_speedup * asked.decode_tokens_per_s:
        return True
    if plan.quality_class != asked.quality_class:
        return False
    as_fast = mine.with_(decode_tokens_per_s=asked.decode_tokens_per_s, speed_band=asked.speed_band,
                         fast_band=asked.fast_band)
    if objective.key(as_fast, ask.prefer, cap) < objective.key(theirs, ask.prefer, cap):
        return True
    return plan.decode_tokens_per_s >= asked.decode_tokens_per_s and asked_file == 1 and plan_file == 0


def context_cap(ask: Ask, objective: Objective) -> int | None:
    """The context from which plans count as holding the whole context asked, for ranking
    (Objective.key's context_cap): None (the context itself) where the question chose its
    context; else the objective's defaulted_context_tokens, at most the context asked. A
    default (8,192 tokens, or Ollama's 32,768 or 262,144 by VRAM) is not worth a quality class
    or layers in system RAM: Ollama's llama3.1:70b on 2 x RTX 3090 runs Q4_K_M at a shorter
    context rather than Q3_K_M with a q4_0 cache to keep 131,072 tokens nobody asked for. A
    reasoning model's default is its need, not a default: the context that holds the output
    its publisher recommends (advisor.sizing.workload.reasoning_context_tokens) counts whole,
    as a -c would, so its thinking is not cut to 16,384 tokens where a q8_0 cache holds 32,768
    (DeepSeek R1 Distill Qwen 32B on an RTX 4090)."""
    if "context" in ask.chosen:
        return None
    need = reasoning_context_tokens(ask.model) or 0
    return min(max(objective.defaulted_context_tokens, need), ask.work.context_tokens)


def loaded_architecture(a: Architecture, per_head: bool) -> Architecture:
    """`a` with the KV cache layout of the file a plan loads (Candidate.mla_per_head_cache)."""
    return a if a.mla_per_head_cache == per_head else replace(a, mla_per_head_cache=per_head)


_LOADED: dict = {}


def loaded_model(model: Model, per_head: bool) -> Model:
    """The model as a plan loads it: `model` with the KV cache layout of the plan's file or
    checkpoint (Candidate.mla_per_head_cache), the same object while asked again (sizing
    memoises on it). `model` itself where the layout is its own."""
    if model.architecture.mla_per_head_cache == per_head:
        return model
    hit = _LOADED.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    if len(_LOADED) >= 4096:
        _LOADED.clear()
    out = with_fields(model, architecture=loaded_architecture(model.architecture, per_head))
    _LOADED[id(model)] = (model, out)
    return out


def bits_per_weight(model: Model, p: Precision) -> float:
    return 8 * weights_bytes(model.architecture, p) / parameter_count(model.architecture)


def _bits_of_measured(a: Architecture, p: Precision) -> dict[str, float]:
    """Bits a weight on this architecture of every measured format and of p (for estimates)."""
    names = {n for n in weight_table()} | {p.name}
    out = {}
    for n in sorted(names):
        try:
            q = parse_precision(n)
        except Exception:
            continue
        if q.family == "float" or (q.name == "mxfp4" and not a.experts_total):
            continue
        out[n] = 8 * weights_bytes(a, q) / parameter_count(a)
    return out


@lru_cache(maxsize=65536)
def plan_quality(a: Architecture, native: str | None, p: Precision, kv_cache_dtype: str,
                 family: str | None = None) -> QualityCost:
    """The quality cost of weights in format p (published as `native`) with a KV cache at
    kv_cache_dtype (advisor.plans.quality; a format nobody measured is estimated from the measured
    one nearest in bits a weight on this architecture; family: the model's KB family, whose
    own measurements are preferred). Memoised: a handful of values a model."""
    measured = p.name in weight_table()
    return quality_cost(p, native, parameter_count(a), kv_cache_dtype,
                        None if measured else _bits_of_measured(a, p),
                        active_parameter_count(a) if a.experts_total else None, family)


def _usd_per_million_tokens(owned: bool, usd_per_hour: float | None, tokens_per_s: float) -> float | None:
    """What a million output tokens cost: nothing on hardware you own; the rent at tokens_per_s
    where rented; None where neither is known (more of your own card: bought, not priced)."""
    if owned:
        return 0.0
    return None if usd_per_hour is None else usd_per_hour / (tokens_per_s * 3600) * 1e6


def _batch_tokens_per_s(pl: Placement, single: float) -> float:
    """Tokens/s over all `batch` sequences: each step reads the weights once and every
    sequence's KV cache (at half the context, on average); under vLLM, its fitted decode step
    at that batch (advisor.sizing.serving.serving_at_batch)."""
    b = pl.work.batch
    if b <= 1:
        return single
    at = serving_at_batch(pl, b)
    if at is not None:
        return at.total_tokens_per_s
    weights_s = 1.0 / single
    kv_s = pl.decode_seconds_per_token(pl.work.context_tokens // 2) - pl.decode_seconds_per_token(0)
    return b / (weights_s + b * max(kv_s, 0.0))


def runtime_context_limit(m: Model, runtime: str) -> int:
    """The longest context (tokens) a plan of `m` under `runtime` may hold: the model's
    (Model.context_limit); under Ollama, for a model whose card extends its positions with rope
    scaling (Model.rope_scaling), only the config's positions: Ollama clamps the context to the
    GGUF's trained context and has no setting for rope scaling (commands.ollama_no_rope_note),
    so a plan beyond them has no command that runs it."""
    if runtime == "ollama" and cmd.rope_scaling_for(m, m.context_limit) is not None:
        return min(m.context_limit, m.architecture.max_context)
    return m.context_limit


def shortened_context(most: int, floor: int, chosen: bool) -> int | None:
    """The context a plan runs when the one asked does not fit and `most` tokens do: None below
    `floor`. A context the question chose (-c) is cut to a multiple of 256 (llama.cpp pads its
    KV cache to 256 cells). A defaulted one (8,192, or Ollama's by VRAM) is cut to a round
    value, three significant binary digits (7,168, 16,384, 20,480, 24,576, 28,672, 32,768,
    40,960, ...: whole thousands of 1,024 tokens, as people set it), which also leaves up to a
    fifth of the KV cache as margin against the runtime's own estimate (Ollama sizes its layer
    split itself: 16,896 tokens at 98% of a 3090 moves a layer to RAM as soon as its estimate is
    a little larger than ours); at least the floor."""
    pad = c.LLAMACPP_KV_PAD_TOKENS
    most = most // pad * pad
    if most < floor:
        return None
    if not chosen and most > floor:
        step = 1 << max(most.bit_length() - 3, 0)
        most = max(most // step * step, floor)
    return most


def _context_for(cand: Candidate, ask: Ask, obj: Objective, work: Workload, fixed: bool) -> int | None:
    """The context the plan runs: as asked if it fits; else (unless fixed) the longest that fits,
    shortened_context of it, at least the objective's floor (or the context asked, if shorter)."""
    m, g, n = loaded_model(cand.model, cand.mla_per_head_cache), cand.gpu, cand.gpu_count
    asked = min(work.context_tokens, runtime_context_limit(m, cand.runtime))
    if fixed and asked < min(work.context_tokens, m.context_limit):
        return None  # the question's context is beyond what the runtime runs
    if cand.gpu_set is not None:
        return _mixed_context_for(cand, m, obj, work, asked, fixed, "context" in ask.chosen)
    available = g.usable_memory_bytes * n
    margin = fit_margin_bytes(n, work.runtime)
    if work.gpu_layers is None and available - margin < model_weights_bytes(m, cand.precision, work.runtime):
        # every weight on the GPUs (no -ngl) and they alone do not fit: no context does (KV and
        # overhead add to them; data-parallel replicas only add more)
        return None
    if available - memory_total_bytes(m, cand.precision, work, n, asked, work.kv_cache_dtype, g) >= margin:
        return asked
    if fixed:
        return None
    floor = min(obj.context_floor_tokens, asked)
    if available - memory_total_bytes(m, cand.precision, work, n, floor, work.kv_cache_dtype, g) < margin:
        return None
    most = max_context_tokens(m, cand.precision, work, n, available, margin, work.kv_cache_dtype, g)
    return shortened_context(most, floor, "context" in ask.chosen)


def _mixed_context_for(cand: Candidate, m: Model, obj: Objective, work: Workload, asked: int,
                       fixed: bool, chosen: bool) -> int | None:
    """_context_for over a set of unequal cards: every card keeps its margin
    (advisor.sizing.mixed)."""
    from advisor.sizing.mixed import mixed_max_context, mixed_split

    if mixed_split(m, cand.precision, work, cand.gpu_set, asked).fits:
        return asked
    if fixed:
        return None
    floor = min(obj.context_floor_tokens, asked)
    return shortened_context(mixed_max_context(m, cand.precision, work, cand.gpu_set), floor, chosen)


def _mixed_decode(cand: Candidate, m: Model, work: Workload, ctx: int) -> float:
    """Decode tokens/s at an empty cache over a mixed set (advisor.sizing.mixed)."""
    from advisor.sizing.mixed import mixed_decode_seconds, mixed_split

    split = mixed_split(m, cand.precision, work, cand.gpu_set, ctx)
    return 1.0 / mixed_decode_seconds(split, m, cand.precision, 0, work.kv_cache_dtype)


class Sized(RankTerms):
    """A candidate's numbers for ranking, without building its plan (command, notes, full-context
    speed, prefill): the planner ranks a few hundred of these a question and builds a Plan only
    for each path's winner. Attribute names are Plan's, so the objective and changes_from read
    either."""
    __slots__ = ("cand", "path", "model", "precision", "runtime", "kv_cache_dtype", "gpu",
                 "gpu_count", "owned", "offload", "context_tokens", "decode_tokens_per_s",
                 "quality", "quality_class", "usable", "speed_band", "fast_band", "good_quality", "nodes",
                 "parameters", "usd_per_hour", "usd_per_million_tokens", "levers", "changes",
                 "checkpoint", "cpu_offload_layers", "moe_cpu_layers", "flash_attn",
                 "gpu_memory_utilization", "mla_per_head_cache", "own_file", "model_score",
                 "wired_limit_mb", "n_gpu_layers", "tensor_split")

    @property
    def quality_loss_pct(self) -> float:
        return self.quality.loss_pct

    @property
    def identity(self) -> tuple:
        """As Plan.identity (a rented plan is another plan than the same cards bought)."""
        return (getattr(self, "path", None) == "rent", self.model.id, self.precision.name,
                self.kv_cache_dtype, self.context_tokens,
                self.runtime, self.gpu.id, self.gpu_count, self.cpu_offload_layers,
                self.moe_cpu_layers, self.checkpoint, self.mla_per_head_cache, self.own_file,
                self.n_gpu_layers, self.tensor_split, self.wired_limit_mb)

    def on(self, path: str, changes: tuple, levers: int) -> "Sized":
        new = object.__new__(Sized)
        for k in _SIZED_KEPT:
            setattr(new, k, getattr(self, k))
        new.path, new.changes, new.levers = path, changes, levers
        return new


_SIZED_KEPT = tuple(k for k in Sized.__slots__ if k not in ("path", "changes", "levers"))


@lru_cache(maxsize=4096)
def _work_as(work: Workload, runtime: str, kv_cache_dtype: str, share: float | None = None,
             tensor_split: str | None = None) -> Workload:
    """The workload under a candidate's runtime, KV precision, vLLM share of each GPU (None:
    the workload's) and -ts (Candidate.tensor_split: None, llama.cpp's split by free memory)
    (a few a question, asked of hundreds of candidates)."""
    if share is None:
        return replace(work, runtime=runtime, kv_cache_dtype=kv_cache_dtype, tensor_split=tensor_split)
    return replace(work, runtime=runtime, kv_cache_dtype=kv_cache_dtype, gpu_memory_utilization=share,
                   tensor_split=tensor_split)


def _layout(work: Workload) -> bool:
    return uses_layout(work.runtime, work.data_parallel, work.expert_parallel)


def layout_runs(work: Workload, a: Architecture, gpus: int) -> bool:
    """Whether a plan on `gpus` GPUs can keep the data/expert-parallel layout asked (vLLM's
    --data-parallel-size must divide the count, TP = gpus / DP must split the heads, expert
    parallel needs routed experts); True when none was asked."""
    if work.data_parallel == 1 and not work.expert_parallel:
        return True
    if work.runtime not in ("vllm", "sglang"):
        return False
    return layout_problem(a, gpus, work.data_parallel, work.expert_parallel) is None


def quick_size(cand: Candidate, ask: Ask, obj: Objective, fixed_context: bool = False) -> Sized | None:
    """The numbers the objective ranks a candidate by (fit, context, decode speed at an empty
    cache, quality, price), or None when it does not fit: memory_total_bytes for the fit, the
    decode roofline of its split for the speed, no Placement."""
    m, g, n, p = loaded_model(cand.model, cand.mla_per_head_cache), cand.gpu, cand.gpu_count, cand.precision
    work = _work_as(ask.work, cand.runtime, cand.kv_cache_dtype, cand.gpu_memory_utilization,
                    cand.tensor_split)
    a = m.architecture
    if not layout_runs(work, a, n) or share_problem(a, g, n, work):
        return None
    cpu_layers = moe_layers = 0
    off = None
    if cand.placement == "gpu":
        ctx = _context_for(cand, ask, obj, work, fixed_context)
        if ctx is None:
            return None
        if cand.gpu_set is not None:
            decode = _mixed_decode(cand, m, work, ctx)
        else:
            decode = 1.0 / empty_decode_seconds(m, g, p, cand.runtime, n,
                                                work.data_parallel if _layout(work) else 1)
        if work.batch > 1 and cand.path == "rent":
            tokens_s = _batch_tokens_per_s(place(m, g, p, replace(work, context_tokens=ctx), n,
                                                 detail=False), decode)
        else:
            tokens_s = decode
    else:
        ctx = min(work.context_tokens, runtime_context_limit(m, cand.runtime))
        if fixed_context and ctx < min(work.context_tokens, m.context_limit):
            return None  # the question's context is beyond what the runtime runs
        w = replace(work, context_tokens=ctx)
        off = plan_offload(m, g, p, w) if cand.placement == "offload" else plan_expert_offload(m, g, p, w, n)
        if not _offload_fits(off, g):
            return None
        decode = tokens_s = off.decode_tokens_per_s
        cpu_layers = getattr(off, "cpu_layers", 0)
        moe_layers = getattr(off, "cpu_moe_layers", 0)
    params = parameter_count(a)
    q = plan_quality(a, m.native_precision, p, cand.kv_cache_dtype, m.family)
    qclass = obj.quality_class(q.loss_pct)
    usd_h = rent_usd_per_hour(g, n) if cand.path == "rent" else None
    usd_mtok = _usd_per_million_tokens(cand.owned, usd_h, tokens_s)
    s = Sized()
    s.cand, s.path, s.model, s.precision, s.runtime = cand, cand.path, m, p, cand.runtime
    s.kv_cache_dtype, s.gpu, s.gpu_count, s.owned = cand.kv_cache_dtype, g, n, cand.owned
    s.offload = cand.placement != "gpu"
    s.context_tokens, s.decode_tokens_per_s, s.quality, s.quality_class = ctx, decode, q, qclass
    s.usable = obj.is_usable(ask.prefer, qclass, decode, reasoning=is_reasoning(m))
    s.speed_band, s.good_quality = obj.speed_band(decode), qclass <= obj.good_class
    s.fast_band = obj.fast_band(decode)
    s.nodes, s.parameters = -(-n // c.GPUS_PER_NODE), params
    s.usd_per_hour, s.usd_per_million_tokens = usd_h, usd_mtok
    s.levers, s.changes, s.checkpoint = 0, (), cand.checkpoint
    s.cpu_offload_layers, s.moe_cpu_layers = cpu_layers, moe_layers
    s.n_gpu_layers = off.ngl if cand.placement == "offload" else None
    s.flash_attn = work.flash_attn
    s.tensor_split = work.tensor_split if cand.gpu_set is not None else None
    s.gpu_memory_utilization = work.gpu_memory_utilization if cand.runtime == "vllm" else None
    s.wired_limit_mb = cand.wired_limit_mb
    s.mla_per_head_cache, s.own_file = cand.mla_per_head_cache, cand.own_file
    s.model_score = own_score(m)
    return s


def own_score(m: Model) -> float | None:
    """A plan's model_score on a path that keeps the model: the model's preferred published
    PRIMARY_BENCHMARK score (percent; None: none), the same for every plan of the path, so it
    ranks nothing there (it ranks plans of different paths that one rule offers). The
    another-model path replaces it (advisor.plans.planner._other_models: compared_score)."""
    q = m.quality_score(PRIMARY_BENCHMARK)
    return q.score if q is not None else None


def score_basis(asked: Model):
    """The PRIMARY_BENCHMARK score of `asked` (a QualityScore) that other models are compared
    with: for a reasoning model (is_reasoning: its questions are sized and ranked for its
    thinking) its thinking mode's preferred score where it has one (Qwen3 32B: 79.1 thinking,
    not 71.9 non-thinking), else its preferred score (Model.quality_score). None: it has none."""
    if is_reasoning(asked):
        q = asked.quality_score(PRIMARY_BENCHMARK, variant="thinking")
        if q is not None:
            return q
    return asked.quality_score(PRIMARY_BENCHMARK)


def compared_score(other: Model, asked: Model):
    """`other`'s published PRIMARY_BENCHMARK score (a QualityScore) measured like `asked`'s
    score_basis (Model.comparable_score): of its variant (instruct against instruct,
    thinking against thinking, base against base, as candidates.better_models compares them),
    a publisher's own figure against a publisher's own, another evaluator's run only against
    the same evaluator's in the same setting. None: when either has none of it."""
    mine = score_basis(asked)
    if mine is None:
        return None
    return other.comparable_score(mine)


def baseline(ask: Ask) -> Ask:
    """The question at the model's published format (the workload and cards as asked; the
    runtime as asked, else the published format's): what plans' levers are counted from, so
    that ranking prefers the checkpoint as published. Plans run llama.cpp with flash attention
    on, its default, unless the question chose (--flash-attn) its setting: then every llama.cpp
    plan keeps it, as plans keep a format or context asked (with flash attention off, a GGUF
    that fits with llama.cpp's f32 attention scores is preferred over a plan under another
    runtime). Plans other than as-asked are sized at a --tensor-split asked first, then at
    llama.cpp's split by free memory (candidates._on_set: Candidate.tensor_split)."""
    native = parse_precision(ask.model.native_precision or "bf16")
    fa = ask.work.flash_attn if "flash_attn" in ask.chosen else True
    if native.name == ask.precision.name and ask.work.flash_attn == fa and ask.work.gpu_layers is None:
        return ask
    rt = ask.runtime if ask.runtime_asked else default_runtime(native, ask.gpu)
    return replace(ask, precision=native, runtime=rt,
                   work=replace(ask.work, runtime=rt, flash_attn=fa, gpu_layers=None))


def thinking_context(ask: Ask) -> Ask:
    """The question the plans other than as-asked answer, for a reasoning model asked under a
    default context shorter than its thinking needs (reasoning_context_tokens: Ollama's default
    by VRAM, 4,096 tokens under 24 GiB): the same at the need. The advisory tells the user to
    set OLLAMA_CONTEXT_LENGTH to it (advisor.sizing.workload.default_context_reason), so plans
    set it too rather than keep a context that cuts the thinking short; the as-asked plan keeps
    Ollama's default, as Ollama runs the name. Every other model's plans answer this question
    too (Planner._other_models), so all paths are sized at one context."""
    ctx, need = ask.work.context_tokens, reasoning_context_tokens(ask.model)
    if "context" in ask.chosen or need is None or not ctx < need <= ask.model.context_limit:
        return ask
    return replace(ask, work=replace(ask.work, context_tokens=need))


def size_candidate(cand: Candidate, ask: Ask, obj: Objective, fixed_context: bool = False) -> Plan | None:
    """The plan's numbers: what depends only on the candidate and the workload (ask.work,
    ask.prefer and ask.repo), not on the question's model, format or cards; the planner adds
    what it changes from the question (changes_from) and memoises this part across questions."""
    m, g, n, p = loaded_model(cand.model, cand.mla_per_head_cache), cand.gpu, cand.gpu_count, cand.precision
    work = _work_as(ask.work, cand.runtime, cand.kv_cache_dtype, cand.gpu_memory_utilization,
                    cand.tensor_split)
    a = m.architecture
    if not layout_runs(work, a, n) or share_problem(a, g, n, work):
        return None
    off = None
    if cand.placement == "gpu":
        ctx = _context_for(cand, ask, obj, work, fixed_context)
        if ctx is None:
            return None
        work = replace(work, context_tokens=ctx)
        pl = place(m, g, p, work, n, detail=False, gpu_set=cand.gpu_set)
        if not pl.fits:
            return None
        decode, decode_full = pl.decode_tokens_per_s(), pl.decode_tokens_per_s(full_context=True)
        prefill = pl.prefill_tokens_per_s()
        at_batch = serving_at_batch(pl, work.batch)  # vLLM at --batch B: None for one sequence
        total, split = pl.total_bytes, pl.split
        cpu_layers = moe_layers = ram = 0
        per_gpu = split.per_gpu_bytes
    else:
        ctx = min(work.context_tokens, runtime_context_limit(m, cand.runtime))
        if fixed_context and ctx < min(work.context_tokens, m.context_limit):
            return None  # the question's context is beyond what the runtime runs
        work = replace(work, context_tokens=ctx)
        if cand.placement == "offload":
            off = plan_offload(m, g, p, work)
        else:
            off = plan_expert_offload(m, g, p, work, n)
        if not _offload_fits(off, g):
            return None
        # the layer split's kind and weights over the cards (an expert offload may use several)
        pl = place(m, g, p, replace(work, gpu_layers=None), n if cand.placement == "moe-offload" else 1,
                   detail=False)
        decode = off.decode_tokens_per_s
        decode_full = getattr(off, "decode_tokens_per_s_full_context", 0.0) or decode
        prefill, total, split = None, getattr(off, "total_gpu_bytes", off.gpu_bytes), pl.split
        at_batch = None
        cpu_layers = getattr(off, "cpu_layers", 0)
        moe_layers = getattr(off, "cpu_moe_layers", 0)
        ram, per_gpu = off.ram_bytes, off.gpu_bytes
    params = parameter_count(a)
    bits = bits_per_weight(m, p)
    q = plan_quality(a, m.native_precision, p, work.kv_cache_dtype, m.family)
    qclass = obj.quality_class(q.loss_pct)
    # a price for what is rented; more of your own card is bought or already in your node
    usd_h, price_note = rent_cost(g, n) if cand.path == "rent" else (None, None)
    tokens_s = _batch_tokens_per_s(pl, decode) if off is None else decode
    usd_mtok = _usd_per_million_tokens(cand.owned, usd_h, tokens_s)
    native = p.name == m.native_precision or (p.family == "float" and m.native_precision in (None, "bf16", "fp16")
                                              and p.name in ("bf16", "fp16"))
    nodes = -(-n // c.GPUS_PER_NODE)
    command, notes = _command(cand, ask, work, pl, off, nodes)
    if cand.wired_limit_mb is not None:
        notes = [cmd.wired_limit_note(cand.wired_limit_mb, cand.gpu)] + list(notes)
    gated = cmd.gated_repo_note(command, cand.runtime)
    if gated is not None:
        notes = [gated] + list(notes)
    return Plan(
        path=cand.path, model=m, parameters=params, precision=p, bits_per_weight=bits,
        native=native, checkpoint=cand.checkpoint, kv_cache_dtype=work.kv_cache_dtype,
        context_tokens=work.context_tokens, batch=work.batch, runtime=cand.runtime, gpu=g,
        gpu_count=n, nodes=nodes, split=split.kind, tensor_parallel=split.tensor_parallel,
        data_parallel=split.data_parallel, expert_parallel=split.expert_parallel,
        pipeline_parallel=split.pipeline_stages, cpu_offload_layers=cpu_layers,
        moe_cpu_layers=moe_layers, owned=cand.owned, weights_bytes=pl.weights_bytes,
        kv_cache_bytes=pl.kv_cache_bytes, total_bytes=total,
        available_bytes=pl.available_bytes if cand.gpu_set is not None else g.usable_memory_bytes * n,
        ram_bytes=ram, per_gpu_bytes=per_gpu,
        decode_tokens_per_s=decode, decode_tokens_per_s_full_context=decode_full,
        batch_tokens_per_s_per_sequence=at_batch.tokens_per_s_per_sequence if at_batch else None,
        batch_total_tokens_per_s=at_batch.total_tokens_per_s if at_batch else None,
        prefill_tokens_per_s=prefill, usd_per_hour=usd_h, usd_per_million_tokens=usd_mtok,
        price_note=price_note, quality=q, quality_class=qclass, flash_attn=work.flash_attn,
        gpu_memory_utilization=work.gpu_memory_utilization if cand.runtime == "vllm" else None,
        wired_limit_mb=cand.wired_limit_mb,
        n_gpu_layers=off.ngl if cand.placement == "offload" else None,
        expert_cards=off.cards if cand.placement == "moe-offload" and n > 1 else (),
        quality_class_name=obj.class_names[qclass],
        mla_per_head_cache=cand.mla_per_head_cache, own_file=cand.own_file,
        usable=obj.is_usable(ask.prefer, qclass, decode, reasoning=is_reasoning(m)),
        speed_band=obj.speed_band(decode),
        fast_band=obj.fast_band(decode),
        good_class=obj.good_class, levers=0, changes=(), command=command, notes=tuple(notes),
        model_score=own_score(m), gpu_set=cand.gpu_set,
        tensor_split=work.tensor_split if cand.gpu_set is not None else None)


def _offload_fits(off, g: GPU) -> bool:
    """An offload split runs: its GPU part leaves llama.cpp's margin free (a split the planner
    chose always does; a user's -ngl may not) and system RAM holds the rest."""
    return (off is not None and off.ram_fits
            and off.gpu_bytes <= g.usable_memory_bytes - fit_margin_bytes())


def lever_count(plan, ask: Ask, changes: list[str] | tuple, cand: Candidate) -> int:
    """How many things a plan (or Sized) changes from the question, for ranking: its changes, and
    one more for a GGUF file to make; the latent cache that a file made with current llama.cpp
    (or vLLM) brings is a consequence, not one more change."""
    return len(changes) - int(_latent_change(plan, ask) is not None) + _file_to_make(cand, ask)


def _file_to_make(cand: Candidate, ask: Ask | None = None) -> int:
    """1 when llama.cpp needs a GGUF file nobody publishes (convert, and quantize): one more step
    than downloading one, counted as a lever. The GGUF the question names, at its own type
    (users_gguf "same"), is no file to make."""
    if ask is not None and users_gguf(cand, ask) == "same":
        return 0
    return file_to_make(cand.runtime, cand.model, cand.precision, cand.checkpoint, cand.own_file)


def users_gguf(x, ask: Ask) -> str | None:
    """How a llama.cpp or Ollama plan (or candidate) `x` relates to the GGUF file the question
    names (`explain ./model.gguf GPU`: the asked model's weights_inventory, format gguf):
    "same" where it loads that file as it is (its type, its KV cache layout); "requantize"
    where it loads a file of another type that llama-quantize makes from it (a type no better
    than the file's: quantizing never restores what a quantized file lost); None otherwise
    (another model, a published repo, another runtime, a better type, or a latent-attention
    layout the file does not have, which only a conversion of the checkpoint gives)."""
    inv = getattr(ask.model, "weights_inventory", None)
    if (inv is None or getattr(inv, "format", None) != "gguf" or x.runtime not in GGML_RUNTIMES
            or x.model.id != ask.model.id or x.checkpoint is not None
            or bool(x.mla_per_head_cache) != bool(ask.model.architecture.mla_per_head_cache)):
        return None
    if x.precision.name == inv.precision:
        return "same"
    try:
        src = parse_precision(inv.precision)
    except Exception:  # a mix of types no single precision names
        return None
    if (x.precision.family in ("gguf", "float") and x.precision.name != "qat-q4_0"
            and x.precision.quality_rank >= src.quality_rank):
        return "requantize"
    return None


def requantized_name(source: str, p: Precision) -> str:
    """The file llama-quantize writes from the question's GGUF at `p`: the file's stem and the
    type, in the current folder (model-Q4_K_M.gguf)."""
    from pathlib import PurePath

    stem = PurePath(source).name
    stem = stem[:-5] if stem.lower().endswith(".gguf") else stem
    return f"{stem or 'model'}-{cmd.quantize_type(p)}.gguf"


def requantize_note(source: str, src_precision: str, p: Precision, out: str) -> str:
    """How to make `out` at p from the question's own GGUF `source` with llama-quantize
    (tools/quantize: `llama-quantize [--allow-requantize] [--imatrix FILE] in.gguf out.gguf
    TYPE`; --allow-requantize where the file is already quantized, which llama-quantize
    otherwise refuses; llama-imatrix first for the types that need an importance matrix)."""

    src, dst, t = cmd.shell_word(source), cmd.shell_word(out), cmd.quantize_type(p)
    requant = " --allow-requantize" if parse_precision(src_precision).family != "float" else ""
    if p.name in REQUIRES_IMATRIX:
        steps = (md_code(f"llama-imatrix -m {src} -f CALIBRATION.txt -o imatrix.dat")
                 + f" (an importance matrix from a calibration text: llama-quantize refuses {t} "
                 "without one), then "
                 + md_code(f"llama-quantize{requant} --imatrix imatrix.dat {src} {dst} {t}"))
    else:
        steps = md_code(f"llama-quantize{requant} {src} {dst} {t}")
    lossy = (f" (requantizing the {src_precision} file loses more than quantizing the 16-bit "
             "weights would)" if requant else "")
    return f"make {md_text(out)} from the file asked about: {steps}{lossy}"


def file_to_make(runtime: str, model: Model, p: Precision, checkpoint: str | None,
                 own_file: bool) -> int:
    """1 when a plan (or candidate) under llama.cpp or Ollama loads a GGUF file that must be made
    (converted, and quantized): none is published in a repo it downloads (`checkpoint`), the
    question does not name it (`own_file`), and under Ollama the library has no tag of that
    format (`ollama run` pulls the tag's file); under MLX, an mlx-lm quantization no repo
    publishes (mlx_lm.convert); else 0."""
    if runtime == "mlx":
        # an mlx-lm quantization no mlx-community repo publishes: mlx_lm.convert makes it (the
        # 16-bit checkpoint mlx-lm loads as published)
        return int(checkpoint is None and not own_file and p.name.startswith("mlx-"))
    if runtime not in GGML_RUNTIMES or checkpoint is not None or own_file:
        return 0
    return int(runtime != "ollama" or cmd.ollama_library_tag(model, p) is None)


def changes_from(plan: Plan, ask: Ask, said: bool = False) -> list[str]:
    """What the plan changes from the question, in words. Renting is always a change, even of
    the card asked: it is not the user's. said: the words shown to the user, which also name a
    runtime other than the one the question defaulted to (a consequence of the format, not a
    lever: not counted when plans are ranked, lever_count)."""
    out = []
    if plan.model.id != ask.model.id:
        out.append(f"another model ({plan.model.name}{_scores(plan.model, ask.model)}"
                   f"{_licence(plan.model)})")
    chosen = ask.chosen if plan.model.id == ask.model.id else frozenset()
    if plan.precision.name != ask.precision.name:
        out.append(f"weights at {plan.precision.name}"
                   + (f" instead of the {ask.precision.name} asked" if "precision" in chosen else ""))
    if plan.runtime in GGML_RUNTIMES and plan.flash_attn and not ask.work.flash_attn:
        out.append("flash attention on")
    if plan.kv_cache_dtype != ask.work.kv_cache_dtype:
        out.append(f"KV cache at {plan.kv_cache_dtype}"
                   + (f" instead of the {ask.work.kv_cache_dtype} asked" if "kv_cache" in chosen else ""))
    share = plan.gpu_memory_utilization
    if share is not None and share != ask.work.gpu_memory_utilization:
        from advisor.sizing.vllm_memory import vllm_max_utilization

        edge = ""
        if share >= vllm_max_utilization(plan.gpu) - 0.01:  # the most the card allows
            from advisor.plans.commands import _STACK, share_left_bytes

            left = share_left_bytes(share, plan.gpu) / 2**30

            stack = _STACK.get(plan.gpu.vendor, "runtime")
            edge = (f" (at the edge: the {left:.1f} GiB a GPU left outside it hold the {stack} "
                    "context and graphs with little to spare)")
        out.append(f"vLLM's share of each GPU {share:.2f}{edge}")
    if plan.wired_limit_mb is not None:
        out.append(f"macOS's GPU memory limit to {plan.wired_limit_mb:,} MB")
    if plan.context_tokens < min(ask.work.context_tokens, plan.model.context_limit):
        out.append(f"context {count(plan.context_tokens, 'token')}"
                   + (f" instead of the {ask.work.context_tokens:,} asked" if "context" in chosen else ""))
    elif plan.context_tokens > ask.work.context_tokens and "context" not in ask.chosen:
        # a reasoning model under a default that cuts its thinking short (baseline)
        out.append(f"context {count(plan.context_tokens, 'token')}, which holds its thinking")
    asked_ts = ask.work.tensor_split
    gset = _gpu_set_of(plan)
    if asked_ts is not None and gset is not None and not _same_split(plan, ask):
        from advisor.sizing.mixed import default_ts_arg

        mine = (f"the -ts {plan.tensor_split}" if plan.tensor_split is not None else
                f"the layers split by free memory (-ts {default_ts_arg(gset)})")
        out.append(f"{mine} instead of the -ts {asked_ts} asked")
    asked_layers = ask.work.gpu_layers
    if partial_offload(ask.model, ask.work) and (plan.model.id == ask.model.id or not plan.offload):
        # the user asked for a split: it is no change; another model's layer count is not
        # compared with the question's, only said where they all sit on the GPU
        out += _layer_changes(plan, asked_layers if plan.model.id == ask.model.id else None)
    elif plan.offload:
        out.append("part of the model on the CPU" if plan.gpu.unified_memory
                   else "part of the model in system RAM")
    if plan.path == "rent":
        out.append(f"rented {plan.gpu_count} x {plan.gpu.name}")
    elif plan.gpu.id != ask.gpu.id:
        out.append(f"{plan.gpu_count} x {plan.gpu.name}")
    elif plan.gpu_count != ask.gpu_count:
        out.append(f"{plan.gpu_count} cards")
    if ask.runtime_asked and plan.runtime != ask.runtime:
        out.append(f"runtime {RUNTIME_NAMES[plan.runtime]} instead of the "
                   f"{RUNTIME_NAMES[ask.runtime]} asked")
    elif said and plan.runtime != ask.runtime:
        # the question took its format's default runtime: a plan under another one says so
        # (a bf16 question sized under llama.cpp, whose better plan is FP8 under vLLM: hostile
        # pass 14A found the switch unsaid)
        out.append(f"runtime {RUNTIME_NAMES[plan.runtime]} instead of "
                   f"{RUNTIME_NAMES[ask.runtime]} (the default for the {ask.precision.name} asked)")
    if (plan.runtime == "ollama" and ask.ollama_name is not None and plan.model.id == ask.model.id
            and plan.precision.name != ask.ollama_precision and plan.checkpoint is not None
            and cmd.ollama_library_tag(plan.model, plan.precision) is None):
        # the question named an Ollama tag: a file the library does not carry is pulled from
        # a Hugging Face repo instead, one more thing to change than a tag's setting
        out.append(f"{plan.checkpoint}'s file instead of an Ollama library tag")
    latent = _latent_change(plan, ask)
    if latent:
        out.append(latent)
    return out


def _gpu_set_of(plan):
    """The set of unequal (or split) cards a Plan or Sized runs on, or None."""
    return getattr(plan, "gpu_set", None) or getattr(getattr(plan, "cand", None), "gpu_set", None)


def _same_split(plan, ask: Ask) -> bool:
    """Whether a plan puts every layer on the device the question's -ts puts it (its own -ts, or
    llama.cpp's split by free memory): the same split, however the shares are written."""
    from advisor.sizing.mixed import split_layers

    gset = _gpu_set_of(plan)
    if gset is None or ask.work.tensor_split is None or plan.model.id != ask.model.id:
        return False
    try:
        return (split_layers(plan.model, gset, plan.tensor_split)
                == split_layers(plan.model, gset, ask.work.tensor_split))
    except ValueError:
        return False


def _layer_changes(plan: Plan, asked: int | None) -> list[str]:
    """What a plan changes in where the layers sit, from a question that gave -ngl `asked`
    (llama.cpp's count; None: a plan of another model, every layer on the GPU). Layers are
    compared as placed (gpu_layers_of_ngl: a GGUF's trailing blocks are no layer), the -ngl
    said in llama.cpp's count."""
    if plan.n_gpu_layers is not None and asked is not None:
        mine = gpu_layers_of_ngl(plan.model, plan.n_gpu_layers)
        more = mine - gpu_layers_of_ngl(plan.model, asked)
        if more == 0:
            return []
        if plan.runtime == "ollama":
            return [f"{count(mine, 'layer')} on the GPU, {abs(more)} "
                    f"{'more' if more > 0 else 'fewer'} than the question's"]
        return [f"{count(mine, 'layer')} on the GPU (-ngl {plan.n_gpu_layers}), {abs(more)} "
                f"{'more' if more > 0 else 'fewer'} than asked"]
    if plan.moe_cpu_layers:
        return [f"every layer on the GPU but the routed experts of {plan.moe_cpu_layers} layers "
                f"(--n-cpu-moe {plan.moe_cpu_layers})"]
    where = f"every layer on the GPU{'s' if plan.gpu_count > 1 else ''}"
    if plan.runtime == "llama.cpp":  # Ollama has no -ngl: its num_gpu, left unset, fits them
        return [f"{where} (-ngl {ngl_all(plan.model)})"]
    return [where]


def _latent_change(plan: Plan, ask: Ask) -> str | None:
    """Where the question names a file that caches a latent-attention model per head and the
    plan loads one that caches the latent (a GGUF made with current llama.cpp, or vLLM's MLA
    over the Hugging Face checkpoint): that change in words, with the KV cache it saves at the
    plan's context and KV precision."""
    a = plan.model.architecture
    if (plan.mla_per_head_cache or not a.kv_lora_rank or plan.model.id != ask.model.id
            or not ask.model.architecture.mla_per_head_cache):
        return None
    work = (plan.context_tokens, ask.work.batch, plan.kv_cache_dtype, plan.runtime)
    small = kv_cache_bytes(loaded_architecture(a, False), *work)
    big = kv_cache_bytes(loaded_architecture(a, True), *work)
    if plan.runtime in GGML_RUNTIMES:
        what = "a GGUF converted with current llama.cpp, which caches the latent"
    else:
        what = f"{RUNTIME_NAMES[plan.runtime]}'s latent cache"
    return f"{what} (KV {small / 1e9:.2f} GB, not {big / 1e9:.2f} GB per head)"


def _per_head_cache_note(a: Architecture, work: Workload, own_file: bool) -> str:
    """What a GGUF with the latent cache saves against this plan's file, which caches per-head
    K and V."""
    latent = loaded_architecture(a, False)
    per_head, small = (kv_cache_bytes(x, work.context_tokens, work.batch, work.kv_cache_dtype,
                                      "llama.cpp") for x in (loaded_architecture(a, True), latent))
    which = "the file asked about predates" if own_file else "these files predate"
    return (f"{which} llama.cpp PR 12801 (April 2025: no attn_k_b / attn_v_b), so llama.cpp "
            f"caches per-head K and V, {per_head / 1e9:.2f} GB at this context, as sized here; "
            f"a GGUF converted since caches the latent, {small / 1e9:.2f} GB")


def _make_gguf_note(m: Model, p: Precision, name: str, ask: Ask) -> str:
    """How to make the GGUF a plan loads: download the Hugging Face checkpoint, convert it with
    current llama.cpp (convert_hf_to_gguf.py, which writes attn_k_b / attn_v_b), then quantize to
    p. The names are new ones (cmd.gguf_file latent=True): an older file of the type, caching per
    head, may sit under the usual name."""
    repo = (ask.repo if m.id == ask.model.id else None) or cmd.hf_repo(m)
    folder = repo.split("/", 1)[1] if repo else "MODEL_DIR"
    get = f"`hf download {repo} --local-dir {folder}`, then " if repo else ""
    where = "" if repo else " (MODEL_DIR: the model's Hugging Face checkpoint)"
    if p.family == "float":
        return (f"make {name} with current llama.cpp: {get}`python convert_hf_to_gguf.py {folder} "
                f"--outtype {p.name} --outfile {name}`{where}")
    f16 = cmd.gguf_file(m, parse_precision("bf16"), latent=True)
    if p.name in REQUIRES_IMATRIX:
        quantize = (f"`llama-imatrix -m {f16} -f CALIBRATION.txt -o imatrix.dat` (an importance "
                    f"matrix from a calibration text: llama-quantize refuses {p.name} without "
                    f"one), then `llama-quantize --imatrix imatrix.dat {f16} {name} {p.name}`")
    else:
        quantize = f"`llama-quantize {f16} {name} {p.name}`"
    return (f"make {name} with current llama.cpp: {get}`python convert_hf_to_gguf.py {folder} "
            f"--outtype bf16 --outfile {f16}`, then {quantize}{where}")


def _quantize_words(p: Precision, joint: str) -> str:
    """The quantizing step of a recipe that makes a GGUF at p, after `joint` (" and ", ", "):
    none for a 16-bit file; llama-imatrix then llama-quantize --imatrix for the types
    llama-quantize refuses without an importance matrix (REQUIRES_IMATRIX); else
    llama-quantize."""
    if p.family == "float":
        return ""
    if p.name in REQUIRES_IMATRIX:
        return (f"{joint}llama-imatrix (an importance matrix from a calibration text: "
                f"llama-quantize refuses {p.name} without one), then llama-quantize --imatrix")
    return f"{joint}llama-quantize"


def _scores(other: Model, asked: Model) -> str:
    """': MMLU-Pro 69 against 66.4, as each was published' where both models have a comparable
    score (compared_score against score_basis); '(thinking mode)' when that is what is
    compared, 'both as tiger-lab ran them' when both are one third party's runs."""
    a, b = compared_score(other, asked), score_basis(asked)
    if a is None or b is None:
        return ""
    mode = " (thinking mode)" if b.variant == "thinking" else ""
    how = "as each was published" if b.self_reported else f"both as {b.evaluator} ran them"
    return f": MMLU-Pro {a.score:g} against {b.score:g}{mode}, {how}"


def improves_on(plan, own, speedup: float, ask: Ask) -> bool:
    """Whether `plan` (rented, or more cards than yours) gives something the best usable plan of
    the model asked on your own hardware (`own`, None: there is none) does not: a better quality
    class, a longer context, more of the question's choices kept (choices_dropped: the fp16
    asked, where your card runs Q8_0), or a decode speed at least `speedup` times as fast (the
    objective's beats_asked_speedup). Renting an RTX 3090 to run the Q8_0 a 4090 owner already
    runs at the same speed improves nothing, and is not offered (rules plan-rent,
    plan-more-cards). Fine-tuning plans (no decode speed) always improve: their paths decide."""
    if own is None or getattr(plan, "task", "inference") != "inference":
        return True
    return (plan.quality_class < own.quality_class or plan.context_tokens > own.context_tokens
            or choices_dropped(plan, ask) < choices_dropped(own, ask)
            or plan.decode_tokens_per_s >= own.decode_tokens_per_s * speedup)


def scores_at_least(other: Model, asked: Model, tie_points: float) -> bool:
    """Whether `other` has a published score of `asked`'s variant (compared_score) at least
    `asked`'s, or within tie_points (points) below it: as good as published, as the objective's
    model_score ties them (Objective.tie_scores). False for the model itself or where either
    has no such score."""
    if other.id == asked.id:
        return False
    a, b = compared_score(other, asked), score_basis(asked)
    return a is not None and b is not None and a.score >= b.score - tie_points - 1e-9


def _licence(m: Model) -> str:
    """'; licence X: not for commercial use' where the KB marks the model's licence
    non-commercial (Model.licence), else ''."""
    lic = m.licence
    if lic is None or lic.commercial:
        return ""
    return f"; licence {lic.id}: not for commercial use"


def _command(cand: Candidate, ask: Ask, work: Workload, pl: Placement, off,
             nodes: int) -> tuple[str | None, list[str]]:
    m, p, g = loaded_model(cand.model, cand.mla_per_head_cache), cand.precision, cand.gpu
    notes: list[str] = []
    if cand.runtime == "ollama":
        return _ollama_command(cand, ask, work, off, nodes, m)
    if cand.runtime in GGML_RUNTIMES:
        if nodes > 1:
            return None, ["llama.cpp runs one machine's GPUs (several machines need its RPC servers)"]
        gguf = cand.checkpoint   # llama.cpp's checkpoint is a GGUF repo (quantized or 16-bit)
        a = m.architecture
        path = None
        mine = users_gguf(cand, ask)
        inv = getattr(ask.model, "weights_inventory", None)
        if mine == "same":
            path = inv.source  # the GGUF the question names, as given
        elif mine == "requantize":
            path = requantized_name(inv.source, p)
            notes.append(requantize_note(inv.source, inv.precision, p, path))
        if cand.mla_per_head_cache:
            notes.append(_per_head_cache_note(a, work, cand.own_file))
        if cand.mla_per_head_cache and path is None and gguf is None:
            # the question's own old-layout file (Ollama's), or one like it: not one to convert
            where = (" (Ollama keeps its files as blobs under ~/.ollama/models, or $OLLAMA_MODELS)"
                     if cand.own_file else "")
            notes.append(f"-m {cmd.gguf_file(m, p)} stands for the file asked about{where}; a file "
                         "converted now would cache the latent instead")
        elif gguf is None and path is None:
            if a.kv_lora_rank and not cand.mla_per_head_cache and (
                    ask.model.architecture.mla_per_head_cache or m.gguf_repos_per_head_cache):
                # a latent-cache file where older per-head files of the type exist: a new name
                path = cmd.gguf_file(m, p, latent=True)
                notes.append(_make_gguf_note(m, p, path, ask))
            elif inv is not None and getattr(inv, "format", None) == "gguf" and m.id == ask.model.id:
                # better than the file asked about: only the original weights give it
                notes.append(f"a GGUF file at {p.name}, made from {md_text(m.name)}'s original "
                             "checkpoint with llama.cpp's convert_hf_to_gguf.py"
                             + _quantize_words(p, " and ") + f", not from the {inv.precision} "
                             "file asked about (quantizing it again cannot restore what it lost)")
            else:
                notes.append(f"a GGUF file at {p.name}: convert the checkpoint with llama.cpp's "
                             "convert_hf_to_gguf.py" + _quantize_words(p, " and "))
        if off is None:
            ts = None
            if pl.mixed is not None:
                ts = pl.mixed.ts_arg()
                if cand.gpu_set.mixed:  # cards of one kind: any order is the same split
                    notes.append(cmd.device_order_note(cand.gpu_set))
            return cmd.llama_server(m, p, work.context_tokens, work.batch, work.kv_cache_dtype,
                                    gpus=cand.gpu_count, gguf_repo=gguf, path=path,
                                    flash_attn=work.flash_attn, tensor_split=ts), notes
        if cand.placement == "offload":
            return cmd.llama_server(m, p, work.context_tokens, work.batch, work.kv_cache_dtype,
                                    gpu_layers=off.gpu_layers, ngl=off.ngl, gguf_repo=gguf,
                                    path=path, flash_attn=work.flash_attn), notes
        return cmd.llama_server(m, p, work.context_tokens, work.batch, work.kv_cache_dtype,
                                moe_cpu_layers=off.n_cpu_moe, gguf_repo=gguf, path=path,
                                flash_attn=work.flash_attn, gpus=cand.gpu_count,
                                tensor_split=off.ts_arg()), notes
    if cand.runtime == "mlx":
        return _mlx_command(cand, ask, work, m)
    repo = cand.checkpoint or (ask.repo if m.id == ask.model.id else None) or cmd.hf_repo(m)
    if repo is None:
        return None, ["no Hugging Face repository is known for this model"]
    if cand.runtime == "sglang":
        rope = cmd.rope_scaling_for(m, work.context_tokens)
        if work.context_tokens > m.architecture.max_context:
            notes.append(cmd.sglang_long_context_note(m.architecture.max_context, rope))
        if nodes > 1:
            notes.append(cmd.sglang_nodes_note(nodes))
        tp, dp, ep, dp_attention = pl.split.tensor_parallel, 1, 1, False
        if _layout(work):
            from advisor.sizing.vllm_parallel import sglang_layout_command, vllm_layout

            flags = sglang_layout_command(m.architecture, vllm_layout(
                m.architecture, cand.gpu_count, work.data_parallel, work.expert_parallel))
            tp, dp, ep = flags["tp_size"], flags["dp_size"], flags["ep_size"]
            dp_attention = flags["dp_attention"]
        return cmd.sglang_launch(
            repo, work.context_tokens, work.batch, work.kv_cache_dtype,
            tensor_parallel=tp, pipeline_parallel=pl.split.pipeline_stages,
            data_parallel=dp, expert_parallel=ep, dp_attention=dp_attention,
            quantize_fp8=p.name == "fp8" and m.native_precision != "fp8" and cand.checkpoint is None,
            mem_fraction_static=work.mem_fraction_static, nodes=nodes, rope=rope,
            trust_remote_code=m.trust_remote_code), notes
    if cand.runtime == "vllm":
        quantize = p.name == "fp8" and m.native_precision != "fp8" and cand.checkpoint is None
        share = cmd.memory_share(work.gpu_memory_utilization)
        if cand.gpu_memory_utilization is not None:
            notes.append(cmd.raised_share_note(cand.gpu_memory_utilization, g))
        rope = cmd.rope_scaling_for(m, work.context_tokens)
        if work.context_tokens > m.architecture.max_context:
            notes.append(cmd.long_context_note(m.architecture.max_context, rope))
        if nodes > 1:
            notes.append(cmd.data_parallel_nodes_note(nodes, pl.split.tensor_parallel)
                         if _layout(work) else cmd.ray_cluster_note(nodes))
        return cmd.vllm_serve(repo, work.context_tokens, work.batch, work.kv_cache_dtype,
                              tensor_parallel=pl.split.tensor_parallel,
                              pipeline_parallel=pl.split.pipeline_stages, quantize_fp8=quantize,
                              share=share, mistral_format=m.mistral_format and repo == m.instruct_repo,
                              data_parallel=pl.split.data_parallel,
                              expert_parallel=pl.split.expert_parallel, rope=rope,
                              trust_remote_code=m.trust_remote_code,
                              quantize_bnb=p.name == "nf4" and cand.checkpoint is None
                              and getattr(m, "stored_precision", None) != "nf4"), notes
    dtype = half_fallback(g, m.native_precision or "bf16") or "bfloat16"
    if m.transformers_repo and repo == m.instruct_repo:
        repo = m.transformers_repo
    return cmd.transformers_snippet(repo, p, dtype, auto_class=m.transformers_auto_class,
                                    trust_remote_code=m.trust_remote_code,
                                    rope=cmd.rope_scaling_for(m, work.context_tokens),
                                    quantize_fp8=p.name == "fp8" and cand.checkpoint is None
                                    and (getattr(m, "stored_precision", None)
                                         or m.native_precision) != "fp8"), notes


def _mlx_command(cand: Candidate, ask: Ask, work: Workload, m: Model) -> tuple[str | None, list[str]]:
    """mlx-lm's command for an MLX plan: `mlx_lm.server --model REPO` (an OpenAI-compatible
    server) where the cache is 16-bit, `mlx_lm.generate ... --kv-bits B` where it is quantized
    (the server has no --kv-bits). REPO: the mlx-community repo of the format (KB mlx_repos), the
    Hugging Face checkpoint itself for 16-bit weights (mlx-lm loads safetensors as they are), or
    the folder mlx_lm.convert writes, with the conversion as a note."""
    p = cand.precision
    notes: list[str] = []
    path = cand.checkpoint
    if path is None:
        hf = (ask.repo if m.id == ask.model.id else None) or cmd.hf_repo(m)
        if hf is None:
            return None, ["no Hugging Face repository is known for this model"]
        if p.family == "float":
            path = hf
        else:
            path = cmd.mlx_path(hf, p)
            notes.append(f"no MLX repo of {m.name} at {p.name} is known: make it first with "
                         f"`{cmd.mlx_convert(hf, p)}`")
    if cmd.rope_scaling_for(m, work.context_tokens) is not None:
        notes.append(cmd.mlx_rope_note(m, work.context_tokens))
    if work.kv_cache_dtype in cmd.MLX_KV_BITS:
        notes.append("mlx_lm.server has no --kv-bits: the quantized KV cache is mlx_lm.generate's "
                     "(one prompt a run, --prompt)")
        return cmd.mlx_generate(path, work.context_tokens, work.kv_cache_dtype), notes
    return cmd.mlx_server(path), notes


def _ollama_command(cand: Candidate, ask: Ask, work: Workload, off, nodes: int,
                    m: Model) -> tuple[str | None, list[str]]:
    """`ollama run NAME` for an Ollama plan (advisor.plans.commands.ollama_model_name), with the
    `ollama serve` environment it needs beyond Ollama's defaults as a note (the server's
    settings, not the client's), and num_gpu where the question gave a layer count."""
    from advisor.sizing.ollama import default_context, flash_attention_default

    p, g = cand.precision, cand.gpu
    if nodes > 1:
        return None, ["Ollama runs one machine's GPUs"]
    if cmd.rope_scaling_for(m, work.context_tokens) is not None:
        return None, [cmd.ollama_no_rope_note(m, work.context_tokens)]
    notes: list[str] = []
    if cand.mla_per_head_cache:  # Ollama's file, or a GGUF repo, from before llama.cpp PR 12801
        notes.append(_per_head_cache_note(m.architecture, work, cand.own_file))
    # the tag asked, unless the plan makes a new file in place of its per-head one
    own = ask.ollama_name if m.id == ask.model.id and (cand.own_file or not ask.own_file) else None
    name = cmd.ollama_model_name(m, p, own, ask.ollama_precision if own else None)
    if own is None and not cand.mla_per_head_cache and cmd.ollama_pulls_per_head(m, p):
        # sized with the latent cache, but what Ollama would pull caches per head: a file made
        # with current llama.cpp, imported, is what runs this plan
        name = None
    inv = getattr(ask.model, "weights_inventory", None)
    mine = users_gguf(cand, ask) if name is None else None
    if mine == "same":
        # the GGUF the question names: Ollama imports it from a Modelfile
        name = cmd.ollama_local_name(inv.source)
        # the user's path: md_code, so that no backtick in it ends the code span
        notes.append(f"a Modelfile reading {md_code('FROM ' + str(inv.source))}, imported with "
                     f"`ollama create {name} -f Modelfile`")
    elif mine == "requantize":
        # a file of this type made from the question's GGUF, then imported
        gguf = requantized_name(inv.source, p)
        name = cmd.ollama_local_name(gguf)
        notes.append(requantize_note(inv.source, inv.precision, p, gguf)
                     + f", imported with `ollama create {name} -f Modelfile` from a Modelfile "
                     f"reading {md_code('FROM ./' + gguf)}")
    if name is None and p.family in ("gguf", "float") and p.name != "fp32":
        # no tag or published GGUF runs this plan: make the file, import it, run it
        latent = bool(m.architecture.kv_lora_rank) and not cand.mla_per_head_cache
        gguf = cmd.gguf_file(m, p, latent=latent)
        name = cmd.ollama_local_name(gguf)
        notes.append(_make_gguf_note(m, p, gguf, ask) + f", imported with `ollama create {name} -f "
                     f"Modelfile` from a Modelfile reading `FROM ./{gguf}`")
    if name is None:
        # a name from a file or a KB entry, as markdown text
        return None, [f"no Ollama tag or published GGUF of {md_text(m.name)} at {p.name} is "
                      "known: make one with llama.cpp (convert_hf_to_gguf.py"
                      + _quantize_words(p, ", ")
                      + "), then `ollama create` it from a Modelfile reading `FROM ./FILE.gguf`"]
    cards = cand.gpu_set.devices if cand.gpu_set is not None else (g,) * cand.gpu_count
    env = cmd.ollama_server_env(work.context_tokens,
                                default_context(cards, cand.gpu_count, m.architecture.max_context),
                                work.batch, work.kv_cache_dtype, work.flash_attn,
                                flash_attention_default(cards))
    if env:
        notes.append(cmd.ollama_serve_note(env))
    if cand.placement == "offload" and off is not None:
        from advisor.sizing.ollama import auto_gpu_layers

        if off.gpu_layers != auto_gpu_layers(m, g, p, replace(work, gpu_layers=None)):
            # num_gpu is llama-server's -ngl, in llama.cpp's count (Offload.ngl)
            notes.append(f"`/set parameter num_gpu {off.ngl}` in the `ollama run` session "
                         f"(or `PARAMETER num_gpu {off.ngl}` in a Modelfile): the layers "
                         "on the GPU, where Ollama's own fit would place another count")
    return f"ollama run {name}", notes
