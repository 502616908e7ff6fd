"""Golden fine-tuning advisories: 8B/70B/405B x full/LoRA/QLoRA, plus the scenarios that make
the checkpointing and shorter-sequence rules fire. Reviewed like code; regenerate with
ADVISOR_UPDATE_GOLDEN=1 pytest tests/test_finetune_golden.py."""
import json
from pathlib import Path

import pytest

from advisor.render import render_json
from advisor.sizing.finetune import spec_from_mapping
from tests.golden_files import check_golden

GOLDEN = Path(__file__).parent / "golden" / "finetune"
# (model, gpu, gpus, FinetuneSpec fields)
CASES = [
    ("llama-3.1-8b", "h100-80gb", 1, {"method": "full"}),
    ("llama-3.1-8b", "rtx-4090", 1, {"method": "lora"}),
    ("llama-3.1-8b", "rtx-4090", 1, {"method": "qlora"}),
    ("llama-3.1-70b", "h100-80gb", 1, {"method": "full"}),
    ("llama-3.1-70b", "h100-80gb", 1, {"method": "lora"}),
    ("llama-3.1-70b", "l40s", 1, {"method": "qlora"}),
    ("llama-3.1-405b", "h100-80gb", 8, {"method": "full", "sharding": "zero3"}),
    ("llama-3.1-405b", "h100-80gb", 8, {"method": "lora", "sharding": "zero3"}),
    ("llama-3.1-405b", "h200", 1, {"method": "qlora"}),
    ("llama-3.1-8b", "rtx-4090", 1, {"method": "lora", "seq_len": 4096,
                                     "gradient_checkpointing": False}),
    ("llama-3.1-8b", "rtx-4090", 1, {"method": "qlora", "seq_len": 32768}),
    ("llama-3.1-8b", "rtx-4090", 1, {"method": "lora", "seq_len": 4032}),  # tight
    # the expert cases of issue 17
    ("llama-3.1-8b", "h100-80gb", 8, {"method": "full"}),
    ("llama-3.1-70b", "h100-80gb", 8, {"method": "full", "sharding": "fsdp"}),
    ("llama-3.1-70b", "rtx-4090", 1, {"method": "qlora"}),
    # training time (--train-tokens): the asked setup and every plan, rented ones with their cost
    ("llama-3.1-70b", "rtx-4090", 1, {"method": "qlora", "train_tokens": 100_000_000}),
    ("llama-3.1-8b", "h100-80gb", 1, {"method": "full", "train_tokens": 2_000_000_000}),
]

# What an engineer who fine-tunes says (issue 17), as assertions on What to do.
EXPERT = {
    # keep full fine-tuning and shard it over the eight cards
    ("llama-3.1-8b", "h100-80gb", 8, "full"):
        lambda a: a.plan.owned and a.plan.spec.method == "full" and a.plan.spec.sharding != "none"
        and a.plan.gpu_count == 8,
    # still full: FSDP with a lighter optimizer state or pure bf16, on the eight cards
    ("llama-3.1-70b", "h100-80gb", 8, "full"):
        lambda a: a.plan.owned and a.plan.spec.method == "full" and a.plan.gpu_count == 8,
    # one rented 48-80 GB card, before more 4090s
    ("llama-3.1-70b", "rtx-4090", 1, "qlora"):
        lambda a: a.plan.path == "rent" and a.plan.gpu_count == 1
        and 48 * 2**30 * 0.95 <= a.plan.gpu.memory_bytes <= 80 * 2**30 * 1.05,
}


def stem(case) -> str:
    m, g, n, spec = case
    extra = "".join(f"__{k}-{v}" for k, v in sorted(spec.items()) if k != "method")
    return f"{m}__{g}x{n}__{spec['method']}{extra}"


def explain(advisor, case):
    m, g, n, spec = case
    return advisor.explain(m, g, gpus=n, finetune=spec_from_mapping(spec))


@pytest.mark.parametrize("case", CASES, ids=[stem(c) for c in CASES])
def test_finetune_golden(case, advisor):
    adv = explain(advisor, case)
    m, g, n, spec = case
    expert = EXPERT.get((m, g, n, spec["method"])) if len(spec) <= 2 else None
    if expert is not None:
        assert adv.plan is not None and expert(adv), adv.plan and adv.plan.to_json()
    check_golden(adv, GOLDEN / stem(case))


def test_json_contract_for_training(advisor):
    d = json.loads(render_json(explain(advisor, CASES[0])))
    assert set(d) == {"model", "gpu", "workload", "memory", "verdict", "recommendations",
                      "throughput", "rules_fired", "plan", "plans"}
    for p in d["plans"]:
        assert {"method", "sharding", "optimizer", "pure_bf16", "gradient_checkpointing",
                "path", "rule", "gpu_id", "gpu_count", "owned", "command"} <= set(p)
    assert set(d["memory"]) >= {"weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes",
                                "available_bytes", "headroom_bytes", "breakdown"}
    b = d["memory"]["breakdown"]
    assert set(b) == {"weights", "gradients", "optimizer_states", "master_weights", "adapters",
                      "activations", "framework"}
    assert sum(b.values()) == d["memory"]["per_gpu_bytes"] == d["memory"]["total_bytes"]
    assert d["workload"]["task"] == "finetune"


def test_goldens_cover_every_verdict(advisor):
    assert {explain(advisor, c).verdict for c in CASES} == {"fits", "tight", "does-not-fit"}
