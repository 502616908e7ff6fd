"""--tensor-split (-ts): llama.cpp's layer split at the user's shares, card by card.

llama.cpp's rule (src/llama-model.cpp, load_tensors, ggml-org/llama.cpp at 0c1e570): the -ts
values (std::stof, float32) are summed into split points s_i = (w_0 + ... + w_i) / sum(w), and
layer slot il of the n_layer + 1 (the output layer the last) goes to the first device with
s_i > il / (n_layer + 1) (std::upper_bound), all in float arithmetic.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.plans.evaluate import keeps_choices
from advisor.plans.flags import check_command
from advisor.sizing.mixed import (GpuSet, layer_devices, mixed_decode_seconds, mixed_split,
                                  split_weights)
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload
from tests.cli_helpers import one_line_error

R1_70B = "deepseek-r1-distill-llama-70b"
SET = "rtx-3090,rtx-3060-12gb,rtx-3060-12gb"


def run(*args):
    return CliRunner().invoke(main, list(args))


def counts(where: list[int], n: int) -> list[int]:
    return [where.count(i) for i in range(n)]


# --- the cumulative assignment ----------------------------------------------------------------

def test_hand_computed_3_1_1_on_80_layers():
    """-ts 3,1,1 on 80 layers: split points 0.6, 0.8, 1; of the 81 slots, il/81 < 0.6 for
    il <= 48 (49 slots), < 0.8 for il <= 64 (16), the rest (16: 15 layers and the output)."""
    where = layer_devices(split_weights("3,1,1"), 80)
    assert counts(where, 3) == [49, 16, 16]
    assert where[48] == 0 and where[49] == 1 and where[64] == 1 and where[65] == 2
    assert where[80] == 2  # the output layer, slot n_layer, on the last card


def test_a_split_point_on_a_boundary_goes_to_the_next_card():
    """-ts 1,1,1 on 80 layers: 27/81 is exactly 1/3 (in float32 too), and upper_bound takes the
    first point strictly above it: slot 27 is device 1's, so 27, 27 and 26 + output."""
    where = layer_devices((1, 1, 1), 80)
    assert counts(where, 3) == [27, 27, 27]
    assert where[26] == 0 and where[27] == 1 and where[54] == 2


def test_float32_as_llama_cpp_computes_it():
    """-ts 0.3,0.6 on 32 layers (33 slots): in float32 0.3/(0.3+0.6) rounds to exactly
    float32(11/33), so slot 11 goes to device 1 (11 and 22 slots); float64 arithmetic would
    make the point 0.33333333333333337 and give device 0 twelve."""
    import numpy as np

    w = np.float32(0.3), np.float32(0.6)
    total = np.float32(w[0] + w[1])
    assert np.float32(w[0] / total) == np.float32(np.float32(11) / np.float32(33))
    assert counts(layer_devices(split_weights("0.3,0.6"), 32), 2) == [11, 22]


def test_zero_share_and_separators():
    """A 0 share gets no layer (the output layer goes to the last card with a share); '/' is
    llama.cpp's other separator."""
    where = layer_devices(split_weights("1,0,1"), 10)
    assert 1 not in where and where[-1] == 2
    assert split_weights("3/1/1") == split_weights("3,1,1")
    assert counts(layer_devices(split_weights("2,1,0"), 10), 3)[2] == 0
    assert layer_devices(split_weights("2,1,0"), 10)[-1] == 1


def test_a_zero_share_card_holds_only_the_backend_context(kb):
    m, p = kb.model(R1_70B), parse_precision("Q4_K_M")
    gset = GpuSet(tuple(kb.gpu(g) for g in SET.split(",")))
    split = mixed_split(m, p, Workload(context_tokens=2048, tensor_split="1,1,0"), gset)
    idle = split.cards[2]
    assert (idle.layers, idle.output, idle.weights_bytes, idle.kv_cache_bytes) == (0, False, 0, 0)
    assert 0 < idle.overhead_bytes < split.cards[0].overhead_bytes
    assert split.cards[1].output


# --- the 3090 + 2 x 3060 case -------------------------------------------------------------------

