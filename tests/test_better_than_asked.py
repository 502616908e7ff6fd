"""Defaults are levers, choices are kept (docs/plans.md): rule plan-better-than-asked, the
objective's beats_asked_speedup and defaulted_context_tokens, Ask.chosen."""
from __future__ import annotations

import pytest

from advisor.plans.evaluate import beats_asked, context_cap, keeps_choices


def _asked(adv):
    return next((p for p in adv.path_plans if p.path == "as-asked"), None)


def _rule(adv):
    return adv.offered[0][1] if adv.offered else None


def test_ollama_default_context_that_spills_layers_is_shortened(advisor):
    """Ollama's qwen2.5:32b at its 32K default keeps 12 of 64 layers in RAM on a 3090 (about 9
    tokens/s): the tag's own Q4_K_M at a shorter context, every layer on the card, is What to do,
    and the question as asked stays an option."""
    adv = advisor.explain("qwen2.5:32b", "rtx-3090")
    asked, plan = _asked(adv), adv.plan
    assert asked is not None and asked.cpu_offload_layers > 0
    assert _rule(adv) == "plan-better-than-asked"
    assert plan.path in ("your-hardware", "your-gpus") and plan.cpu_offload_layers == 0
    assert plan.precision.name == "Q4_K_M" and plan.runtime == "ollama"
    assert plan.context_tokens >= 8192
    assert plan.decode_tokens_per_s >= 1.5 * asked.decode_tokens_per_s
    assert any("OLLAMA_CONTEXT_LENGTH" in n for n in plan.notes)
    assert any(p.path == "as-asked" and r == "plan-as-asked" for p, r in adv.offered)


@pytest.mark.parametrize("model, kw", [
    ("qwen2.5:32b", {"precision": "Q4_K_M", "kv_cache": "fp16", "context_tokens": 32768}),
    ("qwen2.5:32b-instruct-q4_K_M", {"kv_cache": "fp16", "context_tokens": 32768}),
])
def test_a_question_that_chose_everything_runs_as_asked(advisor, model, kw):
    adv = advisor.explain(model, "rtx-3090", **kw)
    assert adv.plan.path == "as-asked" and _rule(adv) == "plan-as-asked"


def test_each_choice_is_kept_by_the_plan_that_beats_the_question(advisor):
    """--kv-cache fp16 given: the plan keeps fp16 (and shortens the defaulted context instead);
    -c 32768 given: it keeps the context (and quantizes the defaulted KV cache or the format)."""
    kv = advisor.explain("qwen2.5:32b", "rtx-3090", kv_cache="fp16").plan
    assert kv.kv_cache_dtype == "fp16" and kv.cpu_offload_layers == 0
    ctx = advisor.explain("qwen2.5:32b", "rtx-3090", context_tokens=32768).plan
    assert ctx.context_tokens == 32768 and ctx.cpu_offload_layers == 0
    fmt = advisor.explain("qwen2.5:32b-instruct-q4_K_M", "rtx-3090").plan
    assert fmt.precision.name == "Q4_K_M"


def test_a_better_quality_class_alone_does_not_displace_a_question_that_runs(advisor):
    """llama3.1:8b (Q4_K_M) runs on a 4090 at about 150 tokens/s: Q8_0 (near-lossless) at about
    100 is no reason to change it; nor is a MoE model on the card to be swapped for a
    near-lossless file with experts in RAM."""
    for model in ("llama3.1:8b", "qwen3:30b"):
        adv = advisor.explain(model, "rtx-4090")
        assert adv.plan.path == "as-asked", model


