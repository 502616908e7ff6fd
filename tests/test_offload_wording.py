"""What an advisory says of a question with layers in system RAM (expert review 2): the limiting
factor, and the largest context with every layer on the GPU beside the split's own."""
from __future__ import annotations

from advisor.render import render_markdown


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_both_gpu_and_ram_short_names_the_model_size_not_ram(advisor):
    adv = advisor.explain("llama-3.1-70b", "rtx-4090", gpu_layers=40)
    text = _section(render_markdown(adv), "The limiting factor")
    assert adv.verdict == "does-not-fit" and adv.facts["headroom_bytes"] < 0 and not adv.facts["ram_fits"]
    assert "size of the model" in text and "neither has room" in text
    assert "more layers on the GPU" not in text


def test_ram_alone_short_still_says_ram(advisor):
    adv = advisor.explain("llama-3.1-70b", "rtx-4090", precision="Q8_0", gpu_layers=0)
    assert "The limiting factor is system RAM" in _section(render_markdown(adv), "The limiting factor")


def test_ollama_split_gives_the_context_with_every_layer_on_the_gpu(advisor):
    adv = advisor.explain("qwen2.5:32b", "rtx-3090")
    f = adv.facts
    assert 0 < f["whole_max_context_tokens_fp16"] < adv.situation.work.context_tokens
    assert f["whole_max_context_tokens_fp16"] < f["whole_max_context_tokens_q8_0"]
    assert f["whole_max_context_tokens_fp16"] < f["max_context_tokens"]  # the split's own is larger
    md = render_markdown(adv, frozenset({"n_gpu_layers", "context", "runtime", "precision"}))
    assert f"{f['whole_max_context_tokens_fp16']:,} tokens at fp16" in md
    assert "GPU memory, and it costs speed" in _section(md, "The limiting factor")
    # a plan that shortens the context to put every layer on the card stays within that figure
    assert adv.plan.context_tokens <= f["whole_max_context_tokens_" + adv.plan.kv_cache_dtype]


def test_no_split_no_whole_context_facts(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090")
    assert not any(k.startswith("whole_max_context") for k in adv.facts)
