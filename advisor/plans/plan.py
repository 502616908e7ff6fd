"""A plan: one way to run a model, every lever set, sized by the sizing core. A value.

Paths (where a plan comes from), in the order advisories list them:
- as-asked: the question exactly as asked (model, format, KV cache, context, runtime, GPUs,
  and llama.cpp's --n-gpu-layers where given);
- gpu-layers: given --n-gpu-layers, the question as asked with the layer count that suits the
  GPU best (every layer where all fit, else the most that fit with the margin), when it is not
  the count asked;
- your-hardware: the GPUs you gave and your system RAM (CPU offload counts), any format, KV
  precision, context above the floor and runtime that runs there;
- your-gpus: the same without offload (everything on the GPUs you have);
- more-cards: more of the same card, at most one node of 8;
- rent: what one rents as a unit: one card, or whole nodes of 8 cluster-class cards;
- another-model: a smaller sibling or a distilled model, on your hardware.
"""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
from dataclasses import dataclass

from advisor.kb.schema import GPU, Model
from advisor.plans.quality import QualityCost
from advisor.sizing.precision import Precision
from advisor.sizing.speed_category import profile_era, speed_category
from advisor.speed_bands import band

PATHS = ("as-asked", "gpu-layers", "your-hardware", "your-gpus", "more-cards", "rent", "another-model")
# What every plan of a path has, whatever its levers (advisor.plans.candidates enumerates them
# so; tests/test_lazy_paths.py checks it): the plan facts (advisor.facts.plans) the planner
# knows before it sizes a path, so that it can leave out a path no plan rule could offer.
PATH_FACTS = {
    "as-asked": {"owned": True, "model_changed": False},
    "gpu-layers": {"owned": True, "model_changed": False},
    "your-hardware": {"owned": True, "model_changed": False},
    "your-gpus": {"owned": True, "model_changed": False},
    "more-cards": {"owned": False, "model_changed": False},
    "rent": {"owned": False, "model_changed": False},
    "another-model": {"owned": True, "model_changed": True},
}
PLACEMENTS = ("gpu", "offload", "moe-offload")


@dataclass(frozen=True)
class Candidate:
    """What to size: every lever but the context, which the sizing picks (asked, or the
    longest that fits above the objective's floor)."""
    path: str
    model: Model
    precision: Precision
    runtime: str
    kv_cache_dtype: str
    gpu: GPU
    gpu_count: int
    placement: str               # gpu | offload (llama.cpp -ngl) | moe-offload (--n-cpu-moe)
    owned: bool
    checkpoint: str | None = None  # the repo to load: a published checkpoint or GGUF repo
    # vLLM --gpu-memory-utilization raised above the question's (None: the question's)
    gpu_memory_utilization: float | None = None
    # Multi-head latent attention models: the KV cache layout of the file or checkpoint this
    # plan loads (not of the model asked about): True where it caches per-head K and V (a GGUF
    # converted before llama.cpp PR 12801, Architecture.mla_per_head_cache), False where it
    # caches the latent (a GGUF converted since, vLLM's MLA over the Hugging Face checkpoint).
    # Always False for other models. advisor.plans.candidates.cache_per_head decides it.
    mla_per_head_cache: bool = False
    # The plan loads the file the question names (a GGUF path, or Ollama's file of the tag
    # asked), not a file it downloads or makes.
    own_file: bool = False
    # A set of unequal cards (advisor.sizing.mixed.GpuSet, `gpu` its first device and
    # `gpu_count` its count) that llama.cpp splits by memory; None: gpu_count x gpu.
    gpu_set: object | None = None
    # On a Mac: macOS's GPU wired-memory limit raised to this many MiB (`gpu` is then the Mac
    # at that limit, advisor.sizing.wired.with_wired_limit); None: the default limit.
    wired_limit_mb: int | None = None
    # On gpu_set: the user's llama.cpp -ts the plan is sized and run with ("3,1,1", as typed);
    # None: llama.cpp's split by free memory.
    tensor_split: str | None = None


def restricted_licence(model: Model) -> bool:
    """The objective's `restricted_licence` term: the KB marks the model's licence
    non-commercial (Model.licence). Between other models whose published scores tie, an expert
    names the one anyone may use first (EXAONE 4.0 32B, 77.6 under an NC licence, against Qwen3
    30B-A3B Instruct 2507, 78.4 under Apache-2.0); on the paths of the model asked it ranks
    nothing."""
    lic = model.licence
    return lic is not None and not lic.commercial


def added_gpus(path: str, gpu: GPU, gpu_count: int) -> int:
    """The objective's `added_gpus` term: the cards a plan on the more-cards path runs on, for
    consumer cards (all of them more than the question's, so fewer means fewer to add: a second
    card fits most desktops, a fourth needs a server frame and power to match); 0 for other
    cards (data-centre cards come in nodes: R1 runs at FP8 on one node of 8 H200) and on every
    other path, where it ranks nothing (a path's plans are ranked against each other only)."""
    return gpu_count if path == "more-cards" and gpu.segment == "consumer" else 0


