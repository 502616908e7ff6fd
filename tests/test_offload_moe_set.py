"""MoE expert offload over a set of equal cards (review 4 item 7): llama.cpp's layer split
(-sm layer -ts) with the routed experts of the first MoE layers in system RAM (--n-cpu-moe)."""
import re

import pytest

from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.mixed import layer_devices
from advisor.sizing.offload import (
    expert_offload_decode_seconds,
    plan_expert_offload,
)
from advisor.sizing.overhead import fit_margin_bytes
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import weight_summary
from advisor.sizing.workload import Workload


def _slot_bytes(model, prec, off, work):
    """Each layer slot's bytes on its card under the offload (the output layer last)."""
    a = model.architecture
    w = weight_summary(a, prec)
    moe = [i for i in range(a.layers) if w.experts_per_layer[i]]
    in_ram = set(moe[:off.cpu_moe_layers])
    kv = kv_cache_bytes(a, work.context_tokens, work.batch, work.kv_cache_dtype) // a.layers
    return [w.dense_per_layer[i] + (0 if i in in_ram else w.experts_per_layer[i]) + kv
            for i in range(a.layers)] + [w.output]


@pytest.mark.parametrize("model_id, quant, gpus", [
    ("glm-4.5-air", "Q4_K_M", 2), ("gpt-oss-120b", "MXFP4_MOE", 2), ("qwen3-235b-a22b", "IQ2_XS", 2),
    ("glm-4.5-air", "Q8_0", 3), ("qwen3-235b-a22b", "Q4_K_M", 4)])
def test_split_balances_the_cards_within_one_layer(kb, model_id, quant, gpus):
    """Every card keeps llama.cpp's margin; the -ts counts are whole layer slots that llama.cpp
    assigns exactly as sized; on two cards the totals differ by at most one slot's bytes."""
    model, gpu, prec = kb.model(model_id), kb.gpu("rtx-3090"), parse_precision(quant)
    work = Workload(context_tokens=8192)
    off = plan_expert_offload(model, gpu, prec, work, gpus)
    assert off is not None and len(off.cards) == gpus and off.cpu_moe_layers > 0
    a = model.architecture
    for k in off.cards:
        assert k.bytes <= gpu.usable_memory_bytes - fit_margin_bytes()
    assert off.gpu_bytes == max(k.bytes for k in off.cards)
    ts = [int(t) for t in off.ts_arg().split(",")]
    # llama.cpp's layers: the model's, and a GGUF's trailing NextN block (GLM-4.5-Air: 46 + 1)
    blocks = a.layers + off.trailing_slots
    assert off.trailing_slots == (1 if model_id == "glm-4.5-air" else 0)
    assert sum(ts) == blocks + 1 and all(t > 0 for t in ts)
    devices = layer_devices(tuple(float(t) for t in ts), blocks)
    for i, k in enumerate(off.cards):
        assert devices[k.first_layer:k.first_layer + k.layers] == [i] * k.layers
    assert devices[a.layers:] == [gpus - 1] * (off.trailing_slots + 1) and off.cards[-1].output
    slots = _slot_bytes(model, prec, off, work)
    if gpus == 2:
        assert abs(off.cards[0].bytes - off.cards[1].bytes) <= max(slots)


def test_one_fewer_layer_in_ram_does_not_fit(kb, monkeypatch):
    """The count is the smallest: with one MoE layer fewer in RAM no split of the cards keeps
    every card's margin (the search is asked directly)."""
    from advisor.sizing import offload as o

    model, gpu, prec = kb.model("glm-4.5-air"), kb.gpu("rtx-3090"), parse_precision("Q4_K_M")
    work = Workload(context_tokens=8192)
    off = plan_expert_offload(model, gpu, prec, work, 2)
    a = model.architecture
    w = weight_summary(a, prec)
    moe = [i for i in range(a.layers) if w.experts_per_layer[i]]
    on_gpu = [i not in moe[:off.cpu_moe_layers - 1] for i in range(a.layers)]
    kv = kv_cache_bytes(a, work.context_tokens, work.batch, work.kv_cache_dtype)
    assert o._expert_cards(w.dense_per_layer, w.experts_per_layer, on_gpu, w.output, kv,
                           o.overhead_bytes(a), 2, gpu.usable_memory_bytes - fit_margin_bytes()) is None


def test_glm_45_air_on_two_3090s_offloads_experts(advisor):
    """Review 4 item 7: GLM-4.5-Air on 2 x RTX 3090 is a Q4-class GGUF with the experts of the
    first layers in RAM, split with -sm layer -ts over both cards (was Q2_K on the cards)."""
    adv = advisor.explain("glm-4.5-air", "rtx-3090", gpus=2)
    plan = adv.plan
    assert plan.path == "your-hardware" and plan.precision.name.startswith("Q4_K")
    assert plan.moe_cpu_layers > 0 and len(plan.expert_cards) == 2
    for k in plan.expert_cards:
        assert k.bytes <= plan.gpu.usable_memory_bytes - fit_margin_bytes()
    m = re.search(r"--n-cpu-moe (\d+) -sm layer -ts (\d+),(\d+)", plan.command)
    assert m, plan.command
    # --n-cpu-moe counts blocks from 0, the leading dense block too
    dense = plan.model.architecture.dense_layers
    assert int(m.group(1)) == plan.moe_cpu_layers + dense
    # the GGUF's NextN block (llama.cpp's layer 46, loaded as nothing) is the last card's slot
    assert [int(m.group(2)), int(m.group(3))] == [plan.expert_cards[0].slots,
                                                  plan.expert_cards[1].slots + 1]
    assert 10 <= plan.decode_tokens_per_s <= 60


def test_one_card_command_counts_leading_dense_blocks(kb):
    """--n-cpu-moe N keeps the experts of blocks 0..N-1: with a leading dense block the flag is
    one more than the MoE layers sized in RAM (one card as on many)."""
    model, gpu = kb.model("glm-4.5-air"), kb.gpu("rtx-4090")
    off = plan_expert_offload(model, gpu, parse_precision("Q4_K_M"), Workload(context_tokens=8192))
    assert off is not None and off.ts_arg() is None and len(off.cards) == 1
    assert off.n_cpu_moe == off.cpu_moe_layers + model.architecture.dense_layers


@pytest.mark.parametrize("model_id", ["qwen3-30b-a3b", "llama-3.1-70b"])
def test_a_model_that_fits_and_a_dense_model_are_unchanged(advisor, kb, model_id):
    """A MoE that fits on the two cards and a dense model get no expert offload."""
    gpu = kb.gpu("rtx-3090")
    model = kb.model(model_id)
    prec = parse_precision("Q4_K_M")
    assert plan_expert_offload(model, gpu, prec, Workload(context_tokens=8192), 2) is None
    plan = advisor.explain(model_id, "rtx-3090", gpus=2).plan
    assert plan.moe_cpu_layers == 0 and "--n-cpu-moe" not in (plan.command or "")
    assert not plan.expert_cards


def test_decode_over_cards_adds_only_the_hops(kb):
    """The GPU part over n cards is the one-card time plus a hop a boundary: slower than one
    card by a small amount, never faster."""
    model, gpu, prec = kb.model("glm-4.5-air"), kb.gpu("rtx-3090"), parse_precision("Q4_K_M")
    one = expert_offload_decode_seconds(model, gpu, prec, 10, 64.0)
    two = expert_offload_decode_seconds(model, gpu, prec, 10, 64.0, 2)
    assert one < two < one * 1.05
