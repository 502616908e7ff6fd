"""Properties of the planner's plans over the KB matrix (issue 17):

- every plan re-sized by the sizing core with its own levers fits (with the margin), and an
  offload plan's RAM fits the RAM given;
- an owned plan never uses more cards (or RAM) than given;
- rent: one card, or whole nodes of 8 cluster-class cards; never more than one consumer card,
  never across nodes for cards that do not cluster;
- a plan's command is its runtime's (llama-server or vllm serve, with its split and counts);
- a path's best plan is never dominated on its path: no other plan of the path has no more
  quality loss, no less speed, no more cost and no shorter context (nor a smaller model or a
  lower published score), and is better in one;
- the another-model path runs the model with the higher published score (the objective's
  model_score term), ties within tie_points going to the larger model.
Questions sample the KB (every model, GPUs rotating) so the suite stays fast.
"""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from advisor.plans.runtimes import RUNTIME_NAMES

from advisor.kb import load_kb
from advisor.plans.candidates import better_models, rental_counts, scales_across_nodes
from advisor.plans.evaluate import Ask
from advisor.sizing import constants as c
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.offload import llamacpp_cpu_moe_layers, plan_expert_offload, plan_offload
from advisor.sizing.plan import place
from advisor.sizing.tensors import parameter_count
from advisor.sizing.workload import Workload, can_reason, is_reasoning

KB = load_kb()
MODELS = [m.id for m in KB.all_models()]
GPUS = [g.id for g in KB.all_gpus()]
QUESTIONS = [(m, GPUS[(i * 7 + k * 31) % len(GPUS)], n)
             for i, m in enumerate(MODELS) for k, n in enumerate((1, 2))]


@pytest.fixture(scope="module")
def planner():
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    return Planner(KB, load_objective_file())


def resized_fits(plan, work: Workload) -> bool:
    w = replace(work, runtime=plan.runtime, kv_cache_dtype=plan.kv_cache_dtype,
                context_tokens=plan.context_tokens, flash_attn=plan.flash_attn,
                gpu_memory_utilization=plan.gpu_memory_utilization or work.gpu_memory_utilization)
    if plan.cpu_offload_layers:
        off = plan_offload(plan.model, plan.gpu, plan.precision, w)
        return off is not None and off.cpu_layers == plan.cpu_offload_layers and off.ram_fits
    if plan.moe_cpu_layers:
        off = plan_expert_offload(plan.model, plan.gpu, plan.precision, w, plan.gpu_count)
        return (off is not None and off.cpu_moe_layers == plan.moe_cpu_layers and off.ram_fits
                and all(k.bytes <= plan.gpu.usable_memory_bytes - fit_margin_bytes() for k in off.cards))
    pl = place(plan.model, plan.gpu, plan.precision, w, plan.gpu_count)
    # the plan's speed is its runtime's placement's (the split vLLM or llama.cpp makes)
    assert plan.decode_tokens_per_s == pytest.approx(pl.decode_tokens_per_s(), rel=1e-9), plan.to_json()
    assert plan.split == pl.split.kind and plan.tensor_parallel == pl.split.tensor_parallel
    return pl.fits


def check_command(plan) -> None:
    cmd = plan.command
    where = plan.to_json()
    if plan.runtime == "llama.cpp":
        assert cmd.startswith("llama-server "), where
        assert f"-c {plan.context_tokens * plan.batch}" in cmd, where
        if plan.cpu_offload_layers:
            # the output layer stays in RAM; a GGUF's trailing blocks (GLM-4.5's NextN) are
            # slots -ngl counts
            extra = c.GGUF_TRAILING_BLOCKS.get(plan.model.hf_architecture or "", 0)
            assert f"-ngl {plan.gpu_layers + extra} " in cmd, where
        if plan.moe_cpu_layers:
            # llama.cpp's --n-cpu-moe counts blocks, leading dense ones too
            flag = re.search(r"--n-cpu-moe (\d+)", cmd)
            assert flag and llamacpp_cpu_moe_layers(plan.model, int(flag.group(1))) \
                == plan.moe_cpu_layers, where
        if plan.gpu_count > 1:
            if plan.expert_cards:
                counts = [k.slots for k in plan.expert_cards]
                counts[-1] += c.GGUF_TRAILING_BLOCKS.get(plan.model.hf_architecture or "", 0)
                ts = ",".join(map(str, counts))
            else:
                ts = ",".join(["1"] * plan.gpu_count)
            assert "-ts " + ts in cmd, where
        if plan.kv_cache_dtype in ("q8_0", "q4_0"):
            assert f"-ctk {plan.kv_cache_dtype} -ctv {plan.kv_cache_dtype}" in cmd and "-fa on" in cmd
    elif plan.runtime == "vllm":
        assert cmd.startswith("vllm serve "), where
        assert f"--max-model-len {plan.context_tokens}" in cmd, where
        tp = int(m.group(1)) if (m := re.search(r"--tensor-parallel-size (\d+)", cmd)) else 1
        pp = int(m.group(1)) if (m := re.search(r"--pipeline-parallel-size (\d+)", cmd)) else 1
        assert tp * pp == plan.gpu_count and tp == plan.tensor_parallel, where
        a = plan.model.architecture
        assert a.attention_heads % tp == 0 and (a.kv_heads % tp == 0 or tp % a.kv_heads == 0), where
        assert ("--kv-cache-dtype fp8" in cmd) == (plan.kv_cache_dtype == "fp8"), where
        assert "--dtype bfloat16" not in cmd, where
        # vLLM's --dtype auto falls back on a card without bfloat16 itself (issue 12)
        assert plan.model.native_precision != "bf16" or "--dtype float16" not in cmd, where
    elif plan.runtime == "mlx":
        assert cmd.startswith(("mlx_lm.server --model ", "mlx_lm.generate --model ")), where
        assert ("--kv-bits" in cmd) == plan.kv_cache_dtype.startswith("mlx-"), where
        assert plan.gpu.vendor == "apple" and plan.gpu_count == 1, where
    else:
        assert cmd.startswith("python -c "), where


