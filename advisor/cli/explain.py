"""advisor explain MODEL GPU"""
from __future__ import annotations

import sys
from pathlib import Path

import click

@click.command()
@click.argument("model")
@click.argument("gpu")
@click.option("--precision", "-p", default=None,
              help="fp32, fp16, bf16, fp8, int8, int4 or a GGUF type (Q4_K_M ...). Default fp16.")
@click.option("--context", "-c", type=int, default=None, help="Context length in tokens. Default 8192.")
@click.option("--batch", "-b", type=int, default=1, show_default=True, help="Sequences at once.")
@click.option("--gpus", "-n", type=int, default=1, show_default=True, help="GPUs of this kind.")
@click.option("--kv-cache", default="fp16", show_default=True,
              help="KV cache precision: fp16, bf16, fp8 (vLLM), q8_0, q4_0 (llama.cpp).")
@click.option("--runtime", default="llama.cpp", show_default=True,
              help="llama.cpp, vllm or transformers: whose allocations to size.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True)
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(path_type=Path),
              help="A folder of rule files that adds to or overrides the built-in rules "
                   "(also $ADVISOR_RULES, separated by ':').")
def explain(model, gpu, precision, context, batch, gpus, kv_cache, runtime, fmt, rules_dirs):
    """Explain whether MODEL runs on GPU, and what to do if it does not."""
    from advisor.advise import Advisor, load_rulebook
    from advisor.kb import load_kb
    from advisor.render import render_json, render_markdown

    defaults = set()
    if precision is None:
        defaults = defaults | {"precision"}
    if context is None:
        context, defaults = 8192, defaults | {"context"}
    advisor = Advisor(load_kb(), load_rulebook(rules_dirs))
    adv = advisor.explain(model, gpu, precision, context, batch, gpus, kv_cache, runtime)
    if getattr(adv.situation.model, "weights_inventory", None) is not None:
        defaults.discard("precision")  # the file's own precision, not a default
    text = render_json(adv) if fmt == "json" else render_markdown(adv, defaults)
    sys.stdout.write(text)
