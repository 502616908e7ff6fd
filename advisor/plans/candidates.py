"""The one place plans are enumerated: every combination of levers worth sizing, per path.

Levers: the model (the one asked; its smaller siblings and distills), the weight format (the
checkpoint as published, the publisher's and well-known quantized checkpoints the runtime runs on
that card, FP8 quantized at load time where the card computes in FP8, the GGUF ladder), the KV
cache precision the runtime offers, the placement (the GPUs asked; CPU offload into the RAM
given; more of the same card, one node at most; a rented card or whole nodes of cluster-class
cards) and the runtime (the one asked, else every runtime that runs the format there). The
context is not enumerated: advisor.plans.evaluate runs the asked one or the longest that fits.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterator

from advisor.plans.commands import ollama_library_tag, ollama_pulls_per_head
from advisor.sizing.constants import GGML_RUNTIMES
from advisor.kb.schema import GPU, PRIMARY_BENCHMARK, Architecture, Model
from advisor.kb.store import KnowledgeBase
from advisor.plans.evaluate import Ask, loaded_architecture
from advisor.plans.plan import Candidate
from advisor.plans.publishers import QAT, gguf_repo_for, is_qat_repo
from advisor.plans.quality import GGUF_LADDER  # noqa: F401 (the ladder plans offer, best first)
from advisor.plans.runtimes import cannot_run, gguf_container, runs_on, vllm_float32_fallback
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_dtype_splits_rows
from advisor.sizing.offload import partial_offload
from advisor.sizing.precision import Precision, parse_precision
from advisor.sizing.vllm_memory import splits_kv_heads, vllm_max_utilization
from advisor.sizing.wired import raised_wired_limit_mb, with_wired_limit
from advisor.sizing.workload import can_reason, is_reasoning

# The lowest GGUF type offered on paths that change more than the format (more cards, rent,
# another model): about 3.5 bits a weight. Lower types are offered only on the hardware you have.
USABLE_FLOOR = "IQ3_M"
# KV cache precisions each runtime offers, 16-bit first (llama.cpp: -ctk/-ctv; vLLM:
# --kv-cache-dtype; transformers: the model dtype).
KV_OPTIONS = {"llama.cpp": ("fp16", "q8_0", "q4_0"), "ollama": ("fp16", "q8_0", "q4_0"), "vllm": ("fp16", "fp8"), "transformers": ("fp16",),
              "mlx": ("fp16", "mlx-8bit", "mlx-4bit"), "sglang": ("fp16", "fp8")}
# bitsandbytes formats: offered under transformers only (vLLM loads them, slowly; the published
# quality figures are of QLoRA fine-tunes, not of inference).
_BITSANDBYTES = ("nf4", "int8")
# MLX's formats offered, best first (mlx_lm.convert -q --q-bits 8/6/4/3, group size 64).
MLX_LADDER = ("mlx-8bit", "mlx-6bit", "mlx-4bit", "mlx-3bit")


def mlx_repo_for(model: Model, p: Precision) -> str | None:
    """The first of the model's KB mlx_repos holding precision p (by the name's suffix,
    advisor.kb.schema.mlx_repo_precision), or None: mlx_lm.convert makes it."""
    from advisor.kb.schema import mlx_repo_precision

    return next((r for r in getattr(model, "mlx_repos", ()) or () if mlx_repo_precision(r) == p.name), None)


# Runtimes a plan may switch to when the user named none (transformers only when asked for: it
# is slower than both and offers nothing they lack for inference).
FREE_RUNTIMES = ("llama.cpp", "vllm", "mlx")


def weight_formats(model: Model, runtime: str, gpu: GPU, floor: str | None = None,
                   vllm_version: str | None = None) -> list[tuple[Precision, str | None]]:
    """(format, repository to load or None) a runtime can run for this model on this card,
    GGUF types down to `floor` (None: the whole ladder); under vLLM none where the registry of
    `vllm_version` (None: the default) has no class for the model (runtimes.cannot_run)."""
    native = model.native_precision or "bf16"
    out: list[tuple[Precision, str | None]] = []
    if runtime == "mlx":
        # the 16-bit checkpoint (mlx-lm loads Hugging Face safetensors as they are), then MLX's
        # affine formats, each from an mlx-community repo where the KB lists one, else converted
        if native in ("bf16", "fp16"):
            out.append((parse_precision(native), mlx_repo_for(model, parse_precision(native))))
        for name in MLX_LADDER:
            q = parse_precision(name)
            out.append((q, mlx_repo_for(model, q)))
    elif runtime in GGML_RUNTIMES:
        if native in ("bf16", "fp16", "fp32"):
            flt = parse_precision(native if native != "bf16" or _has_bf16(gpu) else "fp16")
            out.append((flt, gguf_repo_for(model, flt)))   # a published BF16/F16 GGUF, or one to make
        ladder = GGUF_LADDER if floor is None else GGUF_LADDER[:GGUF_LADDER.index(floor) + 1]
        # A model released with MXFP4 experts (gpt-oss) is run as its MXFP4_MOE GGUF: GGUF
        # publishers keep the experts at MXFP4 whatever type a file is named, so the other
        # types are the same size and gain nothing ("all quants keep the feed forward networks
        # at mxfp4 ... the size savings is basically non-existent",
        # https://huggingface.co/bartowski/openai_gpt-oss-20b-GGUF).
        names = ["MXFP4_MOE"] if native == "mxfp4" else list(ladder)
        if "Q4_0" in names or "Q4_K_M" in names:
            # a publisher's quantization-aware-trained Q4_0 (Gemma 3's), beside the 4-bit types
            if any(is_qat_repo(r) for r in model.gguf_repos):
                names.insert(names.index("Q4_K_M") if "Q4_K_M" in names else len(names), QAT)
        out += [(q, gguf_repo_for(model, q)) for q in map(parse_precision, names)]
    else:
        if native in ("bf16", "fp16", "fp32", "fp8", "mxfp4"):
            # (in float32 where vLLM loads this model so on the card: vllm_float32_fallback)
            own = parse_precision(native)
            out.append((vllm_float32_fallback(model, gpu, own, runtime) or own, None))
        published = {}
        for ck in model.checkpoints:
            published.setdefault(ck.precision, ck.repo)
        for name, repo in published.items():
            if name != native:
                out.append((parse_precision(name), repo))
        if native in ("bf16", "fp16") and "fp8" not in published:
            out.append((parse_precision("fp8"), None))      # vLLM --quantization fp8 at load time
        if runtime == "transformers" and native in ("bf16", "fp16"):
            out += [(parse_precision(n), None) for n in ("int8", "nf4")]
    seen, keep = set(), []
    for p, repo in out:
        if p.name in seen or cannot_run(runtime, p, gpu, model, vllm_version=vllm_version):
            continue
        if p.name in _BITSANDBYTES and runtime != "transformers":
            continue  # bitsandbytes formats are transformers' (their quality figures are QLoRA's)
        if runtime == "ollama" and repo is None and ollama_library_tag(model, p) is None:
            continue  # nothing `ollama run` can pull at this format (no tag, no GGUF repo)
        if p.name == "mxfp4" and not model.architecture.experts_total:
            continue
        seen.add(p.name)
        keep.append((p, repo))
        if repo is not None and runtime in GGML_RUNTIMES and cache_per_head(model, runtime, repo):
            # the published files cache per-head K and V: the same type made with current
            # llama.cpp caches the latent, a plan of its own
            keep.append((p, None))
    return keep


def cache_per_head(model: Model, runtime: str, repo: str | None, own_file: bool = False) -> bool:
    """Whether the file or checkpoint a plan loads caches per-head K and V rather than multi-head
    latent attention's latent row (advisor.sizing.kv_cache). False for models without latent
    attention.

    - own_file (llama.cpp loading the file the question names: a GGUF path, or Ollama's file of
      the tag asked): that file's layout, which the asked model carries
      (Architecture.mla_per_head_cache, from the GGUF's tensors or Model.ollama_mla_per_head_cache);
    - llama.cpp downloading `repo`: per head where the KB lists the repo's files as converted
      before llama.cpp PR 12801 (Model.gguf_repos_per_head_cache);
    - llama.cpp with a file to make (repo None): the latent: convert_hf_to_gguf.py has written
      attn_k_b / attn_v_b since PR 12801 (April 2025), and llama.cpp then caches the latent;
    - vLLM: the latent (its MLA backends cache kv_lora_rank + rope values a token a layer from
      the Hugging Face checkpoint);
    - MLX: the latent (mlx-lm's deepseek_v3 attention caches kv_latent and k_pe,
      cache.update_and_fetch(kv_latent, k_pe), mlx_lm/models/deepseek_v3.py at d78bf58);
    - transformers: per head: DeepseekV3Attention expands the latent through kv_b_proj and caches
      the per-head key (qk_nope + qk_rope) and value (v_head_dim) states (huggingface/transformers,
      src/transformers/models/deepseek_v3/modeling_deepseek_v3.py, past_key_values.update)."""
    a = model.architecture
    if not (a.kv_lora_rank and a.qk_rope_head_dim):
        return False
    if runtime in GGML_RUNTIMES:
        if own_file:
            return a.mla_per_head_cache
        return repo is not None and repo in model.gguf_repos_per_head_cache
    return runtime == "transformers"



def _has_bf16(gpu: GPU) -> bool:
    from advisor.kb.formats import native_formats

    return "bf16" in native_formats(gpu)


def runtimes_for(ask: Ask, gpu: GPU | None = None) -> tuple[str, ...]:
    """The runtimes plans on `gpu` (default: the card asked) may use: the one asked, unless it
    does not run on that vendor's GPUs at all (vLLM on a Mac), or cannot load the model's file
    at all (a GGUF file asked about under MLX, vLLM or transformers: only llama.cpp and Ollama
    read it; the rented T4 was the only plan for a GGUF on a Mac asked with --runtime mlx,
    hostile pass 14A), then any that does."""
    g = gpu or ask.gpu
    gguf_file = gguf_container(ask.model) and ask.runtime not in GGML_RUNTIMES
    if ask.runtime_asked and runs_on(ask.runtime, g) and not gguf_file:
        return (ask.runtime,)
    if getattr(getattr(ask.model, "architecture", None), "cross_attention_interval", None):
        # Llama 3.2 Vision runs in neither llama.cpp nor vLLM (runtimes.cannot_run): only in
        # transformers
        return tuple(r for r in ("transformers",) if runs_on(r, g))
    return tuple(r for r in FREE_RUNTIMES if runs_on(r, g))


def plans_flash_attn(ask: Ask) -> bool:
    """Whether llama.cpp and Ollama plans run with flash attention: as the question set it
    (--flash-attn, which plans keep), else on, llama.cpp's default wherever the backend has the
    kernels (evaluate.baseline sizes them the same way)."""
    return ask.work.flash_attn if "flash_attn" in ask.chosen else True


def kv_ladder(runtime: str, asked: str, a: Architecture, flash_attn: bool = True) -> tuple[str, ...]:
    """KV precisions to try, in order: the one asked (16-bit where the runtime lacks it), then
    the runtime's quantized ones whose blocks the model's K/V rows split into. The planner
    stops at the first that holds the context asked: a quantized cache is sized only where the
    asked one does not fit. With flash attention off (`flash_attn` False: --flash-attn off,
    which llama.cpp and Ollama plans keep), llama.cpp quantizes no V cache (it refuses a
    quantized -ctv without -fa), so llama.cpp and Ollama try the 16-bit cache only."""
    # a quantized llama.cpp cache asked for (q5_1, iq4_nl ...) is kept, as q8_0 and q4_0 are
    kept = asked in KV_OPTIONS[runtime] or (runtime in GGML_RUNTIMES and asked in c.LLAMACPP_QUANT_KV
                                            and kv_dtype_splits_rows(a, asked))
    first = asked if kept else "fp16"
    if runtime in GGML_RUNTIMES and not flash_attn:
        return ("fp16",) if first in c.LLAMACPP_QUANT_KV else (first,)
    return (first,) + tuple(k for k in KV_OPTIONS[runtime] if k != first and k not in ("fp16", "bf16", "fp32")
                            and kv_dtype_splits_rows(a, k))


def _on(path: str, model: Model, gpu: GPU, n: int, runtimes, owned: bool, asked_kv: str,
        placements=("gpu",), floor: str | None = None,
        raise_share: bool = True, own: Precision | None = None,
        remake: bool = False, vllm_version: str | None = None,
        flash_attn: bool = True) -> Iterator[list[Candidate]]:
    """Lever sets on `n` x `gpu`: each a list of candidates that differ only in the KV cache
    (kv_ladder order) and, for vLLM, in its share of each GPU: at each KV precision vLLM's
    default --gpu-memory-utilization, then the most the card allows (vllm_max_utilization),
    unless the question named a share (raise_share False). floor: the last GGUF type of the
    ladder to offer (None: all of it). own: instead of the formats, only the file the question
    names, at its precision, with llama.cpp (Candidate.own_file); with remake, a file of that
    precision made with current llama.cpp instead (its latent cache where the question's file
    caches per head). vllm_version: the vLLM profile asked (its registry decides which models
    vLLM loads: runtimes.cannot_run). flash_attn: whether llama.cpp and Ollama plans run with
    flash attention (plans_flash_attn), which decides the KV precisions they may try (kv_ladder)."""
    raised = vllm_max_utilization(gpu) if raise_share else c.VLLM_GPU_MEMORY_UTILIZATION
    # a Mac you own may raise macOS's GPU memory limit (advisor.sizing.wired): each lever set
    # tries the default limit first, then the raised one, at each KV precision
    wired = raised_wired_limit_mb(gpu) if owned else None
    limits = ((None, gpu),) if wired is None else ((None, gpu), (wired, with_wired_limit(gpu, wired)))
    for rt in runtimes:
        if rt == "mlx" and n != 1:
            continue  # mlx_lm.generate/server run one Mac (its distributed launch is not sized)
        if rt in GGML_RUNTIMES and n > c.LLAMA_MAX_DEVICES:
            continue  # llama.cpp drives at most 16 devices (runtimes.cannot_run)
        if own is not None:
            if rt not in GGML_RUNTIMES or cannot_run(rt, own, gpu, model):
                continue
            formats = [(own, None if remake else gguf_repo_for(model, own))]
        else:
            formats = weight_formats(model, rt, gpu, floor, vllm_version)
        mine = own is not None and not remake
        for p, repo in formats:
            per_head = cache_per_head(model, rt, repo, mine)
            if rt == "ollama" and not mine and not remake:
                # the file `ollama run` pulls, whose layout may not be the repo's
                per_head = ollama_pulls_per_head(model, p)
            a = loaded_architecture(model.architecture, per_head)
            for where in placements:
                if where != "gpu" and (rt not in GGML_RUNTIMES or n != 1 and where != "moe-offload"
                                       or gpu.unified_memory and where != "offload"):
                    # a Mac's CPU takes whole layers (-ngl), not --n-cpu-moe here; over several
                    # cards of one kind only the experts go to RAM (--n-cpu-moe with -sm layer)
                    continue
                if where == "moe-offload" and (not model.architecture.experts_total or rt == "ollama"):
                    continue  # Ollama has no setting for llama.cpp's --n-cpu-moe
                # the default share, and the most the card allows where that differs: above it on
                # a discrete card, below it where the default does not start (DGX Spark, whose OS
                # holds part of the memory CUDA reports)
                shares = (None, raised) if rt == "vllm" and raised != c.VLLM_GPU_MEMORY_UTILIZATION else (None,)
                yield [Candidate(path, model, p, rt, kv, g, n, where, owned, repo, share,
                                 per_head, mine, wired_limit_mb=mb)
                       for kv in kv_ladder(rt, asked_kv, a, flash_attn) for share in shares
                       for mb, g in limits]


def as_asked(ask: Ask) -> Candidate:
    """The question as asked. Its KV cache layout is the asked model's (the file the question
    names, which the verdict sizes); where that is the latent but the published GGUFs of the
    type cache per head, the plan makes the file rather than download one of them."""
    p = ask.precision
    repo = None
    if ask.runtime in GGML_RUNTIMES:
        # the GGUF repo the question named, else a quantized or 16-bit GGUF file published
        repo = ask.gguf_repo or gguf_repo_for(ask.model, p)
    elif ask.runtime == "mlx":
        repo = mlx_repo_for(ask.model, p)    # an mlx-community conversion, or None: convert
    else:
        repo = next((ck.repo for ck in ask.model.checkpoints if ck.precision == p.name), None)
    own = ask.runtime in GGML_RUNTIMES
    per_head = cache_per_head(ask.model, ask.runtime, repo, own_file=own)
    if own and not per_head and cache_per_head(ask.model, ask.runtime, repo):
        repo = None
    # llama.cpp -ngl N below all its slots: that split (advisor.sizing.offload.partial_offload)
    where = "offload" if partial_offload(ask.model, ask.work) else "gpu"
    gset = ask.gpu_set if ask.runtime in GGML_RUNTIMES else None
    return Candidate("as-asked", ask.model, p, ask.runtime, ask.work.kv_cache_dtype, ask.gpu,
                     ask.gpu_count, where, True, repo, None, per_head,
                     own and ask.own_file == p.name, gset,
                     tensor_split=ask.work.tensor_split if gset is not None else None)


def _own(ask: Ask) -> Precision | None:
    """The precision of the question's own per-head file, where plans may keep it."""
    return parse_precision(ask.own_file) if ask.own_file else None