def test_even_split_overflows_a_3060_and_the_balanced_split_fits(advisor):
    """R1-Distill-Llama-70B at Q4_K_M, 2,048 tokens: -ts 1,1,1 puts 27 layers on each card and
    the last 3060 (26 layers and the output layer) is short; llama.cpp's split by free memory
    (41/20/19 + output) fits, and What to do changes the split, saying so with both -ts."""
    even = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None, tensor_split="1,1,1")
    cards = even.situation.placement.mixed.cards
    assert [c.layers for c in cards] == [27, 27, 26] and cards[2].output
    assert even.verdict == "does-not-fit"
    assert cards[0].headroom_bytes > 8e9  # the 3090 has room to spare
    assert cards[1].headroom_bytes < 0 and cards[2].headroom_bytes < -1e9
    balanced = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None)
    assert balanced.verdict == "fits"
    assert [c.layers for c in balanced.situation.placement.mixed.cards] == [41, 20, 19]
    plan = even.plan
    assert plan.path == "your-gpus" and plan.precision.name == "Q4_K_M"
    assert plan.tensor_split is None and "-ts 23.6,11.6,11.6" in plan.command
    assert any("-ts 23.6,11.6,11.6" in ch and "-ts 1,1,1 asked" in ch for ch in plan.changes)
    r = run("explain", R1_70B, SET, "-p", "Q4_K_M", "-c", "2048", "-ts", "1,1,1")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "by the `-ts 1,1,1` asked" in out and "would be `-ts 23.6,11.6,11.6`" in out
    todo = out[out.index("## What to do"):]
    assert "instead of the -ts 1,1,1 asked" in todo and "-sm layer -ts 23.6,11.6,11.6" in todo
    assert "**2.48 GB short**" in out


def test_the_card_that_overflows_is_named(advisor):
    """-ts 3,1,1 overloads the 3090 instead: 49 layers."""
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None, tensor_split="3,1,1")
    cards = adv.situation.placement.mixed.cards
    assert [c.layers for c in cards] == [49, 16, 15]
    assert cards[0].headroom_bytes < 0 < cards[1].headroom_bytes
    md = run("explain", R1_70B, SET, "-p", "Q4_K_M", "-c", "2048", "-ts", "3,1,1").output
    assert "on device 0 (NVIDIA GeForce RTX 3090)" in md and "its 49 layers" in md


def test_speed_follows_the_users_layer_counts(advisor, kb):
    """More layers on the faster 3090 (936 GB/s against 360) decode faster: the split's own
    layer counts time it, card after card."""
    tuned = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None, tensor_split="2.4,1,1")
    base = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None)
    assert [c.layers for c in tuned.situation.placement.mixed.cards] == [45, 18, 17]
    assert tuned.facts["decode_tokens_per_s"] > base.facts["decode_tokens_per_s"]
    m, p = kb.model(R1_70B), parse_precision("Q4_K_M")
    gset = GpuSet(tuple(kb.gpu(g) for g in SET.split(",")))
    secs = {ts: mixed_decode_seconds(mixed_split(m, p, Workload(context_tokens=2048,
                                                                tensor_split=ts), gset),
                                     m, p, 0, "fp16") for ts in ("1,1,1", "3,1,1", "8,1,1")}
    assert secs["8,1,1"] < secs["3,1,1"] < secs["1,1,1"]


# --- the command and the choice ---------------------------------------------------------------

@pytest.mark.parametrize("given, printed", [("2.4,1,1", "2.4,1,1"), ("2.40,1,1", "2.40,1,1"),
                                            ("2.4/1/1", "2.4,1,1"), (" 2.4, 1, 1 ", "2.4,1,1")])
def test_the_command_keeps_the_split_as_given(advisor, given, printed):
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None, tensor_split=given)
    asked = adv.plan
    assert asked.path == "as-asked" and asked.tensor_split == printed
    assert asked.command.endswith(f"-sm layer -ts {printed}") or f"-ts {printed} " in asked.command
    assert check_command(asked.command).ok, check_command(asked.command)
    data = json.loads(run("explain", R1_70B, SET, "-p", "Q4_K_M", "-c", "2048", "-ts", given,
                          "--format", "json").output)
    assert data["workload"]["tensor_split"] == printed
    assert data["plan"]["tensor_split"] == printed