def dominated(p, others) -> bool:
    def cost(x):
        return x.usd_per_million_tokens if x.usd_per_million_tokens is not None else float("inf")

    def score(x):
        return x.model_score if x.model_score is not None else float("-inf")
    for o in others:
        if o is p:
            continue
        no_worse = (o.quality_loss_pct <= p.quality_loss_pct and o.decode_tokens_per_s >= p.decode_tokens_per_s
                    and cost(o) <= cost(p) and o.context_tokens >= p.context_tokens
                    and score(o) >= score(p) and o.parameters >= p.parameters and o.usable >= p.usable)
        better = (o.quality_loss_pct < p.quality_loss_pct or o.decode_tokens_per_s > p.decode_tokens_per_s
                  or cost(o) < cost(p) or o.context_tokens > p.context_tokens)
        # more cards are a cost too: 4 cards at 133 tokens/s do not dominate 3 at 126 (within
        # band_tolerance, ranked as one speed: the fewer cards win)
        if no_worse and better and o.levers <= p.levers and o.nodes <= p.nodes \
                and o.gpu_count <= p.gpu_count:
            return True
    return False


@pytest.mark.parametrize("model,gpu,n", QUESTIONS, ids=[f"{m}-{g}-x{n}" for m, g, n in QUESTIONS])
def test_plan_properties(planner, model, gpu, n):
    m, g = KB.model(model), KB.gpu(gpu)
    work = Workload(min(8192, m.architecture.max_context))
    ask = Ask.of(m, g, n, work)
    ps = planner.plans(ask, keep_all=True)
    for path, plans in ps.every.items():
        for p in plans:
            assert p.path == path
            assert resized_fits(p, ask.work), p.to_json()
            if p.command is not None:
                check_command(p)
            if p.owned:
                assert p.gpu.id == g.id and p.gpu_count <= n, p.to_json()
                assert p.ram_bytes <= work.ram_bytes, p.to_json()
            if path == "rent":
                assert p.gpu_count in rental_counts(p.gpu) and not p.gpu.unified_memory
                if not scales_across_nodes(p.gpu):    # one card or machine, or the one node on offer
                    assert p.gpu_count in p.gpu.rental_units, p.to_json()
                if p.gpu.rental == "node":
                    assert p.gpu_count % c.GPUS_PER_NODE == 0, p.to_json()
                assert p.usd_per_hour is not None and p.usd_per_million_tokens is not None
            if path == "more-cards":
                assert p.gpu.id == g.id and n < p.gpu_count <= c.GPUS_PER_NODE and p.nodes == 1
            if path == "another-model":
                assert p.model.id != m.id and p.parameters < parameter_count(m.architecture)
                cousin = (m.quality_score("mmlu-pro") is None
                          and any(p.model.id in KB.model(s).siblings for s in m.siblings))
                assert p.owned and (p.model.id in m.siblings or p.model.distilled_from == m.id
                                    or p.model in better_models(m, KB) or cousin)
                assert can_reason(p.model) or not is_reasoning(m)   # thinking for thinking
        best = ps.best.get(path)
        if best is not None and path != "as-asked":
            assert not dominated(best, plans), (path, best.to_json())