def on_your_gpus(ask: Ask) -> Iterator[list[Candidate]]:
    """Everything on the GPUs given, the whole GGUF ladder down to 1 bit (and, where the file
    the question names caches per head (Ask.own_file), that file and one of its precision made
    with current llama.cpp)."""
    if ask.gpu_set is not None:  # unequal cards: llama.cpp's (or Ollama's) layer split over them
        yield from _on_set(ask)
        return
    yield from _on("your-gpus", ask.model, ask.gpu, ask.gpu_count, runtimes_for(ask), True,
                   ask.work.kv_cache_dtype, raise_share=not ask.utilization_asked,
                   vllm_version=ask.work.vllm_version, flash_attn=plans_flash_attn(ask))
    for remake in (False, True) if ask.own_file else ():
        yield from _on("your-gpus", ask.model, ask.gpu, ask.gpu_count, runtimes_for(ask), True,
                       ask.work.kv_cache_dtype, raise_share=False, own=_own(ask), remake=remake,
                       flash_attn=plans_flash_attn(ask))


def _on_set(ask: Ask) -> Iterator[list[Candidate]]:
    """Your GPUs when they are a set of unequal cards: llama.cpp's candidates (the formats and
    KV ladder of one kind), or Ollama's for a question Ollama answers (it runs llama-server,
    which splits the layers the same way), each split over the set (Candidate.gpu_set)."""
    rts = (ask.runtime,) if ask.runtime in GGML_RUNTIMES else ("llama.cpp",)
    groups = list(_on("your-gpus", ask.model, ask.gpu, ask.gpu_count, rts, True,
                      ask.work.kv_cache_dtype, raise_share=False, flash_attn=plans_flash_attn(ask)))
    for remake in (False, True) if ask.own_file else ():
        groups += _on("your-gpus", ask.model, ask.gpu, ask.gpu_count, rts, True,
                      ask.work.kv_cache_dtype, raise_share=False, own=_own(ask), remake=remake,
                      flash_attn=plans_flash_attn(ask))
    # at the -ts asked first, then llama.cpp's split by free memory, at each KV precision: a
    # format that fits on the split asked keeps it
    splits = (ask.work.tensor_split, None) if ask.work.tensor_split is not None else (None,)
    for group in groups:
        yield [replace(cand, gpu_set=ask.gpu_set, tensor_split=ts) for cand in group for ts in splits]


