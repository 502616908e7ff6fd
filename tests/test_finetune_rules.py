"""The fine-tuning facts and plans over the whole KB."""
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
                if adv.verdict != "fits":
                    assert adv.offered, (m.id, g.id, method)
                for plan, rule in adv.offered:
                    assert plan.task == "finetune" and plan.per_gpu_bytes <= plan.gpu.memory_bytes
                    assert plan.spec.seq_len <= 2048 and plan.spec.micro_batch == 1
                    if plan.owned:
                        assert plan.gpu.id == g.id and plan.gpu_count == 1
                    if plan.spec.method == "qlora":
                        assert plan.gpu.vendor == "nvidia" or plan.owned


def test_finetune_facts_absent_for_inference(advisor):
    f = advisor.explain("llama-3.1-70b", "a100-40gb", "fp16").situation.facts
    assert not [k for k in f if k.startswith("finetune_")]
    assert f["task"] == "inference"


def test_inference_speed_and_kv_facts_absent_for_training(advisor):
    f = advisor.explain("llama-3.1-8b", "h100-80gb", finetune=FinetuneSpec()).situation.facts
    assert "decode_tokens_per_s" not in f and "kv_cache_bytes" not in f
    assert f["task"] == "finetune"


def test_every_plan_is_sized_by_finetune_memory_and_keeps_the_method_first(advisor, kb):
    from advisor.plans.finetune import finetune_plans
    from advisor.sizing.finetune import finetune_memory

    for m, g, n, spec in [("llama-3.1-8b", "rtx-4090", 1, FinetuneSpec(method="full")),
                          ("llama-3.1-70b", "a100-80gb", 2, FinetuneSpec(method="lora")),
                          ("qwen3-30b-a3b", "rtx-3090", 1, FinetuneSpec(method="qlora"))]:
        plans = finetune_plans(kb, kb.model(m), kb.gpu(g), n, spec)
        for path, p in plans.items():
            mem = finetune_memory(kb.model(m).architecture, p.spec, p.gpu_count)
            assert mem.per_gpu_bytes == p.per_gpu_bytes, (m, path)
            assert p.gpu.memory_bytes - p.per_gpu_bytes >= 1 << 30, (m, path)
            if p.spec.method != spec.method:
                # another method only when no setup keeps the method asked on those cards
                from advisor.plans.finetune import variants

                for v, _ in variants(spec, p.gpu_count > 1):
                    if v.method == spec.method:
                        used = finetune_memory(kb.model(m).architecture, v, p.gpu_count)
                        assert p.gpu.memory_bytes - used.per_gpu_bytes < 1 << 30, (m, path, v)
            if path == "rent":
                assert p.usd_per_hour is not None and p.gpu.vendor in ("nvidia", "amd")


def test_finetune_facts_registered():
    assert set(finetune_facts.FACTS) <= set(FACTS)
