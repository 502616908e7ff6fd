"""What to do over a fixed set of questions, to compare two versions of the planner.

    python benchmarks/plan_sweep.py REPO > out.json      # the plans of the advisor in REPO
    python benchmarks/plan_sweep.py --compare old.json new.json

REPO is a checkout of this project (`.`, or `git worktree add /tmp/base REV`); the questions
are the defaults a user asks: 15 KB models x 10 GPUs, 10 Ollama names x 5 GPUs, and 3 models
on 2 and 8 of 3 data-centre or consumer cards (218). Each answer is What to do's path, format,
runtime, KV cache, context, cards, layers in RAM, decode speed and model, in one line.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter

MODELS = ["llama-3.1-8b", "llama-3.1-70b", "qwen2.5-32b", "qwen2.5-7b", "gemma-3-27b",
          "mistral-small-3.1-24b", "qwen3-30b-a3b", "qwen3-32b", "phi-4", "llama-3.2-3b",
          "deepseek-r1-distill-qwen-32b", "mixtral-8x7b", "qwen2.5-72b", "gemma-3-12b", "qwen3-14b"]
GPUS = ["rtx-3060-12gb", "rtx-4060-ti-16gb", "rtx-3090", "rtx-4090", "rtx-5090", "a100-80gb",
        "h100-80gb", "l40s", "m4-max-64gb", "mi300x"]
OLLAMA = ["llama3.1:8b", "llama3.1:70b", "qwen2.5:32b", "qwen2.5:14b", "gemma3:27b", "qwen3:30b",
          "mistral-small3.1:24b", "deepseek-r1:32b", "qwen2.5:72b", "phi4:14b"]
OLLAMA_GPUS = ["rtx-3060-12gb", "rtx-4060-ti-16gb", "rtx-3090", "rtx-4090", "m4-max-64gb"]
MULTI = [(m, g, n) for m in ("llama-3.1-70b", "qwen3-235b-a22b", "qwen2.5-72b")
         for g in ("h100-80gb", "rtx-3090", "a100-80gb") for n in (2, 8)]


def questions() -> list[tuple[str, str, int | None]]:
    return ([(m, g, None) for m in MODELS for g in GPUS]
            + [(m, g, None) for m in OLLAMA for g in OLLAMA_GPUS] + MULTI)


def sweep(repo: str) -> dict:
    sys.path.insert(0, os.path.abspath(repo))
    os.environ["ADVISOR_NO_CACHE"] = "1"
    from advisor.advise import Advisor, load_rulebook
    from advisor.errors import AdvisorError
    from advisor.kb.store import load_kb

    advisor = Advisor(load_kb(), load_rulebook())
    out = {}
    for m, g, n in questions():
        key = f"{m} {g}" + (f" -n {n}" if n else "")
        try:
            p = advisor.explain(m, g, gpus=n).plan
        except AdvisorError as exc:
            out[key] = f"error: {str(exc)[:80]}"
            continue
        out[key] = None if p is None else (
            f"{p.path} {p.precision.name} {p.runtime} kv={p.kv_cache_dtype} ctx={p.context_tokens} "
            f"n={p.gpu_count} {p.gpu.id} ram_layers={p.cpu_offload_layers}/{p.moe_cpu_layers} "
            f"{p.decode_tokens_per_s:.1f}tok/s {p.model.id}")
    return out


def compare(old: dict, new: dict) -> str:
    changed = [k for k in old if old[k] != new.get(k)]
    kinds = Counter((old[k] or "none").split()[0] + " -> " + " ".join((new.get(k) or "none").split()[:3:2])
                    for k in changed)
    lines = [f"{len(changed)} of {len(old)} What-to-do plans changed"]
    lines += [f"  {n:3d}  {kind}" for kind, n in kinds.most_common()]
    for k in changed:
        lines += [k, f"    old {old[k]}", f"    new {new.get(k)}"]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compare"] and len(sys.argv) == 4:
        print(compare(json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))))
    elif len(sys.argv) == 2:
        print(json.dumps(sweep(sys.argv[1]), indent=0, sort_keys=True))
    else:
        sys.exit(__doc__)