def test_another_model_is_smaller_or_distilled(planner):
    for model in ("llama-3.1-405b", "deepseek-r1", "qwen2.5-72b"):
        m = KB.model(model)
        ps = planner.plans(Ask.of(m, KB.gpu("rtx-4090"), 1, Workload()))
        other = ps.best["another-model"]
        assert other.parameters < ps.best["rent"].parameters
        assert (other.model.id in m.siblings or other.model.distilled_from == m.id
                or other.model in better_models(m, KB))


def test_the_asked_runtime_is_kept_where_it_runs(planner):
    m = KB.model("llama-3.1-8b")
    ps = planner.plans(Ask.of(m, KB.gpu("t4"), 1, Workload(), runtime="vllm"), keep_all=True)
    assert {p.runtime for ps_ in ps.every.values() for p in ps_} == {"vllm"}
    mac = planner.plans(Ask.of(m, KB.gpu("m4-max-64gb"), 1, Workload(), runtime="vllm"))
    # vLLM does not run on a Mac: the plan runs there with llama.cpp or MLX, and says so
    best = mac.best["your-gpus"]
    assert mac.cannot_run and best.runtime in ("llama.cpp", "mlx")
    assert any(ch.startswith(f"runtime {RUNTIME_NAMES[best.runtime]} instead of") for ch in best.changes)


def test_prefer_changes_the_objective(advisor):
    q = advisor.explain("llama-3.1-70b", "rtx-4090", prefer="quality").plan
    s = advisor.explain("llama-3.1-70b", "rtx-4090", prefer="speed").plan
    assert s.decode_tokens_per_s > q.decode_tokens_per_s
    c_ = advisor.explain("llama-3.1-405b", "a100-40gb", prefer="cost").plan
    assert c_.usd_per_million_tokens is not None or c_.owned or c_.path == "more-cards"


def test_an_edited_objective_changes_the_choice(tmp_path, kb):
    from advisor.advise import Advisor, load_objective_file, load_rulebook
    from advisor.paths import data_dir

    text = (data_dir("rules") / "objective.yaml").read_text()
    (tmp_path / "objective.yaml").write_text(
        text.replace("quality: {quality_class: noticeable, decode_tokens_per_s: 1.5,",
                     "quality: {quality_class: noticeable, decode_tokens_per_s: 5.0,"))
    assert (tmp_path / "objective.yaml").read_text() != text
    a = Advisor(kb, load_rulebook([tmp_path]), load_objective_file([tmp_path]))
    plan = a.explain("llama-3.1-70b", "rtx-4090").plan
    assert plan.decode_tokens_per_s >= 5.0 and plan.usable


def test_a_broken_objective_names_file_and_line(tmp_path):
    from advisor.errors import AdvisorError
    from advisor.plans.objective import load_objective

    (tmp_path / "objective.yaml").write_text(
        "prefer: quality\nquality_classes: {a: 1}\ngood_quality: b\nspeed_bands: [1]\n"
        "usable: {}\ncontext_floor_tokens: 0\norder: {quality: [-speedy]}\n")
    with pytest.raises(AdvisorError) as e:
        load_objective(tmp_path / "objective.yaml")
    msg = str(e.value)
    for text in ("objective.yaml:3: objective: good_quality 'b'", "objective.yaml:5: objective: usable.quality",
                 "objective.yaml:6: objective: context_floor_tokens", "unknown attribute '-speedy'"):
        assert text in msg, msg


def test_fast_bands_must_grow_above_the_speed_bands(tmp_path):
    from advisor.errors import AdvisorError
    from advisor.paths import data_dir
    from advisor.plans.objective import load_objective

    text = (data_dir("rules") / "objective.yaml").read_text()
    assert "fast_bands: [21.0, 30.0, 42.0, 60.0, 85.0, 120.0, 170.0]" in text
    for bad in ("[10.0]", "[60.0, 30.0]", "fast", "[.nan]"):
        (tmp_path / "objective.yaml").write_text(
            text.replace("fast_bands: [21.0, 30.0, 42.0, 60.0, 85.0, 120.0, 170.0]", f"fast_bands: {bad}"))
        with pytest.raises(AdvisorError) as e:
            load_objective(tmp_path / "objective.yaml")
        assert "fast_bands is a growing list" in str(e.value), bad


