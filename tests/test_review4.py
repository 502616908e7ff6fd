"""Faults of expert review 4 (/work/notes/review4.md in the session notes), each a kind:
commands that fail as printed (a GGUF recipe at a type llama-quantize refuses without an
importance matrix; a repo whose code vLLM must be trusted to run)."""
from __future__ import annotations

import re

import pytest

from advisor.sizing.gguf_mix import REQUIRES_IMATRIX


def _notes(plan) -> str:
    return " ".join(plan.notes)


@pytest.mark.parametrize("model, gpu", [("llama-3.1-70b", "rtx-4090"),
                                        ("deepseek-r1", "m2-ultra-192gb"),
                                        ("qwen2.5-72b", "rtx-3090")])
def test_a_recipe_at_a_type_that_needs_an_importance_matrix_makes_one(advisor, model, gpu):
    """llama-quantize exits 1 for IQ1_S, IQ1_M, IQ2_S, IQ2_XXS, IQ2_XS and Q2_K_S without
    --imatrix (tools/quantize/quantize.cpp), and llama-quant.cpp for any tensor of such a type."""
    adv = advisor.explain(model, gpu)
    made = [p for p in adv.path_plans
            if "llama-quantize" in _notes(p) or "convert_hf_to_gguf" in _notes(p)]
    assert made, "no plan makes its GGUF here: pick another case"
    for p in made:
        text = _notes(p)
        if p.precision.name in REQUIRES_IMATRIX:
            assert "llama-imatrix" in text and "--imatrix" in text, text
            for q in re.findall(r"`llama-quantize [^`]*`", text):
                assert "--imatrix imatrix.dat" in q, q
        else:
            assert "imatrix" not in text, text


def test_a_published_type_below_iq2_m_is_downloaded_not_made(advisor):
    adv = advisor.explain("llama-3.3-70b", "rtx-4090")
    low = [p for p in adv.path_plans if p.precision.name in {"IQ2_XS", "IQ2_XXS", "IQ2_S", "IQ1_M"}]
    assert low
    for p in low:
        assert p.command.startswith("llama-server -hf bartowski/Llama-3.3-70B-Instruct-GGUF:")
        assert "convert_hf_to_gguf" not in _notes(p)


@pytest.mark.parametrize("runtime, flag", [("vllm", "vllm serve"),
                                           ("sglang", "python -m sglang.launch_server")])
def test_a_repo_that_ships_its_own_code_is_launched_trusting_it(advisor, kb, runtime, flag):
    """Kimi K2's tokenizer is code in its repo: Moonshot's deployment guide launches vLLM and
    SGLang with --trust-remote-code."""
    assert kb.model("kimi-k2").trust_remote_code
    adv = advisor.explain("kimi-k2", "h200", gpus=8, runtime=runtime)
    cmds = [p.command for p in adv.path_plans
            if p.command and p.command.startswith(flag) and p.model.trust_remote_code]
    assert cmds
    assert all(c.endswith("--trust-remote-code") or " --trust-remote-code" in c for c in cmds)
    adv = advisor.explain("llama-3.1-8b", "h100-80gb", runtime=runtime)
    assert all("--trust-remote-code" not in (p.command or "") for p in adv.path_plans)
    others = [p.command for p in advisor.explain("kimi-k2", "h200", gpus=8, runtime=runtime).path_plans
              if p.command and not p.model.trust_remote_code]
    assert all("--trust-remote-code" not in c for c in others)


def test_no_rented_or_added_card_is_offered_that_improves_nothing_on_your_own(advisor):
    """A 4090 owner whose card runs Llama 3.1 8B at Q8_0 with 131,072 tokens is not offered a
    rented RTX 3090 running the same Q8_0 at the same speed: every rented or more-card plan
    offered beats the best plan of the model asked on the owner's hardware in quality class,
    context, choices kept or decode speed (the objective's beats_asked_speedup)."""
    for model, gpu, kw in [("llama-3.1-8b", "rtx-4090", {"context_tokens": 131072}),
                           ("llama-3.1-405b", "h100-80gb", {"gpus": 8}),
                           ("llama-3.1-70b", "rtx-3090", {"gpus": 2})]:
        adv = advisor.explain(model, gpu, **kw)
        own = [p for p, _ in adv.offered if p.owned and p.usable and p.model.id == adv.situation.model.id]
        assert own, (model, gpu)
        best = own[0]
        for p, rule in adv.offered:
            if p.owned or rule == "plan-last-resort":
                continue
            ask_speedup = advisor.objective.beats_asked_speedup
            assert (p.quality_class < best.quality_class or p.context_tokens > best.context_tokens
                    or p.decode_tokens_per_s >= best.decode_tokens_per_s * ask_speedup
                    or p.model.id != best.model.id), (model, gpu, rule, p.path)
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", context_tokens=131072)
    assert not [p for p, _ in adv.offered if p.path == "rent"]


def test_a_rented_card_is_still_offered_where_your_hardware_cannot_run_it_well(advisor):
    adv = advisor.explain("llama-3.1-70b", "rtx-3060-12gb")
    assert [p for p, rule in adv.offered if p.path == "rent" and rule == "plan-rent"]


