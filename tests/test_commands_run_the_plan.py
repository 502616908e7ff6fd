"""What to do's command runs the plan it sizes (expert review 3, fault 1): an Ollama plan sized
with the latent cache never pulls a library file that caches per head, and no Ollama plan holds a
context beyond what Ollama runs (it clamps to the GGUF's trained context, with no rope scaling)."""
from __future__ import annotations

from advisor.plans.commands import ollama_library_tag, ollama_pulls_per_head
from advisor.render import render_markdown


def test_a_latent_plan_of_an_ollama_per_head_tag_makes_and_imports_its_file(advisor, kb):
    adv = advisor.explain("deepseek-r1:671b", "m3-ultra-512gb")
    m = kb.model("deepseek-r1")
    assert m.ollama_mla_per_head_cache
    for plan, _ in adv.offered:
        if plan.runtime != "ollama" or plan.command is None:
            continue
        tag = ollama_library_tag(plan.model, plan.precision)
        if not plan.mla_per_head_cache and plan.model.id == "deepseek-r1":
            assert tag is None or f"ollama run {tag}" != plan.command, plan.command
            assert not ollama_pulls_per_head(plan.model, plan.precision) or \
                any("ollama create" in n and "-MLA.gguf" in n for n in plan.notes), plan.notes


def test_every_ollama_plan_pulling_a_per_head_file_is_sized_per_head(advisor):
    for q in [("deepseek-r1:671b", "m3-ultra-512gb"), ("deepseek-v2:16b", "rtx-3090"),
              ("deepseek-r1", "m3-ultra-512gb")]:
        try:
            adv = advisor.explain(*q, runtime="ollama") if ":" not in q[0] else advisor.explain(*q)
        except Exception:
            continue
        for plan, _ in adv.offered:
            if plan.runtime == "ollama" and plan.command and plan.command.startswith("ollama run "):
                name = plan.command.split()[-1]
                if name == ollama_library_tag(plan.model, plan.precision) and \
                        plan.model.ollama_mla_per_head_cache:
                    assert plan.mla_per_head_cache, (q, plan.command)


def test_ollama_plans_stay_within_the_trained_context_and_say_why(advisor):
    adv = advisor.explain("qwen3:30b", "rtx-4090", context_tokens=131072)
    limit = adv.plan.model.architecture.max_context
    for plan, _ in adv.offered:
        if plan.runtime == "ollama":
            assert plan.context_tokens <= limit and plan.command, plan.command
    assert adv.plan.command and adv.plan.context_tokens == limit
    text = render_markdown(adv)
    assert "Ollama cannot run Qwen3 30B-A3B at 131,072 tokens" in text
    assert "--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768" in text