def offloaded(ask: Ask) -> Iterator[list[Candidate]]:
    """llama.cpp with part of the model in system RAM: whole layers (-ngl) or MoE experts
    (--n-cpu-moe), one GPU; on a Mac, whole layers on its CPU outside the GPU's working set
    (advisor.sizing.offload), at the default and at the raised wired limit."""
    yield from _on("your-hardware", ask.model, ask.gpu, ask.gpu_count, runtimes_for(ask), True,
                   ask.work.kv_cache_dtype, ("offload", "moe-offload"),
                   raise_share=not ask.utilization_asked,
                   vllm_version=ask.work.vllm_version, flash_attn=plans_flash_attn(ask))
    for remake in (False, True) if ask.own_file else ():
        yield from _on("your-hardware", ask.model, ask.gpu, ask.gpu_count, runtimes_for(ask), True,
                       ask.work.kv_cache_dtype, ("offload", "moe-offload"), raise_share=False,
                       own=_own(ask), remake=remake, flash_attn=plans_flash_attn(ask))


def another_model(ask: Ask, model: Model) -> Iterator[list[Candidate]]:
    """Another model on your hardware, at usable formats only (down to USABLE_FLOOR): nobody
    swaps models to run the new one at 2 bits."""
    yield from _on("another-model", model, ask.gpu, ask.gpu_count, runtimes_for(ask), True,
                   ask.work.kv_cache_dtype, ("gpu", "offload", "moe-offload"), USABLE_FLOOR,
                   raise_share=not ask.utilization_asked,
                   vllm_version=ask.work.vllm_version, flash_attn=plans_flash_attn(ask))


