"""From a question (model, GPU, workload) to an advisory: facts -> rules -> recommendations."""
from __future__ import annotations

from advisor.sizing.constants import GGML_RUNTIMES
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from advisor.cache import Key, cached, code_files
from advisor.errors import AdvisorError, AdvisorErrors
from advisor.facts import Situation, build_situation
from advisor.kb.schema import with_fields
from advisor.text import exact_number
from advisor.kb.store import KnowledgeBase
from advisor.paths import data_dir
from advisor.render import count
from advisor.rules.spec import RuleErrors, RuleSpec, load_rules
from advisor.sizing.constants import GPUS_PER_NODE, KV_DTYPE_SPELLINGS, LLAMACPP_QUANT_KV
from advisor.sizing.finetune import PART_NAMES, FinetuneSpec
from advisor.sizing.finetune import validate as validate_finetune
from advisor.sizing.memory import share_problem
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import format_mismatch
from advisor.sizing.workload import (DEFAULT_PROMPT_TOKENS, Workload, default_context_reason,
                                     default_context_tokens)
from advisor.speed_bands import band

RULES_ENV = "ADVISOR_RULES"
# The limits of a question's numbers live in advisor.limits (check_question), shared by explain,
# fit, gpus and generate; the names stay importable from here.
from advisor.limits import MAX_BATCH, MAX_GPUS, MAX_PROMPT_TOKENS, check_one_machine, check_question  # noqa: E402,F401
from advisor.limits import short  # noqa: E402


def recommendation_kinds(templates_dir: Path | None = None) -> set[str]:
    d = (templates_dir or data_dir("templates")) / "recommendations"
    return {p.name[: -len(".md.j2")] for p in d.glob("*.md.j2")}


def rule_dirs(extra: list[Path] | tuple = ()) -> list[Path]:
    from advisor.paths import user_folders

    return [data_dir("rules"), *user_folders(os.environ.get(RULES_ENV), extra, "rule folder")]


def load_objective_file(extra: list[Path] | tuple = ()):
    """The objective in force: rules/objective.yaml, or the last rule folder's objective.yaml
    (from the cache while that file and the code that reads it are unchanged)."""
    from advisor.plans.objective import Objective, find_objective, load_objective

    path = find_objective(rule_dirs(extra))
    return cached("RULES", "objective", lambda: Key(code_files(*_OBJECTIVE_CODE)).file(path),
                  lambda: load_objective(path), lambda o: isinstance(o, Objective))


# The code a cached rulebook and objective depend on (advisor.cache keys them by these files).
_RULES_CODE = ("rules/spec.py", "rules/templates.py", "facts", "yamlfile.py", "cache.py", "advise.py")
_OBJECTIVE_CODE = ("plans/objective.py", "yamlfile.py", "cache.py", "advise.py")


def _rulebook_key(dirs: list[Path], templates: Path) -> Key:
    key = Key(code_files(*_RULES_CODE))
    for d in dirs:
        key.files(d)   # every file: a misnamed .yml one is an error, so it must be seen
    return key.files(templates, "*.md.j2")


def load_rulebook(extra: list[Path] | tuple = ()) -> list[RuleSpec]:
    """The rules of the built-in folder, $ADVISOR_RULES and `extra`, checked (from the cache
    while no rule file, recommendation template or the code that checks them changed)."""
    dirs = rule_dirs(extra)

    def load() -> list[RuleSpec]:
        from advisor.rules.templates import recommendation_templates

        return load_rules(dirs, recommendation_templates())

    def valid(rules) -> bool:
        return isinstance(rules, list) and all(isinstance(r, RuleSpec) for r in rules)

    def key() -> Key:
        return _rulebook_key(dirs, data_dir("templates") / "recommendations")

    try:
        rules = cached("RULES", "rules", key, load, valid)
    except RuleErrors as exc:
        raise AdvisorErrors(exc.errors) from None
    from advisor.rules.engine import split_rulebook

    split_rulebook(rules)  # what the rules engine holds: refused here, before any question
    from advisor.rules.spec import missing_verdicts

    missing = missing_verdicts(rules)
    if missing:  # refused here, not as "the rulebook gave 0 verdicts" for each question
        raise AdvisorErrors(missing)
    return rules


@dataclass(frozen=True)
class Advisory:
    situation: Situation
    verdict: str
    recommendations: list[dict]
    fired: list[str]
    facts: dict = None      # the facts the rules saw: the situation's and the derived ones
    derived: dict = None    # derived fact -> the rule that derived it
    offered: tuple = ()     # (Plan, rule id) the plan rules offered, best first: [0] is What to do
    path_plans: tuple = ()  # every path's best plan (JSON `plans`), offered or not
    cannot_run: str | None = None  # why the runtime asked cannot run the format on this card
    prefer: str = "quality"
    plan_firings: tuple = ()  # (path, [plan rules that matched it]) for --why
    # where the precision came from when the model named it (an Ollama tag), in words; None
    # when --precision gave it or it is the checkpoint as published / a file's own
    precision_source: str | None = None
    # the objective file the plans were ranked by, as the advisory names it
    objective_path: str = "rules/objective.yaml"
    # plans ranked the context_tokens term up to this many tokens (a context the question did not
    # give: advisor.plans.evaluate.context_cap); None: the context itself
    context_cap: int | None = None
    # why a context the question left to its default is what it is, one line, for a reasoning
    # model (advisor.sizing.workload.default_context_reason); None otherwise
    context_reason: str | None = None
    # where no plan weighed reaches the objective's usable floor (a reasoning model's where the
    # question's model reasons), so What to do is a last resort below it: the line that says so
    # and names the floor (Advisor._floor_unmet); None otherwise
    floor_unmet: str | None = None

    @property
    def plan(self):
        """The plan of "What to do", or None."""
        return self.offered[0][0] if self.offered else None

    def rule_of(self, plan) -> str | None:
        return next((r for p, r in self.offered if p is plan), None)

    def to_json(self) -> dict:
        s, pl, f = self.situation, self.situation.placement, self.situation.facts
        if s.work.task == "finetune":
            return _finetune_json(self)
        return {
            "model": {"id": s.model.id, "name": s.model.name, "parameters": f["model_parameters"]},
            "gpu": {"id": s.gpu.id, "name": s.gpu.name, "memory_bytes": s.gpu.memory_bytes,
                    "count": s.gpu_count},
            # a set of unequal cards: every kind with its count, in device order (`gpu` is the
            # card the question is sized by: the first device under llama.cpp, the smallest
            # under vLLM); absent for cards of one kind
            **({"gpu_set": s.gpu_set.to_json()} if s.gpu_set is not None else {}),
            "workload": {"task": "inference", "precision": s.precision.name,
                         "context_tokens": s.work.context_tokens, "batch": s.work.batch,
                         "runtime": s.work.runtime, "kv_cache_dtype": s.work.kv_cache_dtype,
                         "gpu_memory_utilization": (s.work.gpu_memory_utilization
                                                    if s.work.runtime == "vllm" else None),
                         "data_parallel": s.work.data_parallel,
                         "expert_parallel": s.work.expert_parallel,
                         **({"precision_source": self.precision_source} if self.precision_source else {}),
                         # a defaulted context of a reasoning model: its publisher's output
                         # budget and the line that says why the context is what it is
                         **({"recommended_output_tokens": s.model.recommended_output_tokens,
                             "context_reason": self.context_reason} if self.context_reason else {}),
                         **({"n_gpu_layers": s.work.gpu_layers} if s.work.gpu_layers is not None else {}),
                         **({"tensor_split": s.work.tensor_split}
                            if s.work.tensor_split is not None else {}),
                         # SGLang's --mem-fraction-static as asked (None: its default for the card)
                         **({"mem_fraction_static": s.work.mem_fraction_static}
                            if s.work.runtime == "sglang" else {})},
            "memory": {"weights_bytes": pl.weights_bytes, "kv_cache_bytes": pl.kv_cache_bytes,
                       "overhead_bytes": pl.overhead_bytes, "total_bytes": pl.total_bytes,
                       "available_bytes": pl.available_bytes, "headroom_bytes": pl.headroom_bytes,
                       "margin_bytes": pl.margin_bytes,
                       "breakdown": dict(pl.parts.breakdown) if pl.parts else {},
                       "max_context_tokens": {k[len("max_context_tokens_"):] or s.work.kv_cache_dtype: f[k]
                                              for k in ("max_context_tokens", "max_context_tokens_fp16",
                                                        "max_context_tokens_q8_0",
                                                        "max_context_tokens_q4_0") if k in f},
                       # vLLM/SGLang: the share taken at start and the KV pool in it
                       **({"kv_pool": {"share": f["runtime_share"], "bytes": f["kv_pool_bytes"],
                                       "tokens": f["kv_pool_tokens"]}}
                          if "kv_pool_tokens" in f and self.verdict != "cannot-run" else {})},
            "verdict": self.verdict,
            "recommendations": self.recommendations,
            # a runtime that cannot run on the card has no speed there (as the markdown gives none)
            "throughput": _no_speeds(f["prompt_tokens"]) if self.verdict == "cannot-run" else {
                           "decode_tokens_per_s": f.get("decode_tokens_per_s"),
                           "decode_tokens_per_s_full_context": f.get("decode_tokens_per_s_full_context"),
                           "decode_roofline_tokens_per_s": f.get("decode_roofline_tokens_per_s"),
                           "prefill_tokens_per_s": f.get("prefill_tokens_per_s"),
                           "time_to_first_token_s": f.get("time_to_first_token_s"),
                           "prompt_tokens": f["prompt_tokens"],
                           "serving_max_sequences": f.get("serving_max_sequences"),
                           "serving_total_tokens_per_s": f.get("serving_total_tokens_per_s"),
                           **{k: f[k] for k in ("batch_tokens_per_s_per_sequence",
                                                "batch_total_tokens_per_s") if k in f},
                           **{f"{k}_band": band(f[f"{k}_speed_category"]).to_json()
                              if f"{k}_speed_category" in f else None
                              for k in ("decode", "prefill", "serving")}},
            "placement": _placement_json(s),
            "rules_fired": self.fired,
            "cannot_run": self.cannot_run,
            "prefer": self.prefer,
            "plan": self.plan.to_json(self.offered[0][1]) if self.offered else None,
            "plans": [p.to_json(self.rule_of(p)) for p in self.path_plans],
            # no plan reaches the usable floor: What to do is below it, and this line says so
            **({"floor_unmet": self.floor_unmet} if self.floor_unmet else {}),
        }