def test_the_split_is_a_kept_choice(advisor):
    """A -ts that fits is run as asked, and plans on your cards are sized at it first: -ts
    2,1,1 gives the layers llama.cpp's split by free memory gives (41/20/19), so no other plan
    repeats the question with its split written another way."""
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None, tensor_split="2,1,1")
    assert adv.plan.path == "as-asked" and adv.plan.tensor_split == "2,1,1"
    others = [p for p, _ in adv.offered if p.path != "as-asked"]
    assert all(p.identity != adv.plan.identity for p in others)
    assert not any("instead of the -ts" in ch for p in others for ch in p.changes)
    # -p Q4_K_S is tight on -ts 3,1,1 (the 3090 short of its margin): the two choices cannot
    # both be kept, and the plan keeps the format, saying it changes the split
    uneven = advisor.explain(R1_70B, SET, "Q4_K_S", 2048, gpus=None, tensor_split="3,1,1").plan
    assert uneven.precision.name == "Q4_K_S" and uneven.tensor_split is None
    assert any("instead of the -ts 3,1,1 asked" in ch for ch in uneven.changes)
    from advisor.plans.evaluate import Ask

    ask = Ask(adv.situation.model, adv.situation.gpu, 3, parse_precision("Q4_K_M"), "llama.cpp",
              False, adv.situation.work, "quality", gpu_set=adv.situation.gpu_set,
              chosen=frozenset({"tensor_split"}))
    assert keeps_choices(adv.plan, ask)


def test_one_kind_of_card_is_sized_card_by_card(advisor):
    """2 x RTX 3090 with -ts 3,1: 61 layers on device 0, which overflows; the plan on the
    even split (-ts 1,1, what llama.cpp's free memory gives identical cards) fits."""
    adv = advisor.explain("llama-3.1-70b", "rtx-3090", "Q4_K_M", 4096, gpus=2, tensor_split="3,1")
    cards = adv.situation.placement.mixed.cards
    assert [c.layers for c in cards] == [61, 19] and cards[0].headroom_bytes < 0
    assert adv.verdict == "does-not-fit"
    assert "-ts 1,1" in adv.plan.command
    assert any("instead of the -ts 3,1 asked" in ch for ch in adv.plan.changes)


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["-ts", "1,1"], ["2 values for 3 GPUs"]),
    (["-ts", "1,1,1,1"], ["4 values for 3 GPUs"]),
    (["-ts", "1,-1,1"], ["negative"]),
    (["-ts", "0,0,0"], ["all zero"]),
    (["-ts", "1,nan,1"], ["not a finite number"]),
    (["-ts", "1,inf,1"], ["not a finite number"]),
    (["-ts", "a,1,1"], ["not a plain decimal number"]),
    (["-ts", "1e3,1,1"], ["not a plain decimal number"]),
    (["-ts", ",1,1"], ["empty item"]),
    (["-ts", "9999999,1,1"], ["above"]),
    (["-ts", "1,1,1", "--runtime", "vllm"], ["--tensor-parallel-size", "--runtime llama.cpp"]),
    (["-ts", "1,1,1", "-p", "awq"], ["vLLM", "--runtime llama.cpp"]),
])
def test_bad_splits_exit_2_in_one_line(args, words):
    one_line_error(run("explain", R1_70B, SET, "-p", "Q4_K_M", *args) if "-p" not in args
                   else run("explain", R1_70B, SET, *args), *words)


@pytest.mark.parametrize("args, words", [
    (["llama-3.1-8b", "rtx-3090", "-ts", "1"], ["one GPU"]),
    (["llama-3.1-70b", "rtx-3090", "-n", "2", "-p", "Q4_K_M", "-ts", "1,1", "--runtime", "ollama"],
     ["Ollama", "free memory"]),
    (["llama-3.1-70b", "rtx-3090", "-n", "2", "-ts", "1,1", "--runtime", "transformers"],
     ["device_map"]),
    (["llama-3.1-8b", "rtx-3090", "-n", "2", "-ts", "1,1", "--task", "finetune"], ["inference"]),
    (["llama3.1:70b", "rtx-3090", "-n", "2", "-ts", "1,1"], ["Ollama", "--runtime llama.cpp"]),
])
def test_other_runtimes_and_one_gpu_refuse(args, words):
    one_line_error(run("explain", *args), *words)


@pytest.mark.parametrize("cmd", [["fit", "rtx-3090"], ["gpus", "llama-3.1-8b"], ["generate"]])
def test_inverse_questions_do_not_take_it(cmd):
    one_line_error(run(*cmd, "-ts", "1,1"), "explain's")


def test_library_refuses_a_wrong_count(advisor):
    with pytest.raises(AdvisorError, match="2 values for 3 GPUs"):
        advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None, tensor_split="1,1")