def test_between_plans_of_one_class_twice_as_fast_beats_one_lever_fewer(advisor, kb, tmp_path):
    """--prefer quality: past reading speed a plan about twice as fast (a fast band) wins over
    one that moves one lever fewer, within one quality class; it never costs a class. Without
    fast_bands in the objective the lever count decides: BF16 as published, slower."""
    from advisor.advise import Advisor, load_objective_file, load_rulebook
    from advisor.paths import data_dir

    own = advisor.explain("llama-3.1-8b", "rtx-4090").plan
    assert own.path == "your-hardware" and own.precision.name != "bf16"
    assert own.quality_class_name == "near-lossless" and own.decode_tokens_per_s >= 60
    text = (data_dir("rules") / "objective.yaml").read_text()
    (tmp_path / "objective.yaml").write_text(text.replace("fast_bands: [21.0, 30.0, 42.0, 60.0, 85.0, 120.0, 170.0]\n", ""))
    a = Advisor(kb, load_rulebook([tmp_path]), load_objective_file([tmp_path]))
    old = a.explain("llama-3.1-8b", "rtx-4090").plan
    assert old.path == "your-hardware" and old.precision.name == "bf16"
    assert old.quality_class_name == "near-lossless" and old.decode_tokens_per_s < 60


@pytest.mark.parametrize("model,gpu,args", [
    ("llama-3.1-8b", "rtx-3070", {}),                       # Q8_0 with 7 layers in RAM at 15
    ("llama-3.1-8b", "rtx-4090", {"context_tokens": 131072, "kv_cache": "fp16"}),  # Q8_0 + 1 layer: 37
    ("mixtral-8x7b", "rtx-5090", {}),                       # Q6_K, 6 layers' experts in RAM: 21
    ("deepseek-coder-v2-lite", "rtx-4070", {}),             # Q8_0, 13 layers' experts: 39
])
def test_layers_stay_on_the_card_when_a_good_format_there_is_twice_as_fast(advisor, kb, tmp_path,
                                                                         model, gpu, args):
    """objective.yaml spill_slowdown: a plan with part of the model in system RAM that decodes
    below half the speed of the path's fastest good-quality plan on the GPU alone does not win
    for a better quality class; without the term it did (the speeds in the comments)."""
    from advisor.advise import Advisor, load_objective_file, load_rulebook
    from advisor.paths import data_dir

    obj = advisor.objective
    own = advisor.explain(model, gpu, **args).plan
    assert own.path == "your-hardware" and not own.offload and own.good_quality, (own.precision.name, own.decode_tokens_per_s)
    text = (data_dir("rules") / "objective.yaml").read_text()
    assert "spilled_slower, " in text
    (tmp_path / "objective.yaml").write_text(text.replace("spilled_slower, ", ""))
    a = Advisor(kb, load_rulebook([tmp_path]), load_objective_file([tmp_path]))
    old = a.explain(model, gpu, **args).plan
    assert old.offload and obj.quality_class(old.quality_loss_pct) < own.quality_class
    assert old.decode_tokens_per_s * obj.spill_slowdown < own.decode_tokens_per_s


def test_vllm_share_is_a_lever_unless_asked(advisor):
    """vLLM plans may raise --gpu-memory-utilization to what the card leaves after the CUDA
    context and graphs (0.95 on a 24 GB card); a share given by the user is kept by every plan."""
    from advisor.plans.commands import flag_number
    from advisor.sizing.vllm_memory import vllm_max_utilization

    adv = advisor.explain("qwen2.5-72b", "rtx-3090", gpus=2, runtime="vllm")
    raised = [p for p in adv.path_plans if p.gpu_memory_utilization not in (None, 0.9)]
    assert raised and all(p.gpu_memory_utilization == vllm_max_utilization(p.gpu) for p in raised)
    for p in raised:
        assert f"--gpu-memory-utilization {flag_number(p.gpu_memory_utilization)}" in p.command
        assert any("share of each GPU" in c for c in p.changes)
    kept = advisor.explain("qwen2.5-72b", "rtx-3090", gpus=2, runtime="vllm",
                           gpu_memory_utilization=0.9)
    assert all(p.gpu_memory_utilization in (None, 0.9) for p in kept.path_plans)
    asked = advisor.explain("qwen2.5-72b", "rtx-3090", gpus=2, runtime="vllm",
                            gpu_memory_utilization=0.8)
    for p in asked.path_plans:
        if p.runtime == "vllm":
            # the share asked, as given (commands.flag_number: never rounded)
            assert p.gpu_memory_utilization == 0.8 and p.command.endswith("--gpu-memory-utilization 0.8")


def test_max_vllm_share_by_card(kb):
    from advisor.sizing.vllm_memory import vllm_max_utilization

    assert vllm_max_utilization(kb.gpu("rtx-3090")) == 0.95
    assert vllm_max_utilization(kb.gpu("h100-80gb")) == 0.98
    assert vllm_max_utilization(kb.gpu("t4")) >= 0.9
