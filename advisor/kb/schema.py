"""The schema of a KB entry: frozen dataclasses, validated by pydantic v2 when YAML is read.

Strict: unknown keys and wrong types are errors. Every fact field that is set must be named by
one of the entry's `sources`; identity fields (id, name, aliases, family, siblings, vendor) need
none.

The classes are plain stdlib dataclasses so that using them, and unpickling the KB cache
(advisor.kb.cache), does not import pydantic (about 0.25 s of a run). pydantic reads their
annotations only in advisor.kb.validate (load_kb, `advisor kb validate`, model files, the JSON
Schema export): the per-field constraints are `Annotated[..., Field(...)]`, a name supplied
there; `__pydantic_config__` makes every field strict and refuses unknown keys; the cross-field
checks are in `__post_init__`, which pydantic runs after the fields validate and which also
guards entries built in code (`Architecture(...)`, `dataclasses.replace`). Building an entry in
code checks only those cross-field rules: validate data from outside with advisor.kb.validate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal, Optional

from advisor.limits import (MAX_BANDWIDTH_GB_S, MAX_CONTEXT, MAX_CONV_KERNEL, MAX_CORES,
                            MAX_EXPERTS, MAX_FFN_SIZE,
                            MAX_HEAD_DIM, MAX_HEADS, MAX_HIDDEN_SIZE, MAX_LAYERS, MAX_MEMORY_BYTES,
                            MAX_NAME_CHARS, MAX_NORMS_PER_LAYER, MAX_PARAMETERS, MAX_TFLOPS,
                            MAX_ROPE_THETA, MAX_USD_PER_HOUR, MAX_VOCAB, MIN_BANDWIDTH_GB_S, MIN_TFLOPS,
                            MIN_USD_PER_GPU_HOUR)

if TYPE_CHECKING:  # resolved by advisor.kb.validate when pydantic reads the annotations
    from pydantic import Field

ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"
# The lowest share of memory_bytes a driver-reported total may be (GPU.reported_memory_bytes):
# the cards sourced report 92.4% (an A10, ECC on: 22.18 of 24 GiB) to 99.6% (an H200 against
# its nvidia-smi figure); 85% leaves room for a card not yet seen and still refuses a misread
# unit (GB for GiB is 93%: that one only a source can catch).
REPORTED_MEMORY_MIN_SHARE = 0.85


def check_date(value: str, what: str = "date") -> None:
    """A KB date (YYYY-MM or YYYY-MM-DD, DATE_PATTERN) that is a real calendar date, not after
    today (a page cannot have been read, or a score published, in the future): ValueError
    otherwise."""
    import datetime

    parts = [int(x) for x in value.split("-")]
    try:
        day = datetime.date(parts[0], parts[1], parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise ValueError(f"{what} {value!r} is no calendar date (YYYY-MM or YYYY-MM-DD)") from None
    if day > datetime.date.today():
        raise ValueError(f"{what} {value!r} is in the future: the date a page was read")


def _list():
    """An empty list by default (the JSON Schema says `"default": []`, as it always has)."""
    return field(default_factory=list, metadata={"json_schema_extra": {"default": []}})


def _describe(schema: dict, cls: type) -> None:
    """A class's own docstring as its JSON Schema description (pydantic before 2.12 leaves it out
    for a plain dataclass; dataclasses give an undocumented class a signature as its __doc__)."""
    doc = cls.__dict__.get("__doc__")
    if doc and not doc.startswith(f"{cls.__name__}("):
        import inspect

        schema["description"] = inspect.cleandoc(doc)


class _Entry:
    """What pydantic needs to know about an entry class: strict fields, no unknown keys."""
    __pydantic_config__ = {"extra": "forbid", "strict": True, "json_schema_extra": _describe}

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        # Strict mode would accept only instances for a dataclass itself; an entry (and a nested
        # one: architecture, sources, checkpoints) is read from a mapping. Fields stay strict.
        schema = handler(source)
        handler.resolve_ref_schema(schema)["strict"] = False
        return schema


@dataclass(frozen=True, kw_only=True)
class Source(_Entry):
    fields: Annotated[list[str], Field(min_length=1)]
    source: Annotated[str, Field(min_length=5)]
    note: Optional[str] = None


DATE_PATTERN = r"^\d{4}-\d{2}(-\d{2})?$"
URL_PATTERN = r"^https?://[^\s/]+\.[^\s]+$"
# How providers rent a card (GPU.rental): "alone", a card at a time (some provider rents a
# one-GPU instance; larger instances may exist too); "node", only as a whole 8-GPU node (the unit
# Price.gpus names); "none", no provider rents it by the hour at a price it publishes
# (marketplaces whose hosts set their own prices, such as Vast.ai, do not count).
RENTALS = ("alone", "node", "none")


@dataclass(frozen=True, kw_only=True)
class Price(_Entry):
    """A rental price as one provider's own pricing page states it: what the page charges
    (usd_per_hour) for what unit (gpus: one card, a machine of 2 or 4, or a whole 8-GPU node),
    priced per GPU-hour (per: gpu) or for the whole unit (per: unit, the machine's or node's
    hourly price, as Hugging Face's x2/x4/x8 instances are listed), on-demand or spot, the
    date the page was read (YYYY-MM or YYYY-MM-DD) and the page's URL. Aggregators are no
    source: a card nobody prices on their own page has no price."""
    provider: Annotated[str, Field(min_length=2)]
    usd_per_hour: Annotated[float, Field(gt=0, le=MAX_USD_PER_HOUR, allow_inf_nan=False)]
    kind: Literal["on-demand", "spot"]
    gpus: Literal[1, 2, 4, 8]
    per: Literal["gpu", "unit"]
    date: Annotated[str, Field(pattern=DATE_PATTERN)]
    source: Annotated[str, Field(pattern=URL_PATTERN)]
    note: Optional[str] = None

    def __post_init__(self) -> None:
        check_date(self.date)
        # a price below a cent a GPU-hour is refused, not printed as $0.00 (limits.MIN_USD_PER_GPU_HOUR)
        if not self.usd_per_gpu_hour >= MIN_USD_PER_GPU_HOUR:
            unit = "" if self.per == "gpu" else f" (${self.usd_per_hour:g} for {self.gpus} GPUs)"
            raise ValueError(f"usd_per_hour {self.usd_per_hour:g} is ${self.usd_per_gpu_hour:g} a "
                             f"GPU-hour{unit}, below the least a rented GPU-hour costs here, "
                             f"${MIN_USD_PER_GPU_HOUR} (the cheapest published is about $0.05): "
                             "a unit slip, or not a price")

    @property
    def usd_per_gpu_hour(self) -> float:
        """The price of one GPU for an hour: a unit's price shared by its GPUs."""
        return self.usd_per_hour / self.gpus if self.per == "unit" else self.usd_per_hour

    def sort_key(self) -> tuple:
        """Cheapest per GPU-hour first; ties by unit, provider and page (deterministic)."""
        return (self.usd_per_gpu_hour, self.gpus, self.provider, self.source, self.date)


def with_fields(entry, **changes):
    """A copy of a validated, frozen KB entry with `changes` set, not validated again (the KB
    cache keeps entries without their sources, which the validators would refuse). For changes
    the code makes itself; a value from outside goes through the class's own constructor."""
    new = object.__new__(type(entry))
    new.__dict__.update(entry.__dict__)
    new.__dict__.update(changes)
    return new
# Benchmark ids are lower-case (mmlu-pro, gpqa-diamond, livebench); the evaluator is the id of
# whoever ran the benchmark (meta, qwen, deepseek, tiger-lab, lg-ai ...), and self_reported says
# that it is the model's own publisher. Scores compare only within one (benchmark, evaluator,
# setting): QualityScore.comparability. A publisher's table that also runs other models under
# its own harness (DeepSeek's V3 README runs Qwen2.5 72B) gives one comparable set.
QUALITY_BENCHMARKS = ("mmlu-pro", "gpqa-diamond", "livebench", "mmlu", "mmlu-redux")
# The measure later code (plans that offer a better model, `fit` ranking) reads first: MMLU-Pro,
# the one benchmark most publishers of the KB's models report (docs/kb.md, "Quality").
PRIMARY_BENCHMARK = "mmlu-pro"
VARIANT_PREFERENCE = ("instruct", "thinking", "base")


@dataclass(frozen=True, kw_only=True)
class QualityScore(_Entry):
    """A published quality measure of the model: a benchmark's score in percent (accuracy 0-100,
    as published), the setting it was run in ("5-shot CoT", "0-shot"), which checkpoint was
    measured (variant: base, instruct, or thinking for a reasoning mode or model), who ran it
    (evaluator: an organisation or leaderboard id; self_reported when that is the model's own
    publisher), the page it was read from and the date of that publication (YYYY-MM or
    YYYY-MM-DD; the date read where that is unknown, and the note says so). A score is its own
    source: `sources` does not name it. Scores compare only within one benchmark, evaluator and
    setting."""
    benchmark: Literal[QUALITY_BENCHMARKS]  # type: ignore[valid-type]
    score: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    setting: Annotated[str, Field(min_length=2, max_length=60)]
    variant: Literal["base", "instruct", "thinking"]
    evaluator: Annotated[str, Field(pattern=ID_PATTERN)]
    self_reported: bool = False
    source: Annotated[str, Field(pattern=URL_PATTERN)]
    date: Annotated[str, Field(pattern=DATE_PATTERN)]
    note: Optional[str] = None

    @property
    def comparability(self) -> tuple[str, str, str]:
        """(benchmark, evaluator, setting): two scores with the same key were measured the same
        way and may be compared; other pairs may not (Meta's 5-shot CoT against a
        leaderboard's 5-shot log-likelihood differ by more than most gaps between models)."""
        return (self.benchmark, self.evaluator, self.setting.lower())

    def __post_init__(self) -> None:
        check_date(self.date)


@dataclass(frozen=True, kw_only=True)
class Licence(_Entry):
    """The licence the weights are published under: `id`, its SPDX identifier where SPDX lists
    it (Apache-2.0, MIT, CC-BY-NC-4.0), else its name as the publisher writes it ("EXAONE AI
    Model License Agreement 1.2 - NC"); `commercial` false where it does not allow commercial
    use; the page it was read from. Like a score, a licence is its own source (`sources` does not
    name it). Optional: an entry without one says nothing about its licence."""
    # letters, digits, spaces and . , + ( ) / _ - only: it is quoted in advisories as it stands
    id: Annotated[str, Field(min_length=2, max_length=80,
                             pattern=r"^[A-Za-z0-9][A-Za-z0-9 .,+()/_-]*[A-Za-z0-9)]$")]
    commercial: bool
    source: Annotated[str, Field(pattern=URL_PATTERN)]
    note: Optional[str] = None


@dataclass(frozen=True, kw_only=True)
class RopeScaling(_Entry):
    """The rope scaling the publisher's model card says to turn on for contexts beyond the
    config's max_position_embeddings (Qwen2, Qwen2.5, Qwen3: YaRN, factor 4 over 32,768
    positions, "only when processing long contexts is required"): `type` (yarn, the only kind a
    card in the KB gives), `factor`, `original_context` (the card's
    original_max_position_embeddings), `rope_theta` (the config's, which transformers v5's
    rope_parameters carries beside the scaling), and the card's page. Like a licence, it is
    its own source. Only a model whose advertised_context exceeds max_position_embeddings has
    one (Model.__post_init__); commands add it only for a context beyond those positions
    (advisor.plans.commands.rope_scaling_for)."""
    type: Literal["yarn"]
    factor: Annotated[float, Field(gt=1, le=64, allow_inf_nan=False)]
    original_context: Annotated[int, Field(gt=0, le=MAX_CONTEXT)]
    rope_theta: Annotated[float, Field(gt=0, le=MAX_ROPE_THETA, allow_inf_nan=False)]
    source: Annotated[str, Field(pattern=URL_PATTERN)]
    note: Optional[str] = None


def _check_sources(entry, fact_fields: list[str], optional: tuple[str, ...] = ()) -> None:
    """Every fact field that is set has a source; a source names only fact fields (or an
    `optional` one: a field that may cite a source without needing one, as aliases may)."""
    covered = {f for s in entry.sources for f in s.fields}
    unknown = covered - set(fact_fields) - set(optional)
    if unknown:
        raise ValueError(f"sources name unknown field(s): {', '.join(sorted(unknown))}")
    missing = [f for f in fact_fields if getattr(entry, f) not in (None, [], False) and f not in covered]
    if missing:
        raise ValueError(f"fact(s) without a source: {', '.join(missing)}")


@dataclass(frozen=True, kw_only=True)
class Architecture(_Entry):
    layers: Annotated[int, Field(gt=0, le=MAX_LAYERS)]
    hidden_size: Annotated[int, Field(gt=0, le=MAX_HIDDEN_SIZE)]
    attention_heads: Annotated[int, Field(gt=0, le=MAX_HEADS)]
    kv_heads: Annotated[int, Field(gt=0, le=MAX_HEADS)]
    head_dim: Annotated[int, Field(gt=0, le=MAX_HEAD_DIM)]
    ffn_size: Annotated[int, Field(gt=0, le=MAX_FFN_SIZE)]
    vocab_size: Annotated[int, Field(gt=0, le=MAX_VOCAB)]
    tied_embeddings: bool
    max_context: Annotated[int, Field(gt=0, le=MAX_CONTEXT)]
    qkv_bias: bool = False
    qk_norm: bool = False               # per-head RMSNorm on q and k (Qwen3, Gemma 3)
    # With qk_norm: each head has its own norm weights (Command R+: heads x head_dim) instead
    # of one head_dim vector shared by all heads (Qwen3, Gemma 3).
    qk_norm_per_head: bool = False
    norms_per_layer: Annotated[int, Field(ge=0, le=MAX_NORMS_PER_LAYER)] = 2
    # Sliding-window attention: `sliding_window` tokens on sliding layers. With
    # sliding_window_pattern N, every Nth layer (layer i with (i + 1) % N == 0) is global and
    # the others slide (Gemma 2: 2, Gemma 3: 6); with no pattern, every layer slides
    # (Mistral 7B v0.1, Phi-3 mini).
    sliding_window: Annotated[Optional[int], Field(gt=0, le=MAX_CONTEXT)] = None
    sliding_window_pattern: Annotated[Optional[int], Field(gt=1, le=MAX_LAYERS)] = None
    # Multi-head latent attention (DeepSeek V2/V3): the cache holds kv_lora_rank +
    # qk_rope_head_dim values a token a layer instead of K and V heads.
    kv_lora_rank: Annotated[Optional[int], Field(gt=0, le=MAX_HIDDEN_SIZE)] = None
    q_lora_rank: Annotated[Optional[int], Field(gt=0, le=MAX_HIDDEN_SIZE)] = None
    qk_rope_head_dim: Annotated[Optional[int], Field(gt=0, le=MAX_HEAD_DIM)] = None
    qk_nope_head_dim: Annotated[Optional[int], Field(gt=0, le=MAX_HEAD_DIM)] = None
    v_head_dim: Annotated[Optional[int], Field(gt=0, le=MAX_HEAD_DIM)] = None
    # The runtime caches per-head K (kv_heads x head_dim) and V (kv_heads x v_head_dim) rows
    # instead of the latent: llama.cpp with a GGUF converted before attn_kv_b was split into
    # attn_k_b / attn_v_b (llama.cpp PR 12801, April 2025; such files lack
    # attention.key_length_mla). DeepSeek V2 Lite at 32K: 8,640 MiB against 972 MiB latent.
    mla_per_head_cache: bool = False
    # Mixture of experts: experts_total routed experts of expert_ffn_size (default ffn_size),
    # experts_active used a token, experts_shared always used; the first dense_layers layers
    # are dense (with ffn_size), then every moe_layer_step-th layer is MoE (Llama 4 Maverick: 2).
    experts_total: Annotated[Optional[int], Field(gt=1, le=MAX_EXPERTS)] = None
    experts_active: Annotated[Optional[int], Field(gt=0, le=MAX_EXPERTS)] = None
    experts_shared: Annotated[int, Field(ge=0, le=MAX_EXPERTS)] = 0
    expert_ffn_size: Annotated[Optional[int], Field(gt=0, le=MAX_FFN_SIZE)] = None
    dense_layers: Annotated[int, Field(ge=0, le=MAX_LAYERS)] = 0
    moe_layer_step: Annotated[int, Field(ge=1, le=MAX_LAYERS)] = 1
    # Biases beyond qkv_bias: attn_output_bias on the attention output projection; ffn_bias on
    # every FFN/expert projection (gpt-oss); router_bias on the MoE router (gpt-oss: a bias
    # added to the logits; DeepSeek V3: the e_score_correction_bias used to pick experts).
    attn_output_bias: bool = False
    ffn_bias: bool = False
    router_bias: bool = False
    # One learned attention-sink logit per query head and layer (gpt-oss).
    attention_sinks: bool = False
    # How the checkpoint stores projections: fused_qkv, one q|k|v matrix (Phi-3 qkv_proj);
    # fused_gate_up, one gate|up matrix (Phi-3 gate_up_proj). Same parameters, other tensors.
    fused_qkv: bool = False
    fused_gate_up: bool = False
    # Attention and FFN read the same normed input and add to the residual together (Cohere
    # Command R: one norm a layer). Documents the block; counts follow norms_per_layer.
    parallel_attention: bool = False
    # Normalisation: RMSNorm, or LayerNorm (Command R: LayerNorm with a weight and no bias, so
    # the same parameters as RMSNorm).
    norm: Literal["rmsnorm", "layernorm"] = "rmsnorm"
    # The routed-expert weights as the checkpoint ships them when they are not 16-bit
    # (gpt-oss: MXFP4, 4-bit values with an 8-bit shared exponent a block of 32).
    expert_checkpoint_dtype: Optional[Literal["mxfp4"]] = None
    # A sigmoid gate (hidden_size x 1 a layer) that scales the shared experts' output
    # (Qwen2-MoE, Qwen3-Next: shared_expert_gate). Needs experts_shared.
    shared_expert_gate: bool = False
    # Gated attention (Qwen3-Next): the query projection also yields a sigmoid gate on the
    # attention output, one value per head and dim, so attn_q is twice attention_heads x
    # head_dim wide (attn_output_gate in config.json). The KV cache is unchanged.
    attn_output_gate: bool = False
    # Hybrid linear attention (Qwen3-Next's Gated DeltaNet). With full_attention_interval N,
    # layer i with (i + 1) % N == 0 is full softmax attention with a KV cache and every other
    # layer is a Gated DeltaNet layer, which keeps a fixed-size state a sequence however long
    # the context: a causal-convolution state of (linear_conv_kernel - 1) x conv_dim values
    # (conv_dim = 2 x linear_key_heads x linear_key_head_dim + linear_value_heads x
    # linear_value_head_dim: q, k and v) and a recurrent matrix of linear_value_heads x
    # linear_key_head_dim x linear_value_head_dim. Its tensors: a q|k|v|z input projection,
    # a beta|alpha projection (2 x linear_value_heads), the conv1d kernel, dt bias and A (one
    # a value head), a gated RMSNorm of linear_value_head_dim and the output projection.
    full_attention_interval: Annotated[Optional[int], Field(gt=1, le=MAX_LAYERS)] = None
    linear_key_heads: Annotated[Optional[int], Field(gt=0, le=MAX_HEADS)] = None
    linear_value_heads: Annotated[Optional[int], Field(gt=0, le=MAX_HEADS)] = None
    linear_key_head_dim: Annotated[Optional[int], Field(gt=0, le=MAX_HEAD_DIM)] = None
    linear_value_head_dim: Annotated[Optional[int], Field(gt=0, le=MAX_HEAD_DIM)] = None
    linear_conv_kernel: Annotated[Optional[int], Field(gt=1, le=MAX_CONV_KERNEL)] = None
    # DeepSeek Sparse Attention (V3.2): a lightning indexer in every latent-attention layer
    # scores past tokens and attention reads only the index_topk best. Its weights: a query
    # projection from the q latent (q_lora_rank -> index_heads x index_head_dim), one key
    # (hidden_size -> index_head_dim) with a LayerNorm with weight and bias, and per-head
    # weights (hidden_size -> index_heads). It caches its key, index_head_dim values a token a
    # layer, beside the latent (index_n_heads, index_head_dim, index_topk in config.json).
    # Cross-attention layers (Llama 3.2 Vision, mllama): from layer cross_attention_first on,
    # every cross_attention_interval-th layer (0-based i with i >= first and (i - first) %
    # interval == 0) attends to a fixed set of cross_attention_tokens image tokens a sequence
    # instead of the text: its K and V are computed from the vision encoder's output, so its
    # KV cache holds cross_attention_tokens rows a sequence whatever the context. Each has q, k,
    # v, o projections of the self-attention shape, q/k RMSNorms of head_dim and two scalar tanh
    # gates (attention and MLP), beside the usual MLP and two norms. Llama 3.2 Vision:
    # config.json's text_config cross_attention_layers [3, 8, 13, ...] is first 3, interval 5;
    # one image of max_num_tiles 4 tiles of (560 / 14)^2 + 1 = 1,601 patches is 6,404 tokens.
    cross_attention_interval: Annotated[Optional[int], Field(gt=1, le=MAX_LAYERS)] = None
    cross_attention_first: Annotated[int, Field(ge=0, le=MAX_LAYERS)] = 0
    cross_attention_tokens: Annotated[Optional[int], Field(gt=0, le=MAX_CONTEXT)] = None
    # Rows the token-embedding table has beyond vocab_size (Llama 3.2 Vision: 8, embed_tokens of
    # vocab_size + 8 for its image tokens); the output head keeps vocab_size rows.
    embedding_extra_rows: Annotated[int, Field(ge=0, le=MAX_VOCAB)] = 0
    index_heads: Annotated[Optional[int], Field(gt=0, le=MAX_HEADS)] = None
    index_head_dim: Annotated[Optional[int], Field(gt=0, le=MAX_HEAD_DIM)] = None
    index_topk: Annotated[Optional[int], Field(gt=0, le=MAX_CONTEXT)] = None

    def __post_init__(self) -> None:
        if self.attention_heads % self.kv_heads:
            raise ValueError(
                f"kv_heads {self.kv_heads} does not divide attention_heads {self.attention_heads}"
            )
        if (self.experts_total is None) != (self.experts_active is None):
            raise ValueError("experts_total and experts_active go together")
        if self.experts_total and self.experts_active > self.experts_total:
            raise ValueError("experts_active exceeds experts_total")
        if self.sliding_window_pattern and not self.sliding_window:
            raise ValueError("sliding_window_pattern needs sliding_window")
        mla = [self.kv_lora_rank, self.qk_rope_head_dim]
        if any(mla) and not all(mla):
            raise ValueError("multi-head latent attention needs kv_lora_rank and qk_rope_head_dim")
        if self.kv_lora_rank and not (self.qk_nope_head_dim and self.v_head_dim):
            raise ValueError("multi-head latent attention needs qk_nope_head_dim and v_head_dim")
        if self.qk_norm_per_head and not self.qk_norm:
            raise ValueError("qk_norm_per_head needs qk_norm")
        if self.mla_per_head_cache and not self.kv_lora_rank:
            raise ValueError("mla_per_head_cache is a multi-head latent attention field: set kv_lora_rank")
        if self.q_lora_rank and not self.kv_lora_rank:
            raise ValueError("q_lora_rank is a multi-head latent attention field: set kv_lora_rank")
        moe_only = {"experts_shared": self.experts_shared, "expert_ffn_size": self.expert_ffn_size,
                    "dense_layers": self.dense_layers, "router_bias": self.router_bias,
                    "moe_layer_step": self.moe_layer_step > 1,
                    "expert_checkpoint_dtype": self.expert_checkpoint_dtype}
        stray = [k for k, v in moe_only.items() if v and not self.experts_total]
        if stray:
            raise ValueError(f"{', '.join(stray)} need(s) experts_total (a mixture of experts)")
        if self.experts_total and self.dense_layers >= self.layers:
            raise ValueError("dense_layers leaves no mixture-of-experts layer")
        if self.shared_expert_gate and not self.experts_shared:
            raise ValueError("shared_expert_gate needs experts_shared (a shared expert to gate)")
        linear = {"full_attention_interval": self.full_attention_interval,
                  "linear_key_heads": self.linear_key_heads,
                  "linear_value_heads": self.linear_value_heads,
                  "linear_key_head_dim": self.linear_key_head_dim,
                  "linear_value_head_dim": self.linear_value_head_dim,
                  "linear_conv_kernel": self.linear_conv_kernel}
        if any(linear.values()) and not all(linear.values()):
            missing = ", ".join(k for k, v in linear.items() if not v)
            raise ValueError(f"hybrid linear attention needs {missing} as well")
        if self.linear_key_heads and self.linear_value_heads % self.linear_key_heads:
            raise ValueError(f"linear_key_heads {self.linear_key_heads} does not divide "
                             f"linear_value_heads {self.linear_value_heads}")
        if self.full_attention_interval and self.full_attention_interval > self.layers:
            raise ValueError("full_attention_interval leaves no full-attention layer")
        if self.full_attention_interval and (self.kv_lora_rank or self.sliding_window):
            raise ValueError("hybrid linear attention is not combined with latent attention or "
                             "a sliding window")
        index = [self.index_heads, self.index_head_dim, self.index_topk]
        if any(index) and not all(index):
            raise ValueError("the lightning indexer needs index_heads, index_head_dim and index_topk")
        if self.index_heads and not self.q_lora_rank:
            raise ValueError("the lightning indexer reads the q latent: set kv_lora_rank and q_lora_rank")
        if bool(self.cross_attention_interval) != bool(self.cross_attention_tokens):
            raise ValueError("cross_attention_interval and cross_attention_tokens go together")
        if self.cross_attention_first and not self.cross_attention_interval:
            raise ValueError("cross_attention_first needs cross_attention_interval")
        if self.cross_attention_interval and self.cross_attention_first >= self.layers:
            raise ValueError("cross_attention_first leaves no cross-attention layer")
        if self.cross_attention_interval and (self.kv_lora_rank or self.sliding_window
                                              or self.full_attention_interval):
            raise ValueError("cross-attention layers are not combined with latent attention, a "
                             "sliding window or linear attention")
        if self.attn_output_gate and self.kv_lora_rank:
            raise ValueError("attn_output_gate is for grouped-query attention, not latent attention")

    def is_cross_attention_layer(self, i: int) -> bool:
        """Layer i (0-based) attends to the cross_attention_tokens image tokens, not the text
        (Llama 3.2 Vision: layers 3, 8, 13, ...)."""
        n, first = self.cross_attention_interval, self.cross_attention_first
        return bool(n) and i >= first and (i - first) % n == 0

    @property
    def cross_attention_layer_count(self) -> int:
        """Cross-attention layers (0 without them)."""
        n, first = self.cross_attention_interval, self.cross_attention_first
        return (self.layers - first + n - 1) // n if n else 0

    def is_linear_layer(self, i: int) -> bool:
        """Layer i (0-based) is a linear-attention (Gated DeltaNet) layer: with
        full_attention_interval N, every layer but i with (i + 1) % N == 0 (Qwen3-Next, N 4:
        layers 3, 7, 11, ... are full attention)."""
        n = self.full_attention_interval
        return bool(n) and (i + 1) % n != 0

    @property
    def linear_layer_count(self) -> int:
        """Linear-attention layers (0 without hybrid linear attention)."""
        n = self.full_attention_interval
        return self.layers - self.layers // n if n else 0

    def is_moe_layer(self, i: int) -> bool:
        """Layer i (0-based) has routed experts: after the first dense_layers, every
        moe_layer_step-th layer (Llama 4 Maverick, step 2: layers 1, 3, 5, ...)."""
        if not self.experts_total or i < self.dense_layers:
            return False
        return (i - self.dense_layers + 1) % self.moe_layer_step == 0


REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$"
# A Python class name as transformers and vLLM spell architectures (LlamaForCausalLM, Qwen2_5_VLForConditionalGeneration).
HF_CLASS_PATTERN = r"^[A-Z][A-Za-z0-9_]{1,79}$"


@dataclass(frozen=True, kw_only=True)
class Checkpoint(_Entry):
    """A published checkpoint of the model in another format: the publisher's own FP8/AWQ/GPTQ/
    MXFP4 release or a well-known quantizer's (hugging-quants, RedHatAI/neuralmagic, unsloth)."""
    repo: Annotated[str, Field(pattern=REPO_PATTERN)]
    precision: str        # a precision name (advisor.sizing.precision), checked by the loader
    publisher: Annotated[str, Field(min_length=2)]


# mlx-community's repo suffixes and the precision each holds (mlx_lm.convert -q --q-bits B
# writes B-bit affine weights; -bf16/-fp16 are unquantized conversions).
MLX_REPO_SUFFIXES = {"-3bit": "mlx-3bit", "-4bit": "mlx-4bit", "-6bit": "mlx-6bit",
                     "-8bit": "mlx-8bit", "-bf16": "bf16", "-fp16": "fp16"}


def mlx_repo_precision(repo: str) -> str | None:
    """The precision an MLX repo holds, from its name's suffix (MLX_REPO_SUFFIXES), or None."""
    low = repo.lower()
    return next((p for suf, p in MLX_REPO_SUFFIXES.items() if low.endswith(suf)), None)


@dataclass(frozen=True, kw_only=True)
class Model(_Entry):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"\S")]
    family: str
    aliases: list[str] = _list()
    siblings: list[str] = _list()
    # The model this one was distilled from (a KB id, checked by the loader like siblings):
    # DeepSeek-R1-Distill-Qwen-7B has distilled_from deepseek-r1.
    distilled_from: Annotated[Optional[str], Field(pattern=ID_PATTERN)] = None
    architecture: Architecture
    # The Hugging Face architecture class of the checkpoint the commands load (instruct_repo),
    # exactly as its config.json spells architectures[0] (Qwen3ForCausalLM,
    # Gemma3ForConditionalGeneration): vLLM loads a model only where its model registry has
    # that class (advisor/data/vllm_architectures.yaml, advisor.sizing.vllm_models). For a repo in
    # Mistral's own format (mistral_format: params.json, no config.json) it is the class vLLM's
    # Mistral config reader names. Every built-in entry has one (tests/test_vllm_models.py);
    # an entry of your own (--kb) or a GGUF file may leave it out, and a vLLM advisory then says
    # that the check could not be made.
    hf_architecture: Annotated[Optional[str], Field(pattern=HF_CLASS_PATTERN)] = None
    # The parameter count its publisher gives. published_parameters_exact: true when it is
    # exact (safetensors total_size / bytes a parameter, or a count to the parameter), false
    # when it is a rounded figure ("7.61B" -> 7610000000); the source's note says which.
    published_parameters: Annotated[Optional[int], Field(gt=0, le=MAX_PARAMETERS)] = None
    published_parameters_exact: bool = True
    # For a mixture of experts, the published parameters used a token (rounded as published);
    # published_active_excludes_embedding: the publisher leaves the token-embedding table out
    # of its active count (gpt-oss: a lookup reads one row of it).
    published_active_parameters: Annotated[Optional[int], Field(gt=0, le=MAX_PARAMETERS)] = None
    published_active_excludes_embedding: bool = False
    # The released checkpoint also holds a vision encoder (and projector) that the
    # architecture here leaves out: counts and sizes are for the text model only.
    # published_parameters_include_vision: the published total counts that encoder too (Llama
    # 4), so it bounds the text count from above rather than equalling it.
    vision_tower_excluded: bool = False
    published_parameters_include_vision: bool = False
    # How transformers and vLLM load the checkpoint where the defaults do not: a checkpoint
    # with a vision encoder loads through its ConditionalGeneration class, which transformers'
    # AutoModelForImageTextToText maps (transformers 5.24.0 models/auto/modeling_auto.py;
    # mistral3, qwen2_5_vl and qwen3_vl are not in its causal-LM mapping at all);
    # trust_remote_code: the repo ships its own modeling code (Phi-3.5-vision); transformers_repo:
    # a transformers-format copy where instruct_repo is in another format; mistral_format:
    # instruct_repo holds Mistral's own format (params.json, consolidated.safetensors, tekken.json)
    # only: vLLM needs --tokenizer-mode mistral (its config and load formats are detected).
    trust_remote_code: bool = False
    transformers_repo: Annotated[Optional[str], Field(pattern=REPO_PATTERN)] = None
    mistral_format: bool = False
    # The checkpoint as published (issue 17: the baseline of every advisory): the precision of
    # the released weights (a precision name: bf16 for Llama 3, fp8 for DeepSeek V3, mxfp4 for
    # gpt-oss), the instruction-tuned repo people chat with, the publisher's and well-known
    # quantized checkpoints, and GGUF repos that llama-server -hf ORG/REPO:QUANT can load.
    native_precision: Optional[str] = None
    instruct_repo: Annotated[Optional[str], Field(pattern=REPO_PATTERN)] = None
    checkpoints: list[Checkpoint] = _list()
    gguf_repos: list[Annotated[str, Field(pattern=REPO_PATTERN)]] = _list()
    # MLX repos mlx_lm.generate / mlx_lm.server --model can load (mlx-community's conversions,
    # written by mlx_lm.convert): the precision each holds is read from the name's suffix, as
    # mlx-community names them (-4bit, -8bit ...; -bf16, -fp16): MLX_REPO_SUFFIXES.
    mlx_repos: list[Annotated[str, Field(pattern=REPO_PATTERN)]] = _list()
    # The context the publisher advertises (model card), where it differs from the config's
    # max_position_embeddings (Command R: 8,192 in config.json, 128k on the card).
    advertised_context: Annotated[Optional[int], Field(gt=0, le=MAX_CONTEXT)] = None
    # The rope scaling the model card gives for the advertised context (RopeScaling), where the
    # config's positions do not reach it without one (Qwen2.5: YaRN over 32,768). None where
    # the positions extend unscaled (Command R) or the config already scales (Llama 3.1).
    rope_scaling: Optional[RopeScaling] = None
    # A reasoning model's output budget: the generation length in tokens (thinking and answer
    # together) its publisher recommends or sets for it (DeepSeek R1: "the maximum generation
    # length is set to 32,768 tokens"; Qwen3: "an output length of 32,768 tokens for most
    # queries"). A context left to its default holds a prompt and this much output
    # (advisor.sizing.workload.default_context_tokens). None for chat models and for reasoning
    # models whose card gives no figure.
    recommended_output_tokens: Annotated[Optional[int], Field(gt=0, le=MAX_CONTEXT)] = None
    # The quantization of this model's tags in Ollama's library (`ollama run NAME:SIZE` with no
    # quantization in the tag), a llama.cpp file type (Q4_0 for llama3, gemma2, mixtral ...),
    # where it is not Ollama's usual Q4_K_M (advisor/kb/ollama.py DEFAULT_QUANT). Ollama tags
    # themselves are aliases (`llama3.1:70b`); a source for `aliases` cites the library page.
    ollama_quant: Optional[str] = None
    # Ollama's library files of this latent-attention model were converted without llama.cpp's
    # split attn_k_b / attn_v_b tensors, so its llama.cpp engine caches per-head K and V rather
    # than the latent (Architecture.mla_per_head_cache): asked by an Ollama name, it is sized so.
    ollama_mla_per_head_cache: bool = False
    # The gguf_repos whose files of this latent-attention model were converted before llama.cpp
    # PR 12801 (April 2025: no attn_k_b / attn_v_b), so llama.cpp caches per-head K and V when it
    # loads them (Architecture.mla_per_head_cache): plans that download them are sized so, and a
    # file made with current llama.cpp (latent cache) is offered beside them.
    gguf_repos_per_head_cache: list[Annotated[str, Field(pattern=REPO_PATTERN)]] = _list()
    # Published quality measures (issue 13), each with its own source and date; see
    # QualityScore and docs/kb.md "Quality". Not named by `sources`.
    quality: list[QualityScore] = _list()
    # The licence of the published weights (Licence; docs/kb.md "Licence"), with its own source.
    licence: Optional[Licence] = None
    sources: Annotated[list[Source], Field(min_length=1)]

    def quality_scores(self, benchmark: str = PRIMARY_BENCHMARK) -> list[QualityScore]:
        """Every published score of `benchmark`, the preferred first: the publisher's own
        figures (self_reported) before any other evaluator's, then within each the instruct
        checkpoint's, the thinking mode's, the base model's (VARIANT_PREFERENCE), then file
        order. Publisher first, so that the figure compared with other models' is, wherever the
        KB has one, of the one kind most models have (comparable_score). Empty when the entry
        has none."""
        found = [q for q in self.quality if q.benchmark == benchmark]
        return sorted(found, key=lambda q: (not q.self_reported, VARIANT_PREFERENCE.index(q.variant)))

    def comparable_score(self, basis: QualityScore) -> QualityScore | None:
        """This model's score measured like `basis` (another model's QualityScore), or None:
        of basis's benchmark and variant, and either the publisher's own figure where basis is
        its publisher's own (each publisher runs its own harness, so two such figures differ by
        harness as well as by model, but they are the one kind most models have: docs/kb.md,
        "Quality"), or, where basis is another evaluator's run, that evaluator's run in the same
        setting (QualityScore.comparability). Never a third party's figure against a
        publisher's: mlx-lm's 72.62 for Qwen3-30B-A3B-Instruct-2507 is not set against LG's own
        77.6 for EXAONE 4.0 32B (Qwen's own card gives 78.4)."""
        for q in self.quality_scores(basis.benchmark):
            if q.variant != basis.variant:
                continue
            if basis.self_reported:
                if q.self_reported:
                    return q
            elif not q.self_reported and q.comparability == basis.comparability:
                return q
        return None

    def quality_score(self, benchmark: str = PRIMARY_BENCHMARK, *, variant: str | None = None,
                      evaluator: str | None = None) -> QualityScore | None:
        """The preferred published score of `benchmark` (percent, QualityScore.score), optionally
        only of one variant (base, instruct, thinking) or evaluator; None when there is none.
        Compare two models' scores only when their `comparability` keys are equal."""
        for q in self.quality_scores(benchmark):
            if (variant is None or q.variant == variant) and (evaluator is None or q.evaluator == evaluator):
                return q
        return None

    @property
    def transformers_auto_class(self) -> str:
        """The transformers Auto class that loads this checkpoint: AutoModelForImageTextToText
        for a checkpoint with a vision encoder (its ConditionalGeneration class) unless the repo
        ships its own code, else AutoModelForCausalLM."""
        if self.vision_tower_excluded and not self.trust_remote_code:
            return "AutoModelForImageTextToText"
        return "AutoModelForCausalLM"

    @property
    def context_limit(self) -> int:
        """The longest context in tokens the model is published for: the advertised one where
        the publisher gives more than config.json's max_position_embeddings (Command R: 131,072
        against 8,192), else max_position_embeddings."""
        return max(self.architecture.max_context, self.advertised_context or 0)

    @property
    def context_limit_source(self) -> str:
        """Where a context_limit beyond max_position_embeddings comes from, in words: the YaRN
        rope scaling the model's own config.json declares (a model read from a file:
        advisor.files.hf.yarn_scaling, whose RopeScaling cites the file), else what the
        publisher advertises."""
        r = self.rope_scaling
        if r is not None and r.source.startswith("file:"):
            return (f"its config.json's YaRN rope scaling, factor {r.factor:g} over "
                    f"{r.original_context:,} positions")
        return "what its publisher advertises"

    def __post_init__(self) -> None:
        _check_sources(self, ["architecture", "hf_architecture", "published_parameters", "published_active_parameters",
                              "native_precision", "instruct_repo", "checkpoints", "gguf_repos", "mlx_repos",
                              "advertised_context", "ollama_quant", "ollama_mla_per_head_cache",
                              "trust_remote_code", "transformers_repo", "mistral_format",
                              "gguf_repos_per_head_cache", "recommended_output_tokens"],
                      optional=("aliases",))
        if self.ollama_quant is not None:
            from advisor.errors import AdvisorError
            from advisor.sizing.precision import parse_precision

            try:
                if parse_precision(self.ollama_quant).family == "checkpoint":
                    raise ValueError(f"ollama_quant '{self.ollama_quant}' is not a GGUF (llama.cpp) type")
            except AdvisorError as exc:
                raise ValueError(f"ollama_quant: {exc}") from None
        if self.rope_scaling is not None:
            r, a = self.rope_scaling, self.architecture
            if (self.advertised_context or 0) <= a.max_context:
                raise ValueError("rope_scaling is for a model whose advertised_context exceeds its "
                                 f"config's max_position_embeddings ({a.max_context})")
            if r.original_context > a.max_context:
                raise ValueError(f"rope_scaling.original_context {r.original_context} exceeds the "
                                 f"config's max_position_embeddings ({a.max_context})")
            if r.original_context * r.factor < self.advertised_context:
                raise ValueError(f"rope_scaling reaches {r.original_context * r.factor:,.0f} tokens "
                                 f"(original_context x factor), short of advertised_context "
                                 f"{self.advertised_context}")
        if (self.recommended_output_tokens or 0) > self.context_limit:
            raise ValueError(f"recommended_output_tokens {self.recommended_output_tokens} is beyond "
                             f"the model's context ({self.context_limit})")
        if self.ollama_mla_per_head_cache and not self.architecture.kv_lora_rank:
            raise ValueError("ollama_mla_per_head_cache is for a multi-head latent attention model")
        for listed in ("gguf_repos", "mlx_repos"):  # Hugging Face ignores a repo id's case
            seen: set[str] = set()
            for repo in getattr(self, listed):
                if repo.lower() in seen:
                    raise ValueError(f"{listed} lists {repo} twice: keep one")
                seen.add(repo.lower())
        for repo in self.mlx_repos:
            if mlx_repo_precision(repo) is None:
                raise ValueError(f"mlx_repos: {repo} does not end in one of "
                                 f"{', '.join(MLX_REPO_SUFFIXES)} (the precision it holds)")
        if self.gguf_repos_per_head_cache:
            if not self.architecture.kv_lora_rank:
                raise ValueError("gguf_repos_per_head_cache is for a multi-head latent attention model")
            stray = [r for r in self.gguf_repos_per_head_cache if r not in self.gguf_repos]
            if stray:
                raise ValueError(f"gguf_repos_per_head_cache names {stray[0]}, which is not in gguf_repos")
        if self.published_active_parameters and not self.architecture.experts_total:
            raise ValueError("published_active_parameters is for a mixture of experts")
        if self.published_parameters_include_vision and not self.vision_tower_excluded:
            raise ValueError("published_parameters_include_vision needs vision_tower_excluded")
        if self.id in self.siblings:
            raise ValueError("a model is not its own sibling")
        if self.distilled_from == self.id:
            raise ValueError("a model is not distilled from itself")
        keys = [(q.comparability, q.variant) for q in self.quality]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            (bench, evaluator, setting), variant = twice[0]
            raise ValueError(f"quality lists {bench} ({evaluator}, {setting}) of the {variant} "
                             "checkpoint twice: keep one and say why in its note")


