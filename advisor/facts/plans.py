"""The facts of a plan, as the plan rules (rules/plan-*.yaml, `scope: plan`) see it.

Each path's best plan (advisor.plans.planner) becomes one fact of kind "plan"; a plan rule that
matches it offers it, at the rule's priority. The plan offered by the highest-priority rule
(lowest number), first by the objective where rules tie, is the advisory's "What to do".
"""
from __future__ import annotations

from advisor.sizing.constants import LLAMACPP_QUANT_KV


PLAN_FACTS: dict[str, tuple[str, str]] = {
    "kind": ("str", "always 'plan'"),
    "path": ("str", "as-asked, gpu-layers, your-hardware, your-gpus, more-cards, rent or "
                     "another-model"),
    "owned": ("bool", "the plan uses only the GPUs (and RAM) given"),
    "usable": ("bool", "quality and speed at least the objective's usable thresholds "
                       "(rules/objective.yaml, per --prefer)"),
    "quality_class": ("int", "0 for the best class of rules/objective.yaml, 1 for the next ..."),
    "quality_loss_pct": ("float", "measured quality cost of the weight format and KV cache, %"),
    "good_quality": ("bool", "the quality class is at most the objective's good_quality "
                             "(rules/objective.yaml: near-lossless or small by default)"),
    "bits_per_weight": ("float", "weights' bits a parameter at the plan's format"),
    "decode_tokens_per_s": ("float", "decode speed of one sequence at an empty context"),
    "usd_per_million_tokens": ("float", "rented: price an hour over tokens an hour at the batch "
                                        "asked (0 on hardware you own; missing where no price)"),
    "gpu_count": ("int", "GPUs the plan runs on"),
    "nodes": ("int", "machines of 8 GPUs"),
    "consumer": ("bool", "the card is a consumer (GeForce, Radeon RX, Arc) card"),
    "offload": ("bool", "part of the model runs from system RAM (llama.cpp -ngl / --n-cpu-moe)"),
    "native": ("bool", "the weights as published (no re-quantization)"),
    "kv_quantized": ("bool", "the KV cache is quantized (fp8, q8_0, q4_0, ...)"),
    "runtime": ("str", "llama.cpp, ollama, vllm, transformers, mlx or sglang"),
    "levers": ("int", "how many things the plan changes from the question"),
    "model_changed": ("bool", "the plan runs another model"),
    "prefer": ("str", "the objective asked for (--prefer): quality, speed or cost"),
    "asked_usable": ("bool", "the question as asked fits and is usable (its plan exists)"),
    "asked_decode_tokens_per_s": ("float", "single-stream decode speed of the question as asked "
                                           "(tokens/s; 0 when it does not run)"),
    "beats_asked": ("bool", "on the GPUs (and RAM) given, of the model asked: the plan keeps "
                            "every choice the question made (format, KV cache, context, runtime, "
                            "flash attention, layer split where given) and the objective ranks it "
                            "before the question as asked (false without an as-asked plan)"),
    "task": ("str", "inference or finetune (fine-tuning plans: usable means the method asked "
                    "is kept)"),
    "scores_at_least_asked": ("bool", "another model whose published score (MMLU-Pro, of the "
                                      "asked model's variant) is at least the asked model's, or "
                                      "within the objective's model_score tie_points of it "
                                      "(false for the model asked, or without both scores)"),
    "improves_on_owned": ("bool", "the plan gives what the best usable plan of the model asked on "
                                  "your own hardware does not: a better quality class, a longer "
                                  "context, or the objective's beats_asked_speedup in decode "
                                  "speed (true where there is no such plan, and for fine-tuning)"),
    "commercial_licence": ("bool", "the plan's model may be used commercially (false where the "
                                   "KB marks its licence non-commercial)"),
}
# Facts every plan has; usd_per_million_tokens is missing where the KB has no price.
PLAN_ALWAYS = set(PLAN_FACTS) - {"usd_per_million_tokens"}


def plan_facts(plan, prefer: str, asked_usable: bool, asked_decode_tokens_per_s: float = 0.0,
               beats_asked: bool = False, scores_at_least_asked: bool = False,
               improves_on_owned: bool = True) -> dict:
    """plan: an advisor.plans.plan.Plan or an advisor.plans.finetune.FinetunePlan;
    asked_decode_tokens_per_s: the as-asked plan's decode speed (0 without one); beats_asked:
    advisor.plans.evaluate.beats_asked of the plan; scores_at_least_asked:
    advisor.plans.evaluate.scores_at_least of its model against the model asked;
    improves_on_owned: advisor.plans.evaluate.improves_on against the best owned plan."""
    f = {"kind": "plan", "path": plan.path, "owned": plan.owned, "usable": plan.usable,
         "quality_class": plan.quality_class,
         "good_quality": bool(getattr(plan, "good_quality", True)),
         "quality_loss_pct": min(round(plan.quality_loss_pct, 3), 1e6),
         "bits_per_weight": round(plan.bits_per_weight, 2),
         "decode_tokens_per_s": round(plan.decode_tokens_per_s, 2),
         "gpu_count": plan.gpu_count, "nodes": plan.nodes,
         "consumer": plan.gpu.segment == "consumer", "offload": plan.offload,
         "native": plan.native, "kv_quantized": plan.kv_cache_dtype in ("fp8", *LLAMACPP_QUANT_KV),
         "runtime": plan.runtime, "levers": plan.levers,
         "model_changed": plan.path == "another-model", "prefer": prefer,
         "asked_usable": asked_usable, "task": getattr(plan, "task", "inference"),
         "asked_decode_tokens_per_s": round(asked_decode_tokens_per_s, 2),
         "beats_asked": beats_asked, "scores_at_least_asked": scores_at_least_asked,
         "improves_on_owned": improves_on_owned,
         "commercial_licence": _commercial(plan.model)}
    if plan.usd_per_million_tokens is not None:
        f["usd_per_million_tokens"] = round(plan.usd_per_million_tokens, 2)
    assert set(f) <= set(PLAN_FACTS), set(f) - set(PLAN_FACTS)
    return f


def _commercial(model) -> bool:
    """Whether the KB leaves the model's licence open to commercial use (Model.licence)."""
    lic = getattr(model, "licence", None)
    return lic is None or bool(lic.commercial)