def _no_speeds(prompt_tokens: int) -> dict:
    """The throughput block of a question that cannot run: every figure and band null."""
    keys = ("decode_tokens_per_s", "decode_tokens_per_s_full_context",
            "decode_roofline_tokens_per_s", "prefill_tokens_per_s", "time_to_first_token_s",
            "prompt_tokens", "serving_max_sequences", "serving_total_tokens_per_s",
            "decode_band", "prefill_band", "serving_band")
    return {k: prompt_tokens if k == "prompt_tokens" else None for k in keys}


def _placement_json(s: Situation) -> dict:
    """Where the layers sit: all on the GPUs when it fits, else the llama.cpp offload plan."""
    sp = s.placement.split
    out = {"gpus": s.gpu_count, "split": sp.kind, "tensor_parallel": sp.tensor_parallel,
           "pipeline_stages": sp.pipeline_stages, "nodes": sp.nodes,
           "data_parallel": sp.data_parallel, "expert_parallel": sp.expert_parallel,
           "per_gpu_bytes": sp.per_gpu_bytes, "layers": s.model.architecture.layers,
           "gpu_layers": s.model.architecture.layers, "cpu_layers": 0, "ram_bytes": 0,
           "runtime": s.work.runtime}
    mixed = s.placement.mixed
    if mixed is not None:  # llama.cpp's split by free memory (or the -ts asked), card by card
        out["tensor_split"] = list(mixed.tensor_split)
        out["cards"] = [c.to_json() for c in mixed.cards]
    elif s.gpu_set is not None:  # vLLM over unequal cards: sized on the smallest
        out["sized_as"] = {"id": s.gpu.id, "count": s.gpu_count}
    lay = s.placement.parts.breakdown.get("vllm_layout") if s.placement.parts else None
    if lay is not None:  # vLLM data/expert parallel: what each GPU holds
        out["vllm_layout"] = dict(lay)
    off = s.placement.offload
    if s.work.gpu_layers is not None:  # --n-gpu-layers N: the split asked, fitting or not
        out["n_gpu_layers"] = s.work.gpu_layers
        if off is not None:
            out.update(gpu_layers=off.gpu_layers, cpu_layers=off.cpu_layers,
                       ram_bytes=off.ram_bytes, per_gpu_bytes=off.gpu_bytes,
                       ram_fits=off.ram_fits,
                       offload_decode_tokens_per_s=round(off.decode_tokens_per_s, 2))
    elif not s.placement.fits:
        from advisor.sizing.offload import plan_offload

        off = plan_offload(s.model, s.gpu, s.precision, s.work) if s.gpu_count == 1 else None
        if off is not None:  # the question as asked, with llama.cpp's -ngl split
            out.update(gpu_layers=off.gpu_layers, cpu_layers=off.cpu_layers,
                       ram_bytes=off.ram_bytes, per_gpu_bytes=off.gpu_bytes,
                       offload_decode_tokens_per_s=round(off.decode_tokens_per_s, 2))
            if s.gpu.unified_memory:  # one memory: whether both parts leave macOS its reserve
                out["ram_fits"] = off.ram_fits
        else:
            out.update(gpu_layers=None, cpu_layers=None)
    return out


def _share_below_weights(facts, m, g, gpus: int, work, rt: str, asked_share) -> None:
    """A share of each GPU the user gave (vLLM's --gpu-memory-utilization, SGLang's
    --mem-fraction-static, which every plan of the runtime keeps) whose part of each card holds
    less than the card's part of the model's weights even at 4 bits a weight: no format the
    runtime loads starts (vLLM: no memory for the KV cache; SGLang: not enough memory for its
    pool), and only more cards would, renting a cluster for a share set too low. One line that
    names the share as the limit and the least that holds the weights as asked, as a share too
    large already gets (share_problem). asked_share: vLLM's share as the question gave it
    (None: its default, which is no choice of the user's)."""
    from advisor.plans.runtimes import RUNTIME_NAMES
    from advisor.sizing.constants import GIB

    share, flag = ((asked_share, "--gpu-memory-utilization") if rt == "vllm" else
                   (work.mem_fraction_static, "--mem-fraction-static") if rt == "sglang" else (None, None))
    if share is None or work.task != "inference" or g is None:
        return
    per_card = (facts.get("weights_bytes") or 0) / max(1, gpus)  # TP and PP split them
    from advisor.sizing.tensors import parameter_count

    four_bit = parameter_count(m.architecture) * 0.5 / max(1, gpus)  # the least any format loads
    room = share * g.driver_total_bytes
    total = g.driver_total_bytes
    if four_bit < room or four_bit >= 0.9 * total:
        return  # a format fits in the share, or the card is the limit (more cards), not the share
    least = (f"{per_card / total:.2f} (the weights as asked)" if per_card < 0.9 * total else
             f"{four_bit / total:.2f} (the weights at 4 bits)")
    raise AdvisorError(
        f"{flag} {exact_number(share)} leaves {RUNTIME_NAMES[rt]} {room / GIB:.2f} GiB of each "
        f"{g.name}, less than the {per_card / GIB:.2f} GiB of weights each card holds (and "
        f"than {four_bit / GIB:.2f} GiB at 4 bits): it stops at start with no memory for the KV "
        f"cache; raise it well above {least}, or leave it out for {RUNTIME_NAMES[rt]}'s default")