class RankTerms:
    """Objective terms a ranked plan (Plan, or evaluate.Sized) computes from its path, cards and
    model (rules/objective.yaml: added_gpus, restricted_licence)."""
    __slots__ = ()

    @property
    def added_gpus(self) -> int:
        return added_gpus(self.path, self.gpu, self.gpu_count)

    @property
    def restricted_licence(self) -> bool:
        return restricted_licence(self.model)


@dataclass(frozen=True)
class Plan(RankTerms):
    path: str
    model: Model
    parameters: int
    precision: Precision
    bits_per_weight: float
    native: bool                 # the checkpoint as published
    checkpoint: str | None       # repo the command loads (None: a file to convert/quantize)
    kv_cache_dtype: str
    context_tokens: int
    batch: int
    runtime: str
    gpu: GPU
    gpu_count: int
    nodes: int
    split: str                   # single | layer | tensor
    tensor_parallel: int
    pipeline_parallel: int
    cpu_offload_layers: int      # llama.cpp: layers in system RAM, with the output layer (-ngl = layers - this)
    moe_cpu_layers: int          # llama.cpp --n-cpu-moe
    owned: bool
    weights_bytes: int
    kv_cache_bytes: int
    total_bytes: int             # on the GPUs (offload: what stays on the GPU)
    available_bytes: int
    ram_bytes: int               # system RAM the offloaded part needs
    per_gpu_bytes: int
    decode_tokens_per_s: float
    decode_tokens_per_s_full_context: float
    prefill_tokens_per_s: float | None
    usd_per_hour: float | None
    usd_per_million_tokens: float | None
    price_note: str | None       # where and when the price was read
    quality: QualityCost
    quality_class: int
    quality_class_name: str
    usable: bool
    speed_band: int              # the objective's speed band of decode_tokens_per_s
    good_class: int              # the objective's last good-quality class
    levers: int                  # how many things differ from the question
    changes: tuple[str, ...]     # what they are, in words
    command: str | None
    notes: tuple[str, ...] = ()  # what must be true first (a Ray cluster, a converted file)
    flash_attn: bool = True      # llama.cpp -fa (other runtimes: their own attention kernels)
    gpu_memory_utilization: float | None = None  # vLLM's share of each GPU (other runtimes: None)
    wired_limit_mb: int | None = None  # macOS's GPU memory limit raised (Candidate.wired_limit_mb)
    mla_per_head_cache: bool = False  # the loaded file caches per-head K and V (Candidate's)
    own_file: bool = False       # it loads the file the question names (Candidate's)
    # the model's published MMLU-Pro score as the objective's model_score term ranks it: on the
    # another-model path of the asked model's variant, ties raised (Objective.scored, tie_scores);
    # on the others the model's own preferred score. None: no score to compare
    model_score: float | None = None
    data_parallel: int = 1       # vLLM --data-parallel-size (replicas of tensor_parallel GPUs)
    expert_parallel: bool = False  # vLLM --enable-expert-parallel
    # llama.cpp -ngl of a whole-layer offload, in llama.cpp's count (a GGUF's trailing NextN
    # block included: advisor.sizing.offload.gpu_layers_of_ngl gives the layers it places, which
    # are gpu_layers; the user's own N where the plan keeps their split); None: not a layer offload
    n_gpu_layers: int | None = None
    fast_band: int = 0           # the objective's band above reading speed (fast_bands)
    # vLLM at --batch B > 1: each sequence's and all B sequences' decode tokens/s (None: one
    # sequence, or a runtime without a batch model)
    batch_tokens_per_s_per_sequence: float | None = None
    batch_total_tokens_per_s: float | None = None
    gpu_set: object | None = None  # the mixed set the plan runs on (Candidate's), else None
    # the user's llama.cpp -ts the plan keeps ("3,1,1", Workload.tensor_split) on gpu_set; None:
    # llama.cpp's split by free memory (or no layer split over a set)
    tensor_split: str | None = None
    # an expert offload over equal cards: each card's layers and bytes (advisor.sizing.offload
    # ExpertCard, device order; the -ts is their layer slots); () otherwise
    expert_cards: tuple = ()
    task = "inference"           # a class constant (FinetunePlan's is "finetune")

    def with_(self, **fields) -> "Plan":
        """A copy with some fields changed (dataclasses.replace re-runs __init__ over fifty
        fields; the planner does this thousands of times a question)."""
        new = object.__new__(type(self))
        d = new.__dict__
        d.update(self.__dict__)
        d.update(fields)
        return new

    @property
    def kv_cache_layout(self) -> str | None:
        """What a latent-attention model's cache holds in this plan: "latent" or "per-head"
        (None for other models)."""
        if not self.model.architecture.kv_lora_rank:
            return None
        return "per-head" if self.mla_per_head_cache else "latent"

    @property
    def headroom_bytes(self) -> int:
        return self.available_bytes - self.total_bytes

    @property
    def good_quality(self) -> bool:
        return self.quality_class <= self.good_class

    @property
    def quality_loss_pct(self) -> float:
        return self.quality.loss_pct

    @property
    def gpu_layers(self) -> int:
        return self.model.architecture.layers - self.cpu_offload_layers

    @property
    def offload(self) -> bool:
        return bool(self.cpu_offload_layers or self.moe_cpu_layers) or self.n_gpu_layers is not None

    def speed_category(self, kind: str) -> str:
        """The measured error band (advisor.sizing.speed_category) of this plan's figures of a
        kind: decode (its tokens/s), prefill or serving."""
        rt, vendor = self.runtime, self.gpu.vendor
        return speed_category(kind, rt, vendor, profile_era(kind, rt, vendor),
                              bool(self.model.architecture.experts_total), self.offload,
                              self.gpu_count)

    @property
    def identity(self) -> tuple:
        """What makes two plans the same plan, whatever path found them, but for renting: cards
        rented by the hour are another plan than the same cards bought (more-cards), and the
        rented one carries the price (with 2- and 4-GPU machines to rent, 2 x A100 is both)."""
        return (self.path == "rent", self.model.id, self.precision.name, self.kv_cache_dtype, self.context_tokens,
                self.runtime, self.gpu.id, self.gpu_count, self.cpu_offload_layers,
                self.moe_cpu_layers, self.checkpoint, self.mla_per_head_cache, self.own_file,
                self.n_gpu_layers, self.tensor_split, self.wired_limit_mb)

    def to_json(self, rule: str | None = None) -> dict:
        return {"path": self.path, "rule": rule, "model_id": self.model.id,
                "parameters": self.parameters, "precision": self.precision.name,
                "bits_per_weight": round(self.bits_per_weight, 2), "native": self.native,
                "checkpoint": self.checkpoint, "weights_bytes": self.weights_bytes,
                "kv_cache_dtype": self.kv_cache_dtype, "kv_cache_bytes": self.kv_cache_bytes,
                "context_tokens": self.context_tokens, "batch": self.batch, "runtime": self.runtime,
                "gpu_id": self.gpu.id, "gpu_count": self.gpu_count, "nodes": self.nodes,
                "split": self.split, "tensor_parallel": self.tensor_parallel,
                "pipeline_parallel": self.pipeline_parallel,
                "data_parallel": self.data_parallel, "expert_parallel": self.expert_parallel,
                "cpu_offload_layers": self.cpu_offload_layers, "moe_cpu_layers": self.moe_cpu_layers,
                "owned": self.owned, "total_bytes": self.total_bytes,
                "available_bytes": self.available_bytes, "headroom_bytes": self.headroom_bytes,
                "ram_bytes": self.ram_bytes, "per_gpu_bytes": self.per_gpu_bytes,
                "decode_tokens_per_s": round(self.decode_tokens_per_s, 2),
                "decode_tokens_per_s_full_context": round(self.decode_tokens_per_s_full_context, 2),
                "decode_band": band(self.speed_category("decode")).to_json(),
                **({"batch_tokens_per_s_per_sequence": round(self.batch_tokens_per_s_per_sequence, 2),
                    "batch_total_tokens_per_s": round(self.batch_total_tokens_per_s, 1)}
                   if self.batch_total_tokens_per_s is not None else {}),
                "prefill_tokens_per_s": None if self.prefill_tokens_per_s is None
                else round(self.prefill_tokens_per_s, 1),
                "prefill_band": None if self.prefill_tokens_per_s is None
                else band(self.speed_category("prefill")).to_json(),
                "usd_per_hour": self.usd_per_hour,
                "usd_per_million_tokens": None if self.usd_per_million_tokens is None
                else round(self.usd_per_million_tokens, 2),
                "price_note": self.price_note,
                "quality_cost": {**self.quality.to_json(), "class": self.quality_class_name},
                "usable": self.usable, "changes": list(self.changes), "command": self.command,
                "flash_attn": self.flash_attn if self.runtime in GGML_RUNTIMES else None,
                "gpu_memory_utilization": self.gpu_memory_utilization,
                **({"wired_limit_mb": self.wired_limit_mb} if self.wired_limit_mb is not None else {}),
                "kv_cache_layout": self.kv_cache_layout, "own_file": self.own_file,
                **({"n_gpu_layers": self.n_gpu_layers} if self.n_gpu_layers is not None else {}),
                **({"gpu_set": self.gpu_set.to_json()} if self.gpu_set is not None else {}),
                **({"tensor_split": self.tensor_split} if self.tensor_split is not None else {}),
                **({"expert_cards": [{"first_layer": k.first_layer, "layers": k.layers,
                                      "output_layer": k.output, "total_bytes": k.bytes}
                                     for k in self.expert_cards]} if self.expert_cards else {}),
                "notes": list(self.notes)}