def card_counts(model: Model, runtime: str, counts) -> tuple[int, ...]:
    """The counts a runtime splits a model over sensibly: any count for llama.cpp's layer split;
    for vLLM, tensor-parallel sizes that divide the attention heads and split the KV heads
    (vllm_memory.splits_kv_heads) inside a node (an
    expert never pipelines inside a node: it gives no decode bandwidth) and whole nodes beyond."""
    if runtime in GGML_RUNTIMES:
        return tuple(n for n in counts if n <= c.GPUS_PER_NODE)
    a = model.architecture
    return tuple(n for n in counts if n % c.GPUS_PER_NODE == 0 and n > c.GPUS_PER_NODE
                 or (n <= c.GPUS_PER_NODE and a.attention_heads % n == 0 and splits_kv_heads(a, n)))


def more_cards(ask: Ask) -> Iterator[list[Candidate]]:
    """More of the card asked, at most a node of 8, one lever set at a time for one card more
    than asked: the planner raises the count until it fits. Not for unified-memory SoCs."""
    if ask.gpu.unified_memory or ask.gpu_count >= c.GPUS_PER_NODE:
        return
    yield from _on("more-cards", ask.model, ask.gpu, ask.gpu_count + 1, runtimes_for(ask), False,
                   ask.work.kv_cache_dtype, floor=USABLE_FLOOR, raise_share=not ask.utilization_asked,
                   vllm_version=ask.work.vllm_version, flash_attn=plans_flash_attn(ask))