def test_a_fit_with_layers_in_system_ram_says_so_in_its_verdict(advisor):
    """Ollama's llama3.1:70b on a 4090 runs with 46 of 81 layers in system RAM at under 2
    tokens/s: "Verdict: fits." alone reads as a fit on the card."""
    from advisor.render import render_markdown

    adv = advisor.explain("llama3.1:70b", "rtx-4090")
    md = render_markdown(adv, {"context", "precision", "runtime", "n_gpu_layers"})
    assert adv.verdict == "fits" and adv.to_json()["verdict"] == "fits"
    assert "**Verdict: fits, with 46 layers and the output layer in system RAM.**" in md
    md = render_markdown(advisor.explain("llama-3.1-8b", "rtx-4090"), {"precision"})
    assert "**Verdict: fits.**" in md


def test_the_gpus_table_prices_the_cards_one_rents(kb):
    """`advisor gpus deepseek-r1` priced 4 MI300X and 7 A100s, sets no provider rents: a set is
    priced at the smallest count the card is rented in that holds it, and the table says so."""
    from advisor.advise import load_objective_file
    from advisor.bulk.inverse import gpus_that_run
    from advisor.bulk.tables import gpus_grid
    from advisor.plans.planner import Planner
    from advisor.sizing.workload import Workload, default_context_tokens

    m = kb.model("deepseek-r1")
    rows = gpus_that_run(Planner(kb, load_objective_file([])), kb, m,
                         Workload(context_tokens=default_context_tokens(m)))
    assert rows
    odd = 0
    for r in rows:
        if r.price_usd_per_hour is None:
            continue
        assert r.rented_count >= r.count
        assert r.rented_count == r.count or any(
            u > 1 and r.rented_count % u == 0 for u in r.gpu.rental_units)
        p = r.gpu.on_demand_price(r.rented_count)
        assert abs(r.price_usd_per_hour - p.usd_per_gpu_hour * r.rented_count) < 0.01
        odd += r.rented_count != r.count
        assert r.to_json()["rented_count"] == r.rented_count
    assert odd   # 4 MI300X, 7 A100 80GB: priced as the 8 rented
    text = gpus_grid(rows).text()
    assert "(8 rented)" in text


def test_a_model_put_before_renting_scores_as_well_on_the_same_basis_as_quoted(advisor, kb):
    """plan-better-model-first compares the scores the advisory quotes (score_basis: a reasoning
    model's thinking score): Qwen3 32B (79.1 thinking) does not tie Qwen3 235B-A22B (82.8)."""
    from advisor.plans.evaluate import compared_score, score_basis, scores_at_least

    big, small = kb.model("qwen3-235b-a22b"), kb.model("qwen3-32b")
    assert compared_score(small, big).score < score_basis(big).score - 2
    assert not scores_at_least(small, big, 2)
    adv = advisor.explain("qwen3-235b-a22b", "rtx-3090", gpus=2)
    assert all(rule != "plan-better-model-first" for _, rule in adv.offered)
    for p, rule in advisor.explain("qwen3-32b", "rtx-3060-12gb").offered:
        if rule == "plan-better-model-first":
            assert compared_score(p.model, small).score >= score_basis(small).score - 2


def test_a_gguf_with_a_trailing_block_puts_every_layer_on_the_gpu(advisor, kb):
    """GLM-4.5's GGUFs hold a NextN block after the 46 layers, which llama.cpp counts among the
    slots before the output layer: -ngl 47 left the output layer in RAM; every layer is 48."""
    assert kb.model("glm-4.5-air").architecture.layers == 46
    adv = advisor.explain("glm-4.5-air", "h100-80gb")
    full = [p.command for p in adv.path_plans if p.runtime == "llama.cpp" and not p.offload
            and p.command and p.model.id == "glm-4.5-air"]
    assert full and all(" -ngl 48 " in c for c in full), full
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", precision="Q8_0")
    assert " -ngl 33 " in adv.plan.command


def test_a_kv_pool_beyond_the_models_context_is_told_in_sequences_it_can_hold(advisor):
    """vLLM's pool on an H200 holds far more than Llama 3.1 8B's 131,072 positions: 'room for
    one sequence of 868,128 tokens' named a sequence no model of it can have."""
    from advisor.render import render_markdown

    md = render_markdown(advisor.explain("llama-3.1-8b", "h200", runtime="vllm"), {"precision"})
    assert "room for one sequence of" not in md
    m = re.search(r"room for ([\d,]+) tokens in all: (\d+) sequences of ([\d,]+) tokens at once", md)
    pool, whole, seq = (int(g.replace(",", "")) for g in m.groups())
    assert seq == advisor.explain("llama-3.1-8b", "h200", runtime="vllm").situation.work.context_tokens
    assert pool // seq == whole


def test_a_batch_beyond_the_pools_whole_sequences_is_told_what_vllm_does(advisor):
    """review 4 #11: 64 sequences of 32,768 tokens on one H100 (Llama 3.1 8B, bf16) need 275 GB
    of KV at once, so the verdict is that they do not fit; vLLM still starts, and its pool holds
    12 whole sequences: the Memory section says a batch of 64 runs at once only while its
    sequences average under the pool's share of each, and that vLLM preempts the rest."""
    from advisor.render import render_markdown

    adv = advisor.explain("llama-3.1-8b", "h100-80gb", None, 32768, runtime="vllm", batch=64)
    md = render_markdown(adv, {"runtime", "batch", "context"})
    pool = adv.situation.facts["kv_pool_tokens"]
    assert f"{pool // 32768} sequences of 32,768 tokens at once" in md
    assert f"a batch of 64 runs at once only while its sequences average under {pool // 64:,} tokens" in md
    assert "vLLM preempts the rest" in md
    one = render_markdown(advisor.explain("llama-3.1-8b", "h100-80gb", None, 32768, runtime="vllm"),
                          {"runtime", "context"})
    assert "runs at once only while" not in one
