"""The fine-tuning facts and rules over the whole KB."""
from advisor.facts import FACTS
from advisor.facts import finetune as finetune_facts
from advisor.sizing.finetune import METHODS, FinetuneSpec


def test_one_verdict_and_a_way_out_for_every_model_gpu_method(advisor, kb):
    """Every model x method, on three GPUs rotating through the KB (the full product is over
    11,000 questions, each searching every KB GPU for a rental)."""
    gpus = kb.all_gpus()
    for i, m in enumerate(kb.all_models()):
        for j, method in enumerate(METHODS):
            for g in [gpus[(i * 3 + j + s * len(gpus) // 3) % len(gpus)] for s in range(3)]:
                adv = advisor.explain(m.id, g.id, finetune=FinetuneSpec(method=method))
                f = adv.situation.facts
                assert adv.verdict in ("fits", "tight", "does-not-fit")
                assert (adv.verdict == "does-not-fit") == (f["headroom_bytes"] < 0)
                if adv.verdict == "does-not-fit":
                    assert adv.recommendations, (m.id, g.id, method)
                    assert any(r["fits"] for r in adv.recommendations), (m.id, g.id, method)
                assert all(r["kind"].startswith("finetune-") for r in adv.recommendations)


def test_finetune_facts_absent_for_inference(advisor):
    f = advisor.explain("llama-3.1-70b", "a100-40gb", "fp16").situation.facts
    assert not [k for k in f if k.startswith("finetune_")]
    assert f["task"] == "inference"


def test_inference_speed_and_kv_facts_absent_for_training(advisor):
    f = advisor.explain("llama-3.1-8b", "h100-80gb", finetune=FinetuneSpec()).situation.facts
    assert "decode_tokens_per_s" not in f and "kv_cache_bytes" not in f
    assert f["task"] == "finetune"


def test_every_option_saves_memory_and_its_numbers_add_up(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090",
                          finetune=FinetuneSpec(method="full", gradient_checkpointing=False))
    f = adv.situation.facts
    for key in ("checkpointing", "8bit_optimizer", "lora", "qlora", "shard"):
        saves = f[f"finetune_{key}_saves_bytes"]
        assert saves > 0
        assert f[f"finetune_{key}_per_gpu_bytes"] == f["finetune_per_gpu_bytes"] - saves
    parts = sum(f[f"finetune_{p}_bytes"] for p in ("weights", "gradients", "optimizer_states",
                                                   "master_weights", "adapters", "activations",
                                                   "framework"))
    assert parts == f["finetune_per_gpu_bytes"] == f["total_bytes"]


def test_finetune_facts_registered():
    assert set(finetune_facts.FACTS) <= set(FACTS)