def scales_across_nodes(g: GPU) -> bool:
    """Cards built into multi-node clusters: SXM/OAM parts on an NVLink or Infinity Fabric switch
    fabric (not a 2-card bridge, not Grace's C2C) and Gaudi's on-chip RoCE. Clouds rent PCIe and
    consumer cards one at a time, not as clusters."""
    link = (g.interconnect or "").lower()
    if "bridge" in link or "no nvlink" in link or "c2c" in link:
        return False
    return link.startswith("nvlink") or link.startswith("infinity fabric") or "roce" in link


def rental_counts(g: GPU, limit: int = 64) -> tuple[int, ...]:
    """The counts one rents, smallest first, from the units the card's on-demand prices rent:
    one card where some provider rents one; a machine of 2 or 4 where one is rented (Hugging
    Face's x2 and x4 instances); cluster-class cards also by whole nodes of 8 (up to limit); a
    card offered only as a whole 8-GPU node in multiples of 8 (one node where the card does not
    scale across nodes). () for a card without an on-demand price."""
    units = g.rental_units
    if not units:
        return ()
    nodes = tuple(range(c.GPUS_PER_NODE, limit + 1, c.GPUS_PER_NODE))
    if not scales_across_nodes(g):
        nodes = nodes[:1] if c.GPUS_PER_NODE in units else ()
    machines = tuple(u for u in units if u < c.GPUS_PER_NODE)
    return machines + tuple(n for n in nodes if n not in machines)


