"""What to do under --prefer speed and cost when the model asked does not run usably on your
hardware (rule plan-another-model-first), and the round contexts of shortened defaulted contexts
(advisor.plans.evaluate.shortened_context)."""
from __future__ import annotations

import pytest

from advisor.plans.evaluate import shortened_context


def test_speed_runs_a_smaller_model_on_your_card_before_renting(advisor):
    """--prefer speed: a 70B reaches 10 tokens/s only on a rented card; a 32B on the 4090 does
    (under --prefer cost the 70B with layers in RAM is usable, and free: it stays the plan)."""
    adv = advisor.explain("llama-3.1-70b", "rtx-4090", prefer="speed")
    plan = adv.plan
    assert plan.path == "another-model" and plan.owned and plan.usable
    assert plan.gpu.id == "rtx-4090" and plan.gpu_count == 1 and not plan.offload
    # (it scores higher than the 70B, so plan-better-model-first offers it first too)
    assert adv.rule_of(plan) in ("plan-another-model-first", "plan-better-model-first")
    # renting the model asked stays an option beside it
    assert any(p.path == "rent" for p, _ in adv.offered)
    assert advisor.explain("llama-3.1-70b", "rtx-4090", prefer="cost").plan.path == "your-hardware"


def test_quality_rents_the_model_asked_when_it_is_unusable_on_your_card(advisor):
    """--prefer quality keeps the model asked first: where it cannot run usably at all (R1
    Distill Llama 70B thinking on a 16 GB card) and no model that scores as well as published
    runs there, renting it leads and the smaller model is an option. Where one does (a 405B on
    one 4090: Qwen3 30B-A3B Instruct 2507 scores 78.4 against its 73.3), that model on your
    card leads (plan-better-model-first) and renting the 405B is the option."""
    adv = advisor.explain("deepseek-r1-distill-llama-70b", "rtx-4060-ti-16gb")
    assert adv.plan.path == "rent" and adv.plan.model.id == "deepseek-r1-distill-llama-70b"
    assert any(p.path == "another-model" for p, _ in adv.offered)
    adv = advisor.explain("llama-3.1-405b", "rtx-4090")
    assert adv.plan.path == "another-model" and adv.rule_of(adv.plan) == "plan-better-model-first"
    assert any(p.path == "rent" and p.model.id == "llama-3.1-405b" for p, _ in adv.offered)


@pytest.mark.parametrize("most, chosen, want", [
    (16896, False, 16384), (17920, False, 16384), (23552, False, 20480), (24576, False, 24576),
    (80128, False, 65536), (40448, False, 32768), (7424, False, 7168), (4352, False, 4096),
    (119296, False, 114688),
    (16896, True, 16896), (7424, True, 7424), (7500, True, 7424), (3000, False, None),
])
def test_a_defaulted_context_is_cut_to_a_round_value_a_chosen_one_to_256(most, chosen, want):
    assert shortened_context(most, 4096, chosen) == want


@pytest.mark.parametrize("most", range(4096, 300_000, 997))
def test_shortened_contexts_never_exceed_what_fits_nor_lose_more_than_a_fifth(most):
    got = shortened_context(most, 4096, False)
    assert 4096 <= got <= most and got > most * 0.8 - 256
    assert got % 256 == 0


def test_ollama_default_context_is_shortened_to_a_round_value(advisor):
    plan = advisor.explain("qwen2.5:32b", "rtx-3090").plan
    assert plan.runtime == "ollama" and plan.cpu_offload_layers == 0
    assert plan.context_tokens == 16384
    assert any("OLLAMA_CONTEXT_LENGTH=16384 " in n for n in plan.notes)


def test_finetuning_with_the_default_method_runs_qlora_on_your_card_before_renting(advisor):
    """No --method: LoRA is a default, and QLoRA on the user's 12 GB card (an NF4 base, which
    matched 16-bit LoRA in the QLoRA paper) is What to do rather than renting a card for LoRA;
    --method lora given is a choice, kept by renting."""
    from advisor.sizing.finetune import FinetuneSpec

    plan = advisor.explain("llama-3.1-8b", "rtx-3060-12gb",
                           finetune=FinetuneSpec(method_given=False)).plan
    assert plan.path == "your-hardware" and plan.spec.method == "qlora" and plan.owned
    assert "QLoRA instead of LoRA (the default)" in plan.changes
    given = advisor.explain("llama-3.1-8b", "rtx-3060-12gb", finetune=FinetuneSpec(method="lora")).plan
    assert given.spec.method == "lora" and given.path == "rent"


def test_the_cli_passes_whether_the_method_was_given():
    from advisor.cli.finetune_options import finetune_spec

    assert finetune_spec("finetune", {}, {})[0].method_given is False
    assert finetune_spec("finetune", {"method": "lora"}, {})[0].method_given is True


def test_a_band_edge_between_nearly_equal_speeds_decides_nothing(advisor, kb, tmp_path):
    """objective.yaml band_tolerance: Mixtral on a 16 GB 4060 Ti runs Q5_K_M at 7.8 tokens/s;
    with bands as they fall, Q5_K_S at 8.0 won for crossing the 8 tokens/s bound."""
    from advisor.advise import Advisor, load_objective_file, load_rulebook
    from advisor.paths import data_dir

    own = advisor.explain("mixtral-8x7b", "rtx-4060-ti-16gb").plan
    assert own.precision.name == "Q5_K_M" and own.decode_tokens_per_s < 8.0
    text = (data_dir("rules") / "objective.yaml").read_text()
    assert "band_tolerance: 1.1\n" in text
    (tmp_path / "objective.yaml").write_text(text.replace("band_tolerance: 1.1\n", "band_tolerance: 1\n"))
    a = Advisor(kb, load_rulebook([tmp_path]), load_objective_file([tmp_path]))
    old = a.explain("mixtral-8x7b", "rtx-4060-ti-16gb").plan
    assert old.precision.name == "Q5_K_S" and old.decode_tokens_per_s >= 8.0
    assert advisor.objective.near(old.decode_tokens_per_s, own.decode_tokens_per_s)


@pytest.mark.parametrize("line", ["band_tolerance: 0.9", "band_tolerance: 3", "band_tolerance: x",
                                  "spill_slowdown: 0.5", "spill_slowdown: .nan"])
def test_objective_refuses_bad_tolerances(tmp_path, line):
    from advisor.errors import AdvisorError
    from advisor.paths import data_dir
    from advisor.plans.objective import load_objective

    text = (data_dir("rules") / "objective.yaml").read_text()
    key = line.split(":")[0]
    text = "\n".join(x for x in text.splitlines() if not x.startswith(key + ":")) + f"\n{line}\n"
    (tmp_path / "objective.yaml").write_text(text)
    with pytest.raises(AdvisorError, match=key):
        load_objective(tmp_path / "objective.yaml")