def _mixed_set_card(gset, rt: str, data_parallel, expert_parallel):
    """The card a mixed set's question is sized by: its first device under llama.cpp (which
    sizes every card: advisor.sizing.mixed), its smallest under vLLM (tensor and pipeline
    parallel split every layer and stage evenly, so each card must hold what the smallest
    holds: docs/hardware.md). AdvisorError, one line, for transformers and vLLM's data/expert
    parallel layouts, which are not sized over unequal cards."""
    if data_parallel is not None or expert_parallel:
        raise AdvisorError(f"--data-parallel-size and --enable-expert-parallel are sized on cards "
                           f"of one kind, not the set {gset.spec()}")
    if rt in ("vllm", "sglang"):
        return gset.smallest()
    if rt not in GGML_RUNTIMES:
        raise AdvisorError(f"a set of unequal cards ({gset.spec()}) is sized for llama.cpp's layer "
                           f"split (Ollama's too, and vLLM on the smallest card), not {rt}: ask "
                           "--runtime llama.cpp or ollama, or one kind of card")
    return gset.devices[0]


def _check_gpu_layers(n, m, g, gpus: int, rt: str, runtime: str | None, p, finetune) -> int | None:
    """--n-gpu-layers N as llama.cpp counts layers: the GGUF's blocks, a trailing NextN block
    too, then the output layer (0..offload.ngl_all(m); a larger count or 'all' is ngl_all, as
    llama.cpp clamps it; 'auto', its default, is None), kept in that count (Workload.gpu_layers;
    sizing converts it with offload.gpu_layers_of_ngl), or AdvisorError naming what is wrong:
    another runtime, fine-tuning, a count out of range, a partial count on several GPUs or on
    unified memory (a Mac's split is sized in its plans, not as a question)."""
    from advisor.plans.runtimes import RUNTIME_NAMES
    from advisor.sizing.offload import gguf_trailing_blocks, gpu_layers_of_ngl, ngl_all

    layers, every = m.architecture.layers, ngl_all(m)
    if isinstance(n, str):  # as typed: a count, 'all' or 'auto' (llama.cpp common/arg.cpp)
        word = n.strip().lower()
        if word == "all":
            n = every
        elif word.isascii() and word.isdigit() and len(word) <= 9:  # not '²' or '①'
            n = int(word)
        elif word in ("-1", "auto"):
            n = "auto"  # llama.cpp's own spelling of auto (n_gpu_layers -1); 'Auto' too
        else:
            raise AdvisorError(f"--n-gpu-layers must be a whole number of layers, 'all' or 'auto', "
                               f"not {n!r}")
    if isinstance(n, bool) or not isinstance(n, (int, str)):
        raise AdvisorError(f"--n-gpu-layers must be a whole number of layers, not {n!r}")
    if n == "auto":
        return None  # llama.cpp's default: as many as fit (what every plan sizes)
    if n > every:
        n = every  # llama.cpp offloads at most n_layer + 1 (-ngl 99 is "all of them")
    if finetune is not None:
        raise AdvisorError("--n-gpu-layers is llama.cpp's, for inference: fine-tuning does not take it")
    if rt not in GGML_RUNTIMES:
        if runtime is not None:
            raise AdvisorError(f"--n-gpu-layers is llama.cpp's (and Ollama's num_gpu); --runtime "
                               f"{runtime} does not take it ({RUNTIME_NAMES.get(rt, rt)} keeps "
                               "every layer on the GPUs)")
        raise AdvisorError(f"--n-gpu-layers is llama.cpp's (and Ollama's num_gpu); {p.name} runs "
                           f"under {RUNTIME_NAMES.get(rt, rt)} here: give a GGUF type (--precision "
                           "Q4_K_M) or --runtime llama.cpp")
    if not 0 <= n <= every:
        trailing = gguf_trailing_blocks(m)
        blocks = (f", {trailing} trailing block{'s' if trailing != 1 else ''} in its GGUF (the "
                  "multi-token-prediction block)" if trailing else "")
        raise AdvisorError(f"--n-gpu-layers {n} is outside 0..{every}: {m.name} has {layers} "
                           f"repeating layers{blocks} and the output layer, {every} in llama.cpp's "
                           f"count (llama.cpp reads a larger -ngl as all of them: give {every})")
    partial = gpu_layers_of_ngl(m, n) is not None
    if partial and gpus > 1:
        raise AdvisorError(f"--n-gpu-layers {n} with {gpus} GPUs: a partial offload is sized on one "
                           f"GPU (--gpus 1), or give {every} for every layer on the GPUs")
    if partial and g.unified_memory:
        raise AdvisorError(f"--n-gpu-layers {n} on the {g.name}: a split between a Mac's GPU and "
                           "its CPU is not sized as a question here; leave it out, and the plans "
                           "give the -ngl (and Ollama's num_gpu) that runs")
    return n


def _checkpoint_as_gguf(m, p, rt: str, runtime_asked: bool, g, gpus: int,
                        vllm_version: str | None = None):
    """(precision, runtime, why) of a question about a KB model at its published checkpoint
    format: where llama.cpp is asked (--runtime llama.cpp), or where the format's default runtime
    cannot run it on this GPU (transformers' MXFP4 and FP8 kernels on a Mac), the GGUF type
    llama.cpp runs that format as (publishers.gguf_of_checkpoint: MXFP4_MOE, Q8_0) under
    llama.cpp, with the sentence saying so (why); else (p, rt, None). The verdict then sizes what
    would run (the file the plans download) rather than refusing a loader nobody would use. A
    runtime asked other than llama.cpp keeps its answer. vllm_version: the vLLM release asked
    (runtimes.cannot_run)."""
    from advisor.plans.publishers import gguf_of_checkpoint, gguf_repo_for
    from advisor.plans.runtimes import RUNTIME_NAMES, cannot_run

    if p.family != "checkpoint" or (rt != "llama.cpp" if runtime_asked
                                    else cannot_run(rt, p, g, m, gpus, vllm_version) is None):
        return p, rt, None
    q = gguf_of_checkpoint(m, p)
    if q is None or cannot_run("llama.cpp", q, g, m, gpus) is not None:
        return p, rt, None
    repo = gguf_repo_for(m, q)
    src = (f"from {repo}" if repo else "converted and quantized with llama.cpp's "
           "convert_hf_to_gguf.py and llama-quantize")
    why = f"the published {p.name.upper()} checkpoint as llama.cpp runs it, {src}"
    if not runtime_asked:
        why += f"; {RUNTIME_NAMES[rt]} cannot run the checkpoint here"
    return q, "llama.cpp", why