def test_a_defaulted_bf16_that_must_be_converted_gives_way_to_published_q8_0(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090")
    assert _rule(adv) == "plan-better-than-asked"
    assert adv.plan.precision.name == "Q8_0" and adv.plan.checkpoint is not None
    assert adv.plan.decode_tokens_per_s >= 1.5 * _asked(adv).decode_tokens_per_s
    # asked for bf16 (runtime left open): kept, served by vLLM from the checkpoint rather than
    # a BF16 GGUF to make; bf16 under llama.cpp asked: as asked
    served = advisor.explain("llama-3.1-8b", "rtx-4090", precision="bf16").plan
    assert served.precision.name == "bf16" and served.runtime == "vllm"
    asked = advisor.explain("llama-3.1-8b", "rtx-4090", precision="bf16", runtime="llama.cpp")
    assert asked.plan.path == "as-asked"


def test_datacenter_bf16_left_to_defaults_is_served_by_vllm(advisor):
    """70B bf16 on 8 x H100 with no runtime named: vLLM serving the checkpoint, not a BF16 GGUF
    to make and split by layers (issue: the expert review's #3)."""
    adv = advisor.explain("llama-3.1-70b", "h100-80gb", gpus=8)
    assert _rule(adv) == "plan-better-than-asked"
    assert adv.plan.runtime == "vllm" and adv.plan.command.startswith("vllm serve")
    # llama.cpp named: kept (a defaulted bf16 may still give way to Q8_0); bf16 named too: as asked
    kept = advisor.explain("llama-3.1-70b", "h100-80gb", gpus=8, runtime="llama.cpp")
    assert kept.plan.runtime == "llama.cpp"
    asked = advisor.explain("llama-3.1-70b", "h100-80gb", gpus=8, runtime="llama.cpp", precision="bf16")
    assert asked.plan.path == "as-asked"


def test_a_question_below_the_usable_speed_is_not_what_to_do(advisor):
    """llama3.1:70b on a 12 GB card: 61 of 80 layers in RAM, about 1.3 tokens/s, below the
    objective's usable 1.5: the best usable plan is What to do; the question stays listed."""
    adv = advisor.explain("llama3.1:70b", "rtx-3060-12gb")
    asked = _asked(adv)
    assert asked is not None and not asked.usable
    assert adv.plan.path != "as-asked" and adv.plan.usable
    assert any(p.path == "as-asked" for p, _ in adv.offered)


def test_a_defaulted_context_is_not_worth_a_quality_class(advisor):
    """Ollama's llama3.1:70b on a 64 GB Mac defaults to 131,072 tokens: Q4_K_M at a shorter
    context rather than Q3_K_M with a q4_0 cache; given with -c, the context is kept."""
    adv = advisor.explain("llama3.1:70b", "m4-max-64gb")
    assert adv.plan.precision.name == "Q4_K_M" and adv.plan.context_tokens >= 8192
    given = advisor.explain("llama3.1:70b", "m4-max-64gb", context_tokens=131072).plan
    assert given.context_tokens == 131072


QUESTIONS = [
    ("qwen2.5:32b", "rtx-3090", {}), ("qwen2.5:32b", "rtx-4090", {}),
    ("gemma3:27b", "rtx-4090", {}), ("mistral-small3.1:24b", "rtx-3060-12gb", {}),
    ("qwen2.5:14b", "rtx-4060-ti-16gb", {}), ("llama-3.1-8b", "rtx-3090", {}),
    ("llama-3.1-8b", "h100-80gb", {}), ("qwen2.5-32b", "a100-80gb", {}),
    ("gemma-3-27b", "mi300x", {}), ("qwen3-235b-a22b", "h100-80gb", {"gpus": 8}),
    ("llama-3.1-70b", "rtx-3090", {"gpus": 2, "runtime": "ollama"}),
    ("llama-3.2-3b", "rtx-5090", {}), ("phi-4", "m4-max-64gb", {}),
    ("qwen2.5:72b", "rtx-4090", {}), ("llama-3.1-8b", "rtx-4090", {"kv_cache": "q8_0"}),
]


@pytest.mark.parametrize("model, gpu, kw", QUESTIONS)
def test_what_beats_the_question_keeps_its_choices_and_loses_nothing(advisor, model, gpu, kw):
    adv = advisor.explain(model, gpu, **kw)
    asked = _asked(adv)
    if _rule(adv) == "plan-as-asked":
        assert asked is not None and asked.usable
    if _rule(adv) != "plan-better-than-asked":
        return
    plan, obj = adv.plan, advisor.objective
    assert plan.owned and plan.model.id == asked.model.id
    assert plan.quality_class <= asked.quality_class
    assert (plan.speed_band, plan.fast_band) >= (asked.speed_band, asked.fast_band)
    faster = (plan.speed_band, plan.fast_band) > (asked.speed_band, asked.fast_band)
    # by speed (1.5x), or in the same quality class for what comes after speed (no file to make)
    assert (plan.decode_tokens_per_s >= obj.beats_asked_speedup * asked.decode_tokens_per_s
            or plan.quality_class == asked.quality_class)
    assert plan.decode_tokens_per_s >= asked.decode_tokens_per_s or not faster
    if "kv_cache" in kw:
        assert plan.kv_cache_dtype == kw["kv_cache"]
    if "runtime" in kw:
        assert plan.runtime == kw["runtime"]


def test_beats_asked_is_false_without_an_asked_plan_and_for_itself(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090")
    asked = _asked(adv)
    for p in adv.path_plans:
        assert not beats_asked(p, None, None, advisor.objective)
    assert not beats_asked(asked, asked, None, advisor.objective)


def test_keeps_choices_and_context_cap_follow_ask_chosen(advisor, kb):
    from dataclasses import replace

    from advisor.plans.evaluate import CHOICES, Ask
    from advisor.sizing.precision import parse_precision
    from advisor.sizing.workload import Workload

    m, g = kb.model("llama-3.1-8b"), kb.gpu("rtx-4090")
    ask = Ask.of(m, g, 1, Workload(context_tokens=32768), parse_precision("bf16"))
    assert ask.chosen == frozenset(CHOICES)  # the inverse questions: everything counts as chosen
    assert context_cap(ask, advisor.objective) is None
    free = replace(ask, chosen=frozenset())
    assert context_cap(free, advisor.objective) == advisor.objective.defaulted_context_tokens
    plan = advisor.explain("llama-3.1-8b", "rtx-4090").plan  # Q8_0
    assert keeps_choices(plan, free) and not keeps_choices(plan, replace(free, chosen=frozenset({"precision"})))


@pytest.mark.parametrize("line, message", [
    ("beats_asked_speedup: 0.5", "beats_asked_speedup is how many times as fast"),
    ("beats_asked_speedup: fast", "beats_asked_speedup is how many times as fast"),
    ("defaulted_context_tokens: 0", "defaulted_context_tokens must be a whole number"),
    ("defaulted_context_tokens: 8192.5", "defaulted_context_tokens must be a whole number"),
])
def test_objective_checks_the_new_terms(tmp_path, line, message):
    from advisor.errors import AdvisorError
    from advisor.paths import data_dir
    from advisor.plans.objective import load_objective

    text = (data_dir("rules") / "objective.yaml").read_text()
    key = line.split(":")[0]
    lines = [ln for ln in text.splitlines() if not ln.startswith(key + ":")]
    (tmp_path / "objective.yaml").write_text("\n".join(lines + [line]) + "\n")
    with pytest.raises(AdvisorError) as e:
        load_objective(tmp_path / "objective.yaml")
    assert message in str(e.value) and "objective.yaml:" in str(e.value)


def test_cli_kv_cache_given_is_a_choice(tmp_path):
    """The command line's --kv-cache has no default value of its own: left out, the KV cache is
    a lever; given (even fp16), every plan recommended over the question keeps it."""
    from click.testing import CliRunner

    from advisor.cli import main

    out = CliRunner().invoke(main, ["explain", "qwen2.5:32b", "rtx-3090", "--kv-cache", "fp16",
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    import json

    assert json.loads(out.output)["plan"]["kv_cache_dtype"] == "fp16"


def test_a_plan_on_your_hardware_keeps_the_choices_where_one_is_usable(advisor):
    """The your-hardware path ranks by what a plan changes from the checkpoint as published, so
    its best could drop a choice (Q4_K_M for a Q5_K_M asked): where a usable plan keeps every
    choice, it is the path's plan (expert review 2, cases 28, 29, b1)."""
    kv = advisor.explain("llama-3.1-8b", "rtx-4090", kv_cache="fp16", context_tokens=131072).plan
    assert kv.kv_cache_dtype == "fp16" and kv.context_tokens == 131072
    fmt = advisor.explain("qwen2.5-32b", "rtx-4090", precision="Q5_K_M").plan
    assert fmt.precision.name == "Q5_K_M" and fmt.cpu_offload_layers == 0
    tag = advisor.explain("qwen2.5:32b-instruct-q5_K_M", "rtx-3090")
    assert tag.plan.precision.name == "Q5_K_M" and tag.plan.cpu_offload_layers == 0
    assert _rule(tag) == "plan-better-than-asked"
    assert tag.plan.decode_tokens_per_s >= 1.5 * _asked(tag).decode_tokens_per_s


def test_among_plans_of_one_priority_the_one_keeping_the_choices_comes_first(advisor):
    """-p Q4_K_M --kv-cache fp16 -c 32768 on a 4090 does not fit on the card: the plan that keeps
    all three (layers in system RAM) is What to do; the faster one that quantizes the cache is
    an option beside it."""
    adv = advisor.explain("qwen2.5-32b", "rtx-4090", precision="Q4_K_M", kv_cache="fp16",
                          context_tokens=32768)
    plan = adv.plan
    assert (plan.precision.name, plan.kv_cache_dtype, plan.context_tokens) == ("Q4_K_M", "fp16", 32768)
    others = [p for p, _ in adv.offered[1:] if p.owned]
    assert any(p.decode_tokens_per_s > plan.decode_tokens_per_s for p in others)


def test_a_few_percent_under_prefer_speed_do_not_swap_a_working_tag(advisor):
    for model in ("qwen3:30b", "llama3.1:8b", "gemma3:27b"):
        adv = advisor.explain(model, "rtx-4090", prefer="speed")
        assert adv.plan.path == "as-asked", model
    # but a defaulted BF16 at 55 tokens/s gives way to a good-quality format 1.5x as fast
    fast = advisor.explain("llama-3.1-8b", "rtx-4090", prefer="speed").plan
    assert fast.path != "as-asked" and fast.quality_class <= advisor.objective.good_class


def test_bitsandbytes_decodes_slower_than_the_16_bit_model(advisor):
    """LLM.int8 and NF4 dequantize on the fly: published runs decode at 15-33% and about 75%
    of the 16-bit speed (constants.BITSANDBYTES_DECODE_SHARE), never faster."""
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", runtime="transformers", every_path=True)
    bf16 = _asked(adv)
    int8 = advisor.explain("llama-3.1-8b", "rtx-4090", runtime="transformers", precision="int8")
    nf4 = advisor.explain("llama-3.1-8b", "rtx-4090", runtime="transformers", precision="nf4")
    assert int8.plan.decode_tokens_per_s < nf4.plan.decode_tokens_per_s < bf16.decode_tokens_per_s
    assert adv.plan.path == "as-asked"


def test_an_ollama_file_the_library_lacks_is_a_change(advisor):
    """A plan that pulls another publisher's file (hf.co/...) instead of an Ollama library tag
    says so among its changes: one more thing to change than a setting of the tag."""
    from advisor.plans.commands import ollama_library_tag
    from advisor.plans.evaluate import changes_from

    adv = advisor.explain("qwen2.5:32b", "rtx-3090", every_path=True)
    plan = adv.plan  # the tag's Q4_K_M at a shorter context: no such change
    assert not any("library tag" in c for c in plan.changes)
    m = plan.model
    from advisor.sizing.precision import parse_precision

    q4ks = parse_precision("Q4_K_S")
    assert ollama_library_tag(m, q4ks) is None
    other = plan.with_(precision=q4ks, checkpoint="bartowski/Qwen2.5-32B-Instruct-GGUF")
    ask = _ask_of(advisor, "qwen2.5:32b", "rtx-3090")
    assert any("instead of an Ollama library tag" in c for c in changes_from(other, ask))
    assert not any("library tag" in c for c in changes_from(plan, ask))


def _ask_of(advisor, model, gpu):
    """The planner's question for `explain model gpu` (captured from Planner.plans)."""
    seen = []
    real = advisor.planner.plans

    def spy(ask, *a, **kw):
        seen.append(ask)
        return real(ask, *a, **kw)

    advisor.planner.plans = spy
    try:
        advisor.explain(model, gpu)
    finally:
        del advisor.planner.plans
    return seen[0]