VENDORS = ("nvidia", "amd", "apple", "intel")


@dataclass(frozen=True, kw_only=True)
class GPU(_Entry):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"\S")]
    vendor: Literal[VENDORS]  # type: ignore[valid-type]
    aliases: list[str] = _list()
    segment: Optional[Literal["datacenter", "workstation", "consumer", "laptop", "soc"]] = None
    # lower-case family: pascal, volta, turing, ampere, ada-lovelace, hopper, blackwell, cdna1 ..
    # cdna4, rdna3, rdna3.5, rdna4, apple-m1 .. apple-m4, gaudi2, gaudi3, xe-hpg, xe2
    architecture: Annotated[str, Field(pattern=ID_PATTERN)]
    # An AMD GPU's LLVM target (gfx942, gfx1100, gfx1102), as ROCm's GPU specifications table
    # and LLVM's AMDGPU processor table name it: ROCm runtimes build their kernels for a list of
    # targets, so two cards of one family can differ (vLLM runs the RX 7900 XTX's gfx1100, not
    # the RX 7600's gfx1102). AMD GPUs only; None: not sourced, the family decides.
    gfx_target: Annotated[Optional[str], Field(pattern=r"^gfx[0-9a-f]{3,4}$")] = None
    memory_bytes: Annotated[int, Field(gt=0, le=MAX_MEMORY_BYTES)]
    # The total the CUDA/ROCm driver reports for the card (bytes): cudaMemGetInfo's total, what
    # torch.cuda.mem_get_info()[1] returns, vLLM logs as total_gpu_memory and PyTorch's
    # out-of-memory message as "total capacity". It is below memory_bytes (an H100 80GB reports
    # 79.18 GiB): the driver keeps the rest for itself. vLLM and SGLang budget from it
    # (advisor.sizing.vllm_memory, sglang_memory); None: not sourced, the marketed figure is used.
    # nvidia-smi's "Total" is another, larger reading (it still counts memory CUDA reserves) and
    # is not this field. Discrete cards: between REPORTED_MEMORY_MIN_SHARE of memory_bytes and
    # memory_bytes. A unified-memory part under Linux (DGX Spark) may give it too: the total
    # CUDA reports (what the OS leaves), above what is free for the GPU (gpu_memory_share).
    reported_memory_bytes: Annotated[Optional[int], Field(gt=0, le=MAX_MEMORY_BYTES)] = None
    # Apple and other unified-memory parts: the share of memory the GPU may use by default
    # (macOS recommendedMaxWorkingSetSize); None for discrete cards.
    unified_memory: bool = False
    gpu_memory_share: Annotated[Optional[float], Field(gt=0, le=1, allow_inf_nan=False)] = None
    memory_type: Optional[str] = None
    bandwidth_gb_s: Annotated[float, Field(ge=MIN_BANDWIDTH_GB_S, le=MAX_BANDWIDTH_GB_S, allow_inf_nan=False)]
    fp32_tflops: Annotated[Optional[float], Field(ge=MIN_TFLOPS, le=MAX_TFLOPS, allow_inf_nan=False)] = None
    fp16_tflops: Annotated[Optional[float], Field(ge=MIN_TFLOPS, le=MAX_TFLOPS, allow_inf_nan=False)] = None
    bf16_tflops: Annotated[Optional[float], Field(ge=MIN_TFLOPS, le=MAX_TFLOPS, allow_inf_nan=False)] = None
    fp8_tflops: Annotated[Optional[float], Field(ge=MIN_TFLOPS, le=MAX_TFLOPS, allow_inf_nan=False)] = None
    int8_tops: Annotated[Optional[float], Field(ge=MIN_TFLOPS, le=MAX_TFLOPS, allow_inf_nan=False)] = None
    shader_cores: Annotated[Optional[int], Field(gt=0, le=MAX_CORES)] = None
    tensor_cores: Annotated[Optional[int], Field(gt=0, le=MAX_CORES)] = None
    interconnect: Optional[str] = None
    interconnect_gb_s: Annotated[Optional[float], Field(gt=0, le=MAX_BANDWIDTH_GB_S, allow_inf_nan=False)] = None
    # Rental prices, each from a provider's own pricing page with its date and URL (a price is
    # its own source, so `sources` does not name it). The planner rents at the cheapest
    # on-demand price per GPU-hour among them (on_demand_price).
    prices: list[Price] = _list()
    # How providers rent it (RENTALS): alone, node (whole 8-GPU nodes only) or none. A fact with a
    # source like any other; the prices must agree with it (no one-GPU price for a node-only
    # card, no price at all for one nobody rents). Unset (a user entry that does not say): read
    # from the prices alone.
    rental: Optional[Literal["alone", "node", "none"]] = None
    sources: Annotated[list[Source], Field(min_length=1)]

    def __post_init__(self) -> None:
        self._check_rental()
        from advisor.kb.formats import NATIVE_BY_ARCHITECTURE

        # a misspelt family ("hoper") would be read as an unknown card that computes in FP16
        # only, and every format check would answer for that card instead: refused. "unknown"
        # is what hardware detection writes for a card whose family no tool reported.
        if self.architecture not in NATIVE_BY_ARCHITECTURE and self.architecture != "unknown":
            raise ValueError(f"architecture '{self.architecture}' is not one the plans know "
                             f"({', '.join(NATIVE_BY_ARCHITECTURE)}, or unknown)")
        # a throughput for a format the family has no tensor math in (fp8_tflops on a Turing
        # card) would make the card run that format: the entry contradicts itself
        native = NATIVE_BY_ARCHITECTURE.get(self.architecture)
        for fmt, fld in (("bf16", "bf16_tflops"), ("fp8", "fp8_tflops"), ("int8", "int8_tops")):
            if native is not None and getattr(self, fld) is not None and fmt not in native:
                raise ValueError(f"{fld} is given, but architecture '{self.architecture}' has no "
                                 f"{fmt.upper()} tensor math (its formats: {', '.join(native)})")
        offers = [(p.provider, p.kind, p.gpus, p.source) for p in self.prices]
        twice = sorted({o for o in offers if offers.count(o) > 1})
        if twice:
            provider, kind, gpus, _ = twice[0]
            raise ValueError(f"prices lists {provider}'s {kind} price for {gpus} GPU(s) from the "
                             "same page twice")
        if self.gfx_target is not None and self.vendor != "amd":
            raise ValueError(f"gfx_target is an AMD GPU's LLVM target; this entry's vendor is "
                             f"{self.vendor}")
        if self.unified_memory != (self.gpu_memory_share is not None):
            raise ValueError("unified_memory and gpu_memory_share go together")
        self._check_reported_memory()
        _check_sources(
            self,
            [
                "architecture", "gfx_target", "memory_bytes", "reported_memory_bytes", "memory_type",
                "bandwidth_gb_s", "fp32_tflops", "fp16_tflops", "gpu_memory_share",
                "bf16_tflops", "fp8_tflops", "int8_tops", "shader_cores", "tensor_cores",
                "interconnect", "interconnect_gb_s", "rental",
            ],
        )

    def _check_reported_memory(self) -> None:
        """reported_memory_bytes is a discrete card's, below its memory_bytes and not below
        REPORTED_MEMORY_MIN_SHARE of it (a larger gap is a misread unit or another card)."""
        r = self.reported_memory_bytes
        if r is None:
            return
        if self.unified_memory:
            # a unified-memory part under Linux (DGX Spark): the total CUDA reports is what the
            # OS leaves of the memory, and what is free for the GPU at start (gpu_memory_share)
            # is less again; macOS reports its working-set limit, the share itself
            if self.vendor == "apple":
                raise ValueError("reported_memory_bytes is what CUDA or ROCm reports; an Apple "
                                 "part gives gpu_memory_share (Metal's working-set limit) alone")
            if not self.usable_memory_bytes <= r <= self.memory_bytes:
                raise ValueError(f"reported_memory_bytes ({r:,}) of a unified-memory part is the "
                                 "total CUDA reports, between what is free for the GPU "
                                 f"(gpu_memory_share: {self.usable_memory_bytes:,}) and "
                                 f"memory_bytes ({self.memory_bytes:,})")
            return
        if r >= self.memory_bytes:
            raise ValueError(f"reported_memory_bytes ({r:,}) must be below memory_bytes "
                             f"({self.memory_bytes:,}): the driver reports less than the card has")
        if r < REPORTED_MEMORY_MIN_SHARE * self.memory_bytes:
            raise ValueError(f"reported_memory_bytes ({r:,}) is {r / self.memory_bytes:.1%} of "
                             f"memory_bytes ({self.memory_bytes:,}), below the "
                             f"{REPORTED_MEMORY_MIN_SHARE:.0%} any driver reports: a unit misread?")

    def _check_rental(self) -> None:
        """The prices agree with how the card is rented: a card nobody rents has no price, a
        node-only card no one-GPU price."""
        if self.rental == "none" and self.prices:
            raise ValueError(f"rental is 'none' (not rented by the hour) but prices lists "
                             f"{len(self.prices)} offer(s): set rental to 'alone' or 'node'")
        if self.rental == "node":
            single = sorted({p.provider for p in self.prices if p.gpus < 8})
            if single:
                raise ValueError(f"rental is 'node' (only whole 8-GPU nodes) but {', '.join(single)} "
                                 "price(s) fewer GPUs: set rental to 'alone', or give the node's "
                                 "price (gpus: 8)")

    def on_demand_price(self, count: int = 1) -> Price | None:
        """The cheapest on-demand price per GPU-hour for renting `count` GPUs that work together
        (tensor parallel: they must share a machine), else None: an offer of exactly that unit
        (one card; Hugging Face's x2 and x4 instances; an 8-GPU node), or whole nodes of the
        largest multi-GPU unit where count is a multiple of it (several 8-GPU nodes). Where no
        provider rents the card in a multi-GPU unit at all, one-GPU offers price count x the
        card (an assumption the KB cannot do better than). Never count one-GPU instances, nor
        two 2-GPU machines, where a provider rents the machine that holds them: 4 T4 are
        Hugging Face's x4 instance ($3 an hour), not four x1 ($2)."""
        offers = [p for p in self.prices if p.kind == "on-demand"]
        multi = [p.gpus for p in offers if p.gpus > 1]
        if not multi:
            fits = offers
        elif any(p.gpus == count for p in offers):
            fits = [p for p in offers if p.gpus == count]
        else:
            fits = [p for p in offers if p.gpus == max(multi) and count % p.gpus == 0]
        return min(fits, key=Price.sort_key, default=None)

    def rented_gpus(self, count: int) -> int | None:
        """The GPUs one rents to run `count` of this card together: count where some provider
        rents exactly that unit (one card, an x2 or x4 machine, a node); else the smallest
        multi-GPU unit that holds them (GPUs that work together share a machine: 3 T4 are
        rented as Hugging Face's x4 instance, 4 MI300X as DigitalOcean's 8-GPU droplet); past
        the largest unit, whole units of it (nodes); count where only one-GPU offers exist
        (priced count x the card, as on_demand_price does). None where the card is not rented."""
        units = self.rental_units
        if not units:
            return None
        multi = [u for u in units if u > 1]
        if count in units or not multi:
            return count
        bigger = [u for u in multi if u >= count]
        if bigger:
            return min(bigger)
        return -(-count // max(multi)) * max(multi)

    @property
    def rental_units(self) -> tuple[int, ...]:
        """The units (GPUs) the card is rented on-demand in, smallest first: (1,), (8,), (1, 8),
        (1, 2, 4, 8) or () for a card without an on-demand price or that nobody rents (rental 'none'); a
        node-only card (rental 'node') never in 1."""
        units = {p.gpus for p in self.prices if p.kind == "on-demand"}
        if self.rental == "none":
            return ()
        if self.rental == "node":
            units.discard(1)
        return tuple(sorted(units))

    @property
    def min_rental_gpus(self) -> int | None:
        """The fewest GPUs one rents: 1 (rented alone) or 8 (only whole nodes); None where the
        card is not rented (rental 'none') or, unstated, has no price to read it from."""
        if self.rental == "alone":
            return 1
        if self.rental == "node":
            return 8
        units = {p.gpus for p in self.prices}
        return min(units) if self.rental is None and units else None

    @property
    def price_usd_per_hour(self) -> float | None:
        """The cheapest on-demand price of one GPU-hour, whatever the unit (None: unpriced)."""
        best = min((p for p in self.prices if p.kind == "on-demand"), key=Price.sort_key, default=None)
        return None if best is None else best.usd_per_gpu_hour

    @property
    def native_fp8(self) -> bool:
        from advisor.kb.formats import native_formats

        return "fp8" in native_formats(self)

    @property
    def rentable(self) -> bool:
        """Offered by the GPU-hour and able to join a multi-GPU set: not a unified-memory SoC (a Mac
        is bought, not rented by the GPU-hour, and does not shard with tensor parallelism) and
        not a card whose entry says nobody rents it (rental 'none')."""
        return not self.unified_memory and self.rental != "none"

    @property
    def free_at_start_bytes(self) -> int:
        """What a runtime finds free for the GPU before it allocates (bytes, CUDA context not yet
        counted): the driver's total, or, on a unified-memory part whose OS holds part of that
        total (DGX Spark), the memory free for the GPU (usable_memory_bytes)."""
        return min(self.driver_total_bytes, self.usable_memory_bytes)

    @property
    def driver_total_bytes(self) -> int:
        """The total a CUDA/ROCm runtime sees (torch.cuda.mem_get_info()[1]): the KB's
        reported_memory_bytes where it has one, else the card's usable memory (the marketed
        figure for a discrete card, an overstatement of 1-8% on the cards measured)."""
        if self.reported_memory_bytes is not None:
            return self.reported_memory_bytes
        return self.usable_memory_bytes

    @property
    def usable_memory_bytes(self) -> int:
        """Memory the GPU may use by default: all of a discrete card's, gpu_memory_share of a
        unified-memory SoC's (macOS recommendedMaxWorkingSetSize; under Linux, what is free for
        the GPU once the OS is up: below the total CUDA reports, reported_memory_bytes)."""
        if self.gpu_memory_share is None:
            return self.memory_bytes
        return int(self.memory_bytes * self.gpu_memory_share)