def rentable(kb: KnowledgeBase) -> list[GPU]:
    """KB cards with an on-demand rental price (a card nobody prices cannot be costed)."""
    return [g for g in kb.all_gpus() if g.rentable and g.rental_units]


def rent(ask: Ask, kb: KnowledgeBase) -> Iterator[tuple[GPU, tuple[int, ...], list[list[Candidate]]]]:
    """Per rentable card: its unit counts, and the lever sets for one card (the planner walks
    the counts smallest first, keeping the first that fits)."""
    for g in rentable(kb):
        yield g, rental_counts(g), list(_on("rent", ask.model, g, 1, runtimes_for(ask, g), False,
                                            ask.work.kv_cache_dtype, floor=USABLE_FLOOR,
                                            raise_share=not ask.utilization_asked,
                   vllm_version=ask.work.vllm_version, flash_attn=plans_flash_attn(ask)))


# Other KB models offered besides siblings and distills: at most this many, the best published
# scores first, each scoring at least the model asked (advisor.kb.schema PRIMARY_BENCHMARK).
BETTER_MODELS = 2


def better_models(model: Model, kb: KnowledgeBase, limit: int = BETTER_MODELS) -> list[Model]:
    """Smaller KB models whose published MMLU-Pro score measured like `model`'s
    (evaluate.compared_score against evaluate.score_basis: the same variant, a reasoning
    model's thinking score where it has one, publishers' own figures against each other,
    another evaluator's runs only against the same evaluator's) is at least `model`'s: the
    best `limit` of them, highest score first (ties: larger, then id); for a reasoning model
    only models that think (can_reason), as other_models keeps, so that chat models do not
    take the places. Publishers' own figures are compared as published (the plan says so);
    none when `model` has no score."""
    from advisor.plans.evaluate import compared_score, score_basis

    mine = score_basis(model)
    if mine is None:
        return []
    size = kb.parameter_count(model)
    thinking = is_reasoning(model)
    found = []
    for m in kb.all_models():
        q = compared_score(m, model) if m.id != model.id and (can_reason(m) or not thinking) else None
        if q is not None and q.score >= mine.score:
            n = kb.parameter_count(m)
            if n < size:
                found.append((-q.score, -n, m.id, m))
    return [m for *_, m in sorted(found)[:limit]]