def _runtime_of_kv_cache(kv: str, rt: str, p, g, m, vllm_version: str | None = None) -> str:
    """The runtime a question runs under when --kv-cache names a cache the format's default
    runtime `rt` lacks and no --runtime was given: the first of llama.cpp, vLLM, MLX and
    transformers that offers the cache and runs format `p` on `g` (fp8 names vLLM, mlx-8bit
    MLX, q5_1 llama.cpp), as --data-parallel-size names vLLM. `rt` where it offers the cache.
    AdvisorError where some runtime offers it but none runs the format there (one line saying
    who offers it and why that one cannot); an unknown cache is left to check_kv_dtype."""
    from advisor.plans.runtimes import RUNTIME_NAMES, cannot_run
    from advisor.sizing.constants import RUNTIME_KV_DTYPES

    if kv in RUNTIME_KV_DTYPES.get(rt, ()):
        return rt
    offer = [r for r in ("llama.cpp", "vllm", "mlx", "transformers") if kv in RUNTIME_KV_DTYPES[r]]
    for r in offer:
        if cannot_run(r, p, g, m, vllm_version=vllm_version) is None:
            return r
    if not offer:
        return rt
    who = " and ".join({"mlx": "MLX"}.get(r, RUNTIME_NAMES[r]) for r in offer)
    raise AdvisorError(f"--kv-cache {kv} is {who}'s, which cannot run {p.name} on the {g.name}: "
                       f"{cannot_run(offer[0], p, g, m, vllm_version=vllm_version)}")


_TS_ITEM = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
# What a runtime other than llama.cpp does instead of --tensor-split, for its one-line refusal.
_TS_INSTEAD = {
    "ollama": "Ollama splits the layers over the GPUs by their free memory itself and takes no -ts",
    "vllm": "vLLM shards every layer evenly over the GPUs (--tensor-parallel-size) and takes no -ts",
    "sglang": "SGLang shards every layer evenly over the GPUs (--tp-size) and takes no -ts",
    "transformers": "transformers places layers with device_map='auto' and a max_memory for each GPU",
    "mlx": "MLX runs on one Apple GPU",
}


def _check_tensor_split(text, gset, rt: str, runtime: str | None, p, finetune) -> str | None:
    """--tensor-split as llama.cpp's -ts reads it (common/arg.cpp: items split on runs of ',' or
    '/', each std::stof'd): one plain non-negative number a card of the set, in device order, not
    all zero (llama.cpp reads all zero as "not given": its split by free memory). Returns the
    items as written, joined by commas (None when not given), or AdvisorError, one line, naming
    what is wrong: another runtime (and what it does instead), fine-tuning, one GPU, an empty,
    negative, non-numeric, non-finite or too large item, a count other than the set's."""
    from advisor.limits import MAX_TENSOR_SPLIT_VALUE
    from advisor.plans.runtimes import RUNTIME_NAMES

    if text is None:
        return None
    if finetune is not None:
        raise AdvisorError("--tensor-split is llama.cpp's, for inference: fine-tuning does not take it")
    if rt != "llama.cpp":
        name = RUNTIME_NAMES.get(rt, rt)
        if runtime is not None:
            raise AdvisorError(f"--tensor-split is llama.cpp's layer split; --runtime {runtime} does "
                               f"not take it ({_TS_INSTEAD.get(rt, name + ' chooses its own split')}): "
                               "leave it out, or ask --runtime llama.cpp")
        if rt in GGML_RUNTIMES:  # an Ollama name, answered under Ollama
            raise AdvisorError(f"--tensor-split is llama.cpp's layer split; the question runs under "
                               f"{name} here ({_TS_INSTEAD.get(rt, name + ' chooses its own split')}): "
                               "leave it out, or ask --runtime llama.cpp")
        raise AdvisorError(f"--tensor-split is llama.cpp's layer split; {p.name} runs under {name} "
                           f"here: give a GGUF type (--precision Q4_K_M) or --runtime llama.cpp")
    if gset.count < 2:
        raise AdvisorError("--tensor-split divides the layers among several GPUs; with one GPU "
                           "leave it out (or give a set: rtx-3090,2x rtx-3060-12gb)")
    items = [t.strip() for t in re.split(r"[,/]+", str(text).strip())]
    if len(items) > 1 and items[-1] == "" and items[0] != "":
        items = items[:-1]  # a trailing separator, as llama.cpp's split drops it
    out = []
    for t in items:
        if not t:
            raise AdvisorError(f"--tensor-split {short(text)}: an empty item; give one number a "
                               f"card, comma-separated (3,1,1)")
        if not _TS_ITEM.match(t):
            low = t.lower().lstrip("+-")
            if t.startswith("-") and _TS_ITEM.match(t[1:]):
                why = "is negative: a card's share is 0 (no layers) or more"
            elif low in ("nan", "inf", "infinity"):
                why = "is not a finite number"
            else:
                why = "is not a plain decimal number"
            raise AdvisorError(f"--tensor-split {short(text)}: {short(t)} {why}; give one "
                               f"non-negative number a card (3,1,1)")
        value = float(t)
        if value > MAX_TENSOR_SPLIT_VALUE:
            raise AdvisorError(f"--tensor-split {short(text)}: {short(t)} is above "
                               f"{MAX_TENSOR_SPLIT_VALUE:,.0f}; give the cards' shares (3,1,1)")
        out.append(t if re.fullmatch(r"[0-9]+(\.[0-9]+)?", t) else f"{value:g}")
    if len(out) != gset.count:
        raise AdvisorError(f"--tensor-split {short(text)} gives {len(out)} value"
                           f"{'s' if len(out) != 1 else ''} for {gset.count} GPUs: give one a card, "
                           f"in device order ({gset.spec()})")
    if not any(float(t) for t in out):
        raise AdvisorError(f"--tensor-split {short(text)} is all zero, which llama.cpp reads as no "
                           "split given: leave it out for its split by free memory, or give each "
                           "card's share")
    return ",".join(out)


def _context_source(m) -> str:
    inv = getattr(m, "weights_inventory", None)
    if getattr(inv, "format", None) == "gguf" and m.context_limit <= m.architecture.max_context:
        # a GGUF file states its own trained context (ARCH.context_length), not a config's
        return "the context_length in its GGUF header"
    if m.context_limit > m.architecture.max_context:
        return (f"{m.context_limit_source}; its config's max_position_embeddings is "
                f"{m.architecture.max_context:,}")
    return "max_position_embeddings in its config"