def ranking_score(model: Model, asked: Model, kb: KnowledgeBase) -> float | None:
    """The published score the objective's model_score ranks `model` by on `asked`'s
    another-model path: its PRIMARY_BENCHMARK score of the variant of `asked`'s
    (evaluate.compared_score); where it has none, the best such score of its smaller siblings
    (KB `siblings`, either way round), as a lower bound: a larger model of one family and
    release scores at least what its smaller siblings score (Qwen3 14B has no score in the
    KB, Qwen3 4B has Qwen's own 58.0: the 14B is not ranked below the 4B for lack of one).
    None: neither has one."""
    from advisor.plans.evaluate import compared_score

    own = compared_score(model, asked)
    if own is not None:
        return own.score
    size = kb.parameter_count(model)
    family = set(model.siblings) | {m.id for m in kb.all_models() if model.id in m.siblings}
    known = kb.models.by_id
    floors = [q.score for sid in sorted(family) if sid in known
              for s in (known[sid],) if kb.parameter_count(s) < size
              for q in (compared_score(s, asked),) if q is not None]
    return max(floors, default=None)


def other_models(ask: Ask, kb: KnowledgeBase) -> list[Model]:
    """Smaller siblings, the models distilled from this one and the better_models, largest
    first. Where the model has no published score to find better models by (QwQ-32B), also its
    siblings' smaller siblings: QwQ-32B's siblings are Qwen2.5 32B and Qwen3 32B, both its
    size; theirs include Qwen3 30B-A3B and Qwen3 14B, which an expert runs on a 12 GB card in
    its place. For a reasoning model (is_reasoning) only models that think (can_reason): a chat
    model is no stand-in for one."""
    mine = kb.parameter_count(ask.model)
    out = {s: kb.model(s) for s in ask.model.siblings}
    if ask.model.quality_score(PRIMARY_BENCHMARK) is None:
        for s in list(out.values()):
            out.update({t: kb.model(t) for t in s.siblings if t != ask.model.id and t not in out})
    out.update({m.id: m for m in kb.all_models() if m.distilled_from == ask.model.id})
    out.update({m.id: m for m in better_models(ask.model, kb)})
    thinking = is_reasoning(ask.model)
    return sorted((m for m in out.values() if kb.parameter_count(m) < mine
                   and (can_reason(m) or not thinking)),
                  key=lambda m: (-kb.parameter_count(m), m.id))