class Advisor:
    """Holds the KB and the compiled rulebook; answers many questions."""

    def __init__(self, kb: KnowledgeBase, rules: list[RuleSpec], objective=None):
        from advisor.plans.planner import Planner
        from advisor.rules.engine import RuleEngine

        self.kb = kb
        self.rules = {r.id: r for r in rules}
        self.engine = RuleEngine(rules)
        self.objective = objective or load_objective_file()
        self.planner = Planner(kb, self.objective)
        self._offerable_memo: dict = {}

    def explain(self, model: str, gpu: str, precision: str | None = None,
                context_tokens: int | None = None, batch: int = 1, gpus: int | None = None,
                work: Workload | None = None, kv_cache: str | None = None,
                runtime: str | None = None, finetune: FinetuneSpec | None = None,
                prefer: str | None = None, gpu_memory_utilization: float | None = None,
                flash_attn: str | None = None, data_parallel: int | None = None,
                expert_parallel: bool = False, gpu_layers: int | None = None,
                tensor_split: str | None = None, every_path: bool = True) -> Advisory:
        """precision None: the checkpoint as published (the KB's native_precision), or a model
        file's own precision. context_tokens None: advisor.sizing.workload.default_context_tokens
        (8,192 tokens, or the model's own maximum if smaller; for a reasoning model, a context
        that holds the output its publisher recommends), and the advisory says why
        (Advisory.context_reason); under Ollama: Ollama's own default for the GPUs' VRAM
        (advisor.sizing.ollama.default_context), with a line saying whether it holds a
        reasoning model's output. runtime None: "ollama" for an Ollama name (its
        plans stay on Ollama), else the format's default runtime (llama.cpp for GGUF and
        16-bit weights, vLLM for quantized checkpoints on NVIDIA/AMD); a runtime given is kept by
        every plan. Under Ollama on one discrete GPU a model that does not fit is sized with the
        layers Ollama's llama-server keeps on the GPU (advisor.sizing.ollama.auto_gpu_layers). kv_cache overrides the workload's. prefer: quality, speed or cost (default:
        the objective's). finetune: size training instead (bf16 base weights, the sequence
        length as the context). gpu_memory_utilization: vLLM's share of each GPU, kept by
        every plan (None: vLLM's 0.9, which vLLM plans may raise to what the card allows).
        flash_attn: llama.cpp's -fa, "on" or "off" (None: auto, which is on).
        data_parallel / expert_parallel: vLLM's --data-parallel-size and
        --enable-expert-parallel, kept by every plan (vLLM only; the GPUs are DP x TP, so DP
        must divide gpus; EP needs a mixture-of-experts model): advisor.sizing.vllm_parallel.
        gpu_layers:
        llama.cpp's --n-gpu-layers (-ngl) N, 0 to the model's layers + 1 (the output layer is
        the last one llama.cpp offloads): N up to the layers keeps the rest and the output layer
        in system RAM, and the question is sized at that split (one GPU, not unified memory);
        None: every layer on the GPUs.
        tensor_split: llama.cpp's --tensor-split (-ts) as typed ("3,1,1" or "3/1/1"): one
        non-negative share a card of the set, in device order (llama.cpp only, two or more
        GPUs). Every card is then sized at the layers llama.cpp gives it from these shares
        (advisor.sizing.mixed), and the command prints the split as given; None: llama.cpp's
        split by free memory.
        every_path: size every path's best plan (the JSON `plans`, --why); False sizes only
        the paths whose plans the plan rules could offer (what the markdown shows): the same
        What to do and options, less work when the question as asked is usable.
        gpu: one KB GPU (then `gpus` of it; None: 1) or a set such as "rtx-3090,2x
        rtx-3060-12gb" (advisor.hardware.gpuset; `gpus` None or its count). A set of more than
        one kind is split by llama.cpp over the cards by their memory (advisor.sizing.mixed);
        under vLLM it is sized as its count of its smallest card; other runtimes, fine-tuning
        and vLLM's data/expert parallel layouts refuse it."""
        check_question(gpus=gpus, batch=batch, context=context_tokens)
        context_chosen = context_tokens is not None
        if not str(model).strip():
            raise AdvisorError("the model is empty: give a KB id or name (llama-3.1-8b), a model "
                               "folder or a .gguf file")
        if precision is not None and not precision.strip():
            raise AdvisorError("--precision is empty: give a format (bf16, fp8, Q4_K_M, ...) or leave it out")
        from advisor.plans.objective import PREFERENCES
        from advisor.plans.runtimes import RUNTIME_NAMES, RUNTIMES, default_runtime

        if ":" not in model and self.kb.models.find(model) is not None:
            m, stored = self.kb.model(model), None  # a KB key (what resolve_model returns first)
        else:
            from advisor.files import resolve_model

            m, stored = resolve_model(self.kb, model)  # a model file: its precision; an Ollama name
        precision_source = hit = None
        from advisor.files import FileModel

        if stored is not None and isinstance(m, FileModel):
            m = with_fields(m, stored_precision=stored)  # the format its own files hold
        if stored is not None and getattr(m, "weights_inventory", None) is None:
            hit = self.kb.ollama(model)  # an Ollama name: the precision its tag stands for
        if stored is not None and finetune is not None and stored != "bf16":
            # training starts from the published 16-bit weights: a tag's or file's format is
            # not what is trained, and the advisory says it was set aside
            whose = (f"Ollama's {model.strip()}" if hit is not None else "the model file")
            precision_source = (f"{whose} is stored at {stored}, which is set aside: fine-tuning "
                                f"is sized from the published bf16 weights (QLoRA quantizes them "
                                f"to NF4 itself)")
        from advisor.files import FileModel

        if (isinstance(m, FileModel) and m.weights_inventory is None and hit is None
                and finetune is None and precision is None and stored is not None):
            # a config.json without weights to read: its dtype or quantization_config said it
            precision_source = ("as the model's config.json names it; no weights were read to "
                                "confirm it")
        if hit is not None and finetune is None:
            if precision is None:
                precision_source = hit.precision_source
            if m.ollama_mla_per_head_cache:  # Ollama's file of it caches per-head K and V
                m = with_fields(m, architecture=replace(m.architecture, mla_per_head_cache=True))
        from advisor.hardware.gpuset import resolve_gpu_set

        gset = resolve_gpu_set(self.kb, gpu, gpus)
        g, gpus = gset.devices[0], gset.count
        p = parse_precision(precision or stored or m.native_precision or "bf16")
        if (precision is None and stored is None and finetune is None and runtime is not None
                and runtime.strip().lower() == "ollama"):
            from advisor.kb.ollama import DEFAULT_QUANT
            from advisor.plans.commands import ollama_library_tag

            # --runtime ollama for a KB model: what `ollama run` of its library tag loads
            q = parse_precision(m.ollama_quant or DEFAULT_QUANT)
            tag = ollama_library_tag(m, q)
            if tag is not None:
                p, precision_source = q, f"the quantization of Ollama's {tag} tag"
        check_one_machine(g, gpus)
        if gset.mixed and finetune is not None:
            raise AdvisorError(f"fine-tuning is sized on cards of one kind, not the set "
                               f"{gset.spec()}: ask about one kind (--gpus N)")
        bad = format_mismatch(m.architecture, p, m.gguf_repos)
        if bad:
            raise AdvisorError(f"--precision {p.name}: {bad} ({m.name})")
        prefer = (prefer or self.objective.prefer).strip().lower()
        if prefer not in PREFERENCES:
            raise AdvisorError(f"--prefer must be one of {', '.join(PREFERENCES)}, not '{prefer}'")
        most = m.context_limit
        runtime_asked = runtime is not None
        rt = runtime.strip().lower() if runtime_asked else default_runtime(p, g)
        if finetune is None and precision is None and stored is None:
            p, rt, why = _checkpoint_as_gguf(m, p, rt, runtime_asked, g, gpus,
                                             (work or Workload()).vllm_version)
            precision_source = why or precision_source
        if not runtime_asked and hit is not None and finetune is None and p.family != "checkpoint":
            rt = "ollama"  # an Ollama name: the question is how Ollama runs it (on unequal
            # cards too: llama-server's split by free memory, advisor.sizing.mixed), and every
            # plan stays on Ollama (candidates.runtimes_for): vLLM's settings would size
            # nothing, so they are refused rather than silently dropped
            from advisor.sizing.constants import VLLM_DEFAULT_VERSION

            inert = [flag for flag, given in (
                ("--gpu-memory-utilization", gpu_memory_utilization is not None),
                ("--vllm-version", work is not None and work.vllm_version != VLLM_DEFAULT_VERSION))
                if given]
            if inert:
                raise AdvisorError(f"{inert[0]} is how vLLM is sized; an Ollama name is sized and "
                                   f"planned as Ollama runs it: ask about {m.id} with --runtime "
                                   "vllm, or leave it out")
        if not runtime_asked and finetune is None and rt != "vllm":
            # vLLM's own settings without --runtime: the question is how vLLM runs it, as
            # --data-parallel-size already made it (below), never a setting silently dropped;
            # where vLLM cannot run at all (a Mac, an Intel card, a GGUF type) one line
            from advisor.plans.runtimes import cannot_run as _cannot, runs_on
            from advisor.text import one_line
            from advisor.sizing.constants import VLLM_DEFAULT_VERSION

            given = [flag for flag, on in (
                ("--gpu-memory-utilization", gpu_memory_utilization is not None),
                ("--vllm-version", work is not None and work.vllm_version != VLLM_DEFAULT_VERSION),
                ("--data-parallel-size", data_parallel is not None),
                ("--enable-expert-parallel", bool(expert_parallel))) if on]
            if given:
                why = _cannot("vllm", p, g, m, vllm_version=work.vllm_version if work else None)
                if why is not None and (p.family == "gguf" or not runs_on("vllm", g)):
                    raise AdvisorError(f"{given[0]} is how vLLM is sized, and vLLM cannot run this "
                                       f"question ({one_line(why)}): leave it out")
                rt = "vllm"  # every plan runs vLLM with it, as --runtime vllm would
                runtime_asked = True
        context_reason = None
        if context_tokens is None and rt == "ollama" and finetune is None:
            from advisor.sizing.ollama import default_context

            # Ollama's own default num_ctx (by VRAM), at most the model's trained context: a
            # fact of how Ollama runs the name, kept; for a reasoning model the advisory says
            # whether it holds the publisher's output budget
            context_tokens = min(default_context(gset.devices, gpus, m.architecture.max_context),
                                 most)
            context_reason = default_context_reason(m, context_tokens, ollama=True)
        elif context_tokens is None:
            # 8,192 tokens, or a context that holds a reasoning model's recommended output
            context_tokens = default_context_tokens(m)
            if finetune is None:
                context_reason = default_context_reason(m, context_tokens)
        elif context_tokens > most:
            raise AdvisorError(f"--context {context_tokens:,} is beyond {m.name}'s maximum of "
                               f"{most:,} tokens ({_context_source(m)})")
        work = replace(work or Workload(), context_tokens=context_tokens, batch=batch)
        if kv_cache is not None:
            kv = kv_cache.strip().lower()
            # llama.cpp's and Ollama's own names (f16, f32) are the same caches
            work = replace(work, kv_cache_dtype=KV_DTYPE_SPELLINGS.get(kv, kv))
        if gpu_memory_utilization is not None:
            if not 0.01 <= gpu_memory_utilization <= 1:  # also refuses nan
                raise AdvisorError(f"--gpu-memory-utilization is vLLM's share of each GPU, from "
                                   f"0.01 to 1, not {gpu_memory_utilization}")
            work = replace(work, gpu_memory_utilization=gpu_memory_utilization)
        if rt not in RUNTIMES:
            raise AdvisorError(f"unknown runtime '{runtime}' (known: {', '.join(RUNTIMES)})")
        if kv_cache is not None and not runtime_asked and rt != "ollama" and not gset.mixed:
            rt = _runtime_of_kv_cache(work.kv_cache_dtype, rt, p, g, m, work.vllm_version)
        if finetune is None and not gset.mixed:
            from advisor.plans.runtimes import vllm_float32_fallback
            from advisor.text import one_line

            f32 = vllm_float32_fallback(m, g, p, rt)
            if f32 is not None:
                precision_source = (f"vLLM's --dtype auto loads {one_line(m.name)} in float32 on "
                                    f"the {g.name}, which has no bfloat16, as vLLM refuses float16 "
                                    "for this model")
                p = f32
        if rt == "mlx" and g.vendor != "apple":
            # MLX on a GPU it has no backend for: a question that cannot be asked, not a verdict
            if runtime_asked or precision is not None:
                why = "--runtime mlx" if runtime_asked else f"--precision {p.name} (MLX's own format)"
                raise AdvisorError(f"{why}: MLX runs on Apple silicon (Metal) only, not on the "
                                   f"{g.name}: ask an Apple GPU (m1 ... m4), or leave it out")
            # a model file stored in an MLX format (an mlx-community conversion's config.json)
            raise AdvisorError(f"the model is stored at {p.name} (MLX's own format), which only "
                               f"MLX runs, on Apple silicon (Metal), not on the {g.name}: ask an "
                               "Apple GPU (m1 ... m4), or about the model it was converted from")
        if gset.mixed:
            g = _mixed_set_card(gset, rt, data_parallel, expert_parallel)
        work = replace(work, runtime=rt)
        if flash_attn is not None:
            if runtime_asked and rt not in GGML_RUNTIMES:
                raise AdvisorError(f"--flash-attn is llama.cpp's switch; --runtime {rt} does not "
                                   f"take it ({RUNTIME_NAMES[rt]} chooses its own attention kernels)")
            work = replace(work, flash_attn=flash_attn != "off")
        elif rt == "ollama":
            from advisor.sizing.ollama import flash_attention_default

            work = replace(work, flash_attn=flash_attention_default(gset.devices))
        layout_asked = data_parallel is not None or expert_parallel
        if layout_asked:
            flag = "--data-parallel-size" if data_parallel is not None else "--enable-expert-parallel"
            if runtime_asked and rt not in ("vllm", "sglang"):
                raise AdvisorError(f"{flag} is vLLM's (and SGLang's --dp-size / --ep-size); {rt} "
                                   "does not take it (leave it out, or ask --runtime vllm or sglang)")
            if finetune is not None:
                raise AdvisorError(f"{flag} is vLLM's serving layout; fine-tuning does not take it")
            from advisor.sizing.vllm_parallel import layout_problem

            dp = 1 if data_parallel is None else data_parallel
            bad = layout_problem(m.architecture, gpus, dp, expert_parallel) \
                if dp != 1 or expert_parallel else None  # DP 1 alone: vLLM's plain split
            if bad:
                raise AdvisorError(f"{bad} ({m.name} on {gpus} x {g.name})")
            if not (runtime_asked and rt == "sglang"):
                rt = "vllm"  # vLLM's flags: every plan runs vLLM with them (or SGLang, asked)
            runtime_asked = True
            work = replace(work, runtime=rt, data_parallel=dp, expert_parallel=expert_parallel)
        if gpu_layers is not None:
            work = replace(work, gpu_layers=_check_gpu_layers(gpu_layers, m, g, gpus, rt, runtime,
                                                              p, finetune))
        work = replace(work, tensor_split=_check_tensor_split(tensor_split, gset, rt, runtime, p,
                                                              finetune))
        if work.mem_fraction_static is not None and rt != "sglang":
            raise AdvisorError(f"--mem-fraction-static is SGLang's share of each GPU; {rt} does not "
                               "take it (ask --runtime sglang)")
        # a share of each GPU the runtime cannot start with (vLLM's asked, kept by every vLLM
        # plan, or SGLang's): one line, not a verdict of "fits"
        # (vLLM's default share on a card too small for it is no error of the question's: its
        # verdict is cannot-run, runtimes.cannot_run)
        shares = [work] if rt == "sglang" or (rt == "vllm" and gpu_memory_utilization is not None) else []
        if gpu_memory_utilization is not None and rt != "vllm":
            shares.append(replace(work, runtime="vllm"))
        for w in shares:
            bad = share_problem(m.architecture, g, gpus, w)
            if bad:
                raise AdvisorError(bad)
        if gpu_memory_utilization is not None and runtime_asked and rt != "vllm":
            raise AdvisorError(f"--gpu-memory-utilization is vLLM's share of each GPU; {rt} does not "
                               "take it (leave it out, or ask --runtime vllm)")
        if rt == "ollama" and not work.flash_attn and work.kv_cache_dtype in LLAMACPP_QUANT_KV:
            raise AdvisorError(f"--kv-cache {work.kv_cache_dtype} needs flash attention: Ollama "
                               "passes OLLAMA_KV_CACHE_TYPE to llama.cpp, which quantizes the V "
                               "cache only with flash attention (OLLAMA_FLASH_ATTENTION=1, "
                               "--flash-attn on)")
        if rt in GGML_RUNTIMES and not work.flash_attn and work.kv_cache_dtype in LLAMACPP_QUANT_KV:
            raise AdvisorError(f"--kv-cache {work.kv_cache_dtype} needs --flash-attn on: llama.cpp "
                               "quantizes the V cache only with flash attention")
        check_question(prompt_tokens=work.prompt_tokens)
        if work.prompt_tokens > context_tokens:
            if work.prompt_tokens != DEFAULT_PROMPT_TOKENS:
                raise AdvisorError(f"--prompt-tokens {work.prompt_tokens:,} is longer than the context "
                                   f"of {count(context_tokens, 'token')}: a prompt must fit in the context "
                                   "(give a longer --context)")
            work = replace(work, prompt_tokens=context_tokens)  # the default prompt, cut to a short context
        stages = -(-gpus // GPUS_PER_NODE)
        if stages > 1 and stages > m.architecture.layers:
            raise AdvisorError(f"{gpus:,} cards are {stages} nodes of {GPUS_PER_NODE} for {m.name}'s "
                               f"{m.architecture.layers} layers: fewer than one layer a node; "
                               f"for more throughput, run copies side by side")
        if work.ram_bytes < 0 or work.ram_bandwidth_gb_s <= 0:
            raise AdvisorError("--ram-gb must be at least 0 and --ram-bandwidth above 0")
        if finetune is not None:  # training: the sequence is the context, weights start in bf16
            validate_finetune(finetune, m.architecture, gpus)
            p = parse_precision("bf16")
            work = replace(work, context_tokens=finetune.seq_len, batch=finetune.micro_batch,
                           task="finetune", finetune=finetune)
        sized = m
        if finetune is None and m.architecture.kv_lora_rank:
            # the KV cache layout of what the question runs, as its as-asked plan sizes it
            # (advisor.plans.candidates.cache_per_head): the file named under llama.cpp, the
            # latent under vLLM, per head under transformers (its DeepSeek code expands it)
            from advisor.plans.candidates import cache_per_head
            from advisor.plans.evaluate import loaded_model

            sized = loaded_model(m, cache_per_head(m, work.runtime, None,
                                                   own_file=work.runtime in GGML_RUNTIMES))
        if (rt == "ollama" and finetune is None and work.gpu_layers is None and gpus == 1
                and not g.unified_memory):  # a Mac's split: "What happens if you try anyway"
            from advisor.sizing.offload import llamacpp_ngl
            from advisor.sizing.ollama import auto_gpu_layers

            # num_gpu unset: llama-server keeps the layers that fit and runs the rest from RAM
            # (work.gpu_layers in llama.cpp's count, as a user's -ngl would give that split)
            auto = auto_gpu_layers(sized, g, p, work)
            work = replace(work, gpu_layers=None if auto is None else llamacpp_ngl(sized, auto))
        s = build_situation(self.kb, sized, g, p, work, gpus, gset)
        _share_below_weights(s.facts, m, g, gpus, work, rt, gpu_memory_utilization)
        inference = self.engine.infer(s.facts)
        fired = [f.rule_id for f in inference.firings]
        verdicts = [self.rules[r].verdict for r in fired if self.rules[r].verdict]
        if len(set(verdicts)) != 1:
            raise AdvisorError(
                f"the rulebook gave {len(set(verdicts))} verdicts ({', '.join(verdicts) or 'none'}) "
                f"for {m.id} on {g.id}: exactly one verdict rule must fire")
        recs = []
        for r in fired:
            spec = self.rules[r]
            if spec.recommend:
                rec = {"kind": spec.recommend, "rule": spec.id}
                rec.update({name: inference.facts.get(fact) for name, fact in spec.with_facts.items()})
                recs.append(rec)
        adv = Advisory(s, verdicts[0], recs, fired, inference.facts, inference.derived, prefer=prefer,
                       precision_source=precision_source, context_reason=context_reason)
        if finetune is not None:
            from advisor.plans.finetune import finetune_plans
            from advisor.plans.planner import PlanSet

            best = finetune_plans(self.kb, m, g, gpus, finetune)
            return self._choose(adv, PlanSet(best, 0, None), None, prefer)
        from advisor.plans.evaluate import Ask

        repo = model if "/" in model and model in m.aliases and model != m.instruct_repo else None
        # the file the question names (a GGUF, or Ollama's file of the tag) at its own precision,
        # where it caches a latent-attention model per head: plans may keep it or replace it
        # (an Ollama name at another --precision is Ollama's file of that quantization)
        own = p.name if (stored is not None and m.architecture.mla_per_head_cache and (
            p.name == stored or getattr(m, "weights_inventory", None) is None)) else None
        # an Ollama name answered under Ollama: every plan stays on Ollama, as if asked
        ask = Ask(m, g, gpus, p, rt, runtime_asked or rt == "ollama", work, prefer, repo,
                  utilization_asked=gpu_memory_utilization is not None, own_file=own,
                  # the tag names one file: at another --precision, plans pull another
                  ollama_name=(hit.run_name or model.strip())
                  if hit is not None and hit.precision == p.name else None,
                  ollama_precision=hit.precision if hit is not None else None,
                  # an hf.co/ORG/REPO name: llama.cpp's as-asked plan downloads from that repo
                  gguf_repo=hit.gguf_repo if hit is not None and hit.precision == p.name else None,
                  gpu_set=gset if (gset.mixed or work.tensor_split is not None)
                  and rt in GGML_RUNTIMES else None,
                  chosen=frozenset(name for name, given in (
                      # a model file's own format, or an Ollama tag that names its quantization
                      ("precision", precision is not None or (stored is not None and (
                          hit is None or hit.quant_in_tag))),
                      ("kv_cache", kv_cache is not None), ("context", context_chosen),
                      ("flash_attn", flash_attn is not None),
                      ("gpu_layers", gpu_layers is not None),
                      ("tensor_split", work.tensor_split is not None)) if given))
        offerable = None if every_path else (
            lambda path, usable, decode: self._offerable(path, usable, prefer, decode))
        if gset.mixed and rt not in GGML_RUNTIMES:  # vLLM on the smallest card: as asked, or rent
            planset = self.planner.plans(ask, paths=("as-asked", "rent"), offerable=offerable)
        else:
            planset = self.planner.plans(ask, offerable=offerable)
        return self._choose(adv, planset, ask, prefer)

    def _offerable(self, path: str, asked_usable: bool, prefer: str,
                   asked_decode_tokens_per_s: float = 0.0) -> bool:
        """Whether some plan rule could match a plan of `path` (inference), from what every plan
        of that path has (advisor.plans.plan.PATH_FACTS) and the question (whether it is usable,
        its decode speed)."""
        decode = round(asked_decode_tokens_per_s, 2)
        key = (path, asked_usable, prefer, decode)
        hit = self._offerable_memo.get(key)
        if hit is None:
            from advisor.plans.plan import PATH_FACTS
            from advisor.rules.spec import may_match

            if len(self._offerable_memo) >= 4096:
                self._offerable_memo.clear()
            known = {"kind": "plan", "path": path, "asked_usable": asked_usable,
                     "asked_decode_tokens_per_s": decode,
                     "task": "inference", "prefer": prefer, **PATH_FACTS[path]}
            hit = self._offerable_memo[key] = any(
                may_match(r, known) for r in self.rules.values() if r.scope == "plan")
        return hit

    def _choose(self, adv: Advisory, planset, ask, prefer: str) -> Advisory:
        """The plan rules choose among the paths' best plans: each plan a rule matches is
        offered at that rule's priority; What to do is the first offered (rules tie: the
        objective's order for inference plans, the path order for fine-tuning plans)."""
        from advisor.facts.plans import plan_facts
        from advisor.plans.evaluate import (beats_asked, context_cap, improves_on, keeps_choices,
                                            scores_at_least)

        plans = _distinct(planset.in_order())
        asked = planset.best.get("as-asked")
        asked_usable = asked is not None and asked.usable
        asked_decode = asked.decode_tokens_per_s if asked is not None else 0.0
        beats = [ask is not None and beats_asked(p, asked, ask, self.objective) for p in plans]
        cap = context_cap(ask, self.objective) if ask is not None else None
        tie = self.objective.score.tie_points
        mine = [p for p in plans if p.owned and p.usable and getattr(p, "task", "inference")
                == "inference" and ask is not None and p.model.id == ask.model.id]
        own = min(mine, key=lambda p: self.objective.key(p, prefer, cap), default=None)
        speedup = self.objective.beats_asked_speedup
        matched = self.engine.choose([
            plan_facts(p, prefer, asked_usable, asked_decode, b,
                       ask is not None and scores_at_least(p.model, ask.model, tie),
                       p.owned or improves_on(p, own, speedup, ask))
            for p, b in zip(plans, beats)])
        offered = []
        for plan, rules in zip(plans, matched):
            if rules:
                first = min(rules, key=lambda r: (self.rules[r].priority, r))
                # among plans of one rule priority: usable first, then those that keep every
                # choice the question made, then the objective
                rank = ()
                if ask is not None:
                    k = self.objective.key(plan, prefer, cap)
                    rank = (-int(plan.usable), int(not keeps_choices(plan, ask)), k)
                offered.append((self.rules[first].priority, rank, plans.index(plan), plan, first))
        offered.sort(key=lambda t: t[:3])
        unmet = None
        if ask is not None and offered and not any(p.usable for p in plans):
            unmet = self._floor_unmet(adv, ask, prefer)
        return replace(adv, offered=tuple((t[3], t[4]) for t in offered),
                       objective_path=objective_name(self.objective),
                       path_plans=tuple(planset.in_order()), cannot_run=planset.cannot_run,
                       plan_firings=tuple((p.path, r) for p, r in zip(plans, matched)),
                       context_cap=cap, floor_unmet=unmet)

    def _floor_unmet(self, adv: Advisory, ask, prefer: str) -> str:
        """The line of an advisory whose plans all fall below the objective's usable floor
        (rules/objective.yaml `usable.<prefer>`; a reasoning model's own floor, faster and of a
        better quality class, where the question's model reasons): What to do is then a last
        resort (rule plan-last-resort), a rented card's often, and without this line the reader
        would take it for a plan that meets the floor (hostile tester 12)."""
        from advisor.sizing.workload import is_reasoning

        s = adv.situation
        reasoning = is_reasoning(ask.model)
        kind = "reasoning floor" if reasoning else "usable floor"
        cards = f"{s.gpu_count} × {s.gpu.name}" if s.gpu_count > 1 else f"the {s.gpu.name}"
        return (f"No plan reaches {ask.model.name}'s {kind}, {objective_name(self.objective)} "
                f"usable.{prefer} (--prefer {prefer}): "
                f"{self.objective.floor_text(prefer, reasoning)}. None does on your hardware "
                f"({cards}), nor does any other plan weighed (more cards, rented cards, other "
                "models), so What to do and the options are each path's best below that floor")


def objective_name(objective) -> str:
    """The objective's file as an advisory names it: rules/objective.yaml for the built-in one
    (the same on every machine), else its path (an objective.yaml in a --rules folder)."""
    path = getattr(objective, "path", None)
    if path is None or Path(path) == data_dir("rules") / "objective.yaml":
        return "rules/objective.yaml"
    return str(path)


def _distinct(plans: list) -> list:
    """Each plan once: a path whose best plan another path (listed earlier) already found is
    left out of the choice (your GPUs' best is often your hardware's best)."""
    seen, out = set(), []
    for p in plans:
        if p.identity not in seen:
            seen.add(p.identity)
            out.append(p)
    return out


def _finetune_json(adv: Advisory) -> dict:
    """The JSON of a fine-tuning advisory: the inference contract's keys, memory per part."""
    s, f, ft = adv.situation, adv.situation.facts, adv.situation.work.finetune
    n = s.gpu_count
    work = {"task": "finetune", "precision": "nf4" if ft.method == "qlora" else "bf16",
            "context_tokens": ft.seq_len, "batch": ft.micro_batch, "method": ft.method,
            "seq_len": ft.seq_len, "micro_batch": ft.micro_batch,
            "gradient_checkpointing": ft.gradient_checkpointing, "optimizer": ft.optimizer,
            "sharding": ft.sharding, "pure_bf16": ft.pure_bf16,
            "lora_rank": ft.lora_rank if ft.uses_lora else None,
            "lora_targets": list(ft.lora_targets) if ft.uses_lora else None,
            **({"precision_source": adv.precision_source} if adv.precision_source else {})}
    return {
        "model": {"id": s.model.id, "name": s.model.name, "parameters": f["model_parameters"]},
        "gpu": {"id": s.gpu.id, "name": s.gpu.name, "memory_bytes": s.gpu.memory_bytes, "count": n},
        "workload": work,
        "memory": {"weights_bytes": f["weights_bytes"], "kv_cache_bytes": 0,
                   "overhead_bytes": f["overhead_bytes"], "total_bytes": f["total_bytes"],
                   "available_bytes": f["available_bytes"], "headroom_bytes": f["headroom_bytes"],
                   "margin_bytes": f["margin_bytes"], "per_gpu_bytes": f["finetune_per_gpu_bytes"],
                   "trainable_parameters": f["finetune_trainable_parameters"],
                   "breakdown": {k: f[f"finetune_{k}_bytes"] for k in PART_NAMES}},
        "verdict": adv.verdict,
        "recommendations": adv.recommendations,
        "throughput": {"decode_tokens_per_s": None, "decode_tokens_per_s_full_context": None},
        "rules_fired": adv.fired,
        "plan": adv.plan.to_json(adv.offered[0][1]) if adv.offered else None,
        "plans": [p.to_json(adv.rule_of(p)) for p in adv.path_plans],
        **({"training": asked_training(adv).to_json()} if ft.train_tokens is not None else {}),
    }


def asked_training(adv: Advisory):
    """Tokens/s and hours of the setup as asked, on the GPUs asked (whether or not it fits)."""
    from advisor.sizing.train_time import training_time

    s = adv.situation
    return training_time(s.model.architecture, s.work.finetune, s.gpu, s.gpu_count,
                         s.work.finetune.train_tokens)
