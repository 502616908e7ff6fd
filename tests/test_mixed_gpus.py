"""Mixed GPU sets: the GPU argument as a list (rtx-3090,2x rtx-3060-12gb), llama.cpp's layer
split by free memory over unequal cards (advisor.sizing.mixed), vLLM on the smallest card."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.hardware.gpuset import parse_gpu_arg, resolve_gpu_set
from advisor.limits import MAX_GPUS
from advisor.sizing import constants as c
from advisor.sizing.mixed import GpuSet, layer_devices, mixed_decode_seconds, mixed_split
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload
from tests.cli_helpers import one_line_error

R1_70B = "deepseek-r1-distill-llama-70b"
SET = "rtx-3090,rtx-3060-12gb,rtx-3060-12gb"


def run(*args):
    return CliRunner().invoke(main, list(args))


# --- the GPU argument ---------------------------------------------------------------------

@pytest.mark.parametrize("text, items", [
    ("rtx-3090", [("rtx-3090", 1)]),
    ("2x rtx-3090", [("rtx-3090", 2)]),
    ("2xrtx-3090", [("rtx-3090", 2)]),
    ("2 x rtx-3090", [("rtx-3090", 2)]),
    ("2×rtx-3090", [("rtx-3090", 2)]),
    ("rtx-3090,2x rtx-3060-12gb", [("rtx-3090", 1), ("rtx-3060-12gb", 2)]),
    (" rtx-3090 , rtx-3060-12gb ,rtx-3060-12gb", [("rtx-3090", 1), ("rtx-3060-12gb", 1),
                                                  ("rtx-3060-12gb", 1)]),
])
def test_parse_forms(text, items):
    assert parse_gpu_arg(text) == items


def test_no_gpu_id_reads_as_a_count(kb):
    """The grammar takes "N x" at the start of an item as a count: no KB GPU may be named so."""
    import re

    counted = re.compile(r"^[0-9]+\s*[x×]", re.IGNORECASE)
    assert not [g.id for g in kb.all_gpus() if counted.match(g.id)]


def test_sets_resolve_in_device_order(kb):
    a = resolve_gpu_set(kb, "rtx-3090,2x rtx-3060-12gb", None)
    b = resolve_gpu_set(kb, SET, None)
    assert a == b and a.mixed and a.count == 3
    assert [g.id for g in a.devices] == ["rtx-3090", "rtx-3060-12gb", "rtx-3060-12gb"]
    assert a.spec() == "rtx-3090,2x rtx-3060-12gb"
    assert [(g.id, n) for g, n in a.kinds] == [("rtx-3090", 1), ("rtx-3060-12gb", 2)]
    assert resolve_gpu_set(kb, "2x rtx-3060-12gb,rtx-3090", 3).devices[0].id == "rtx-3060-12gb"
    one = resolve_gpu_set(kb, "rtx-3090,rtx-3090", None)
    assert not one.mixed and one.count == 2
    assert resolve_gpu_set(kb, "rtx-3090", None).count == 1
    assert resolve_gpu_set(kb, "rtx-3090", 4).count == 4


@pytest.mark.parametrize("args, words", [
    ([R1_70B, "rtx-3090,rtx-3060-12g"], ["unknown gpu 'rtx-3060-12g'", "closest known", "rtx-3060-12gb"]),
    ([R1_70B, "rtx-3090,,rtx-3060-12gb"], ["empty item"]),
    ([R1_70B, "rtx-3090,"], ["empty item"]),
    ([R1_70B, "0x rtx-3090"], ["count must be from 1"]),
    ([R1_70B, f"{MAX_GPUS + 1}x rtx-3090"], ["count must be from 1"]),
    ([R1_70B, f"{MAX_GPUS}x rtx-3090,rtx-3060-12gb"], [f"at most {MAX_GPUS}"]),
    ([R1_70B, SET, "--gpus", "2"], ["--gpus 2 disagrees", "3 cards"]),
    ([R1_70B, "rtx-3090,mi300x"], ["mixes vendors", "amd", "nvidia"]),
    ([R1_70B, "rtx-3090,m2-ultra-192gb"], ["mixes vendors"]),
    ([R1_70B, SET, "--runtime", "transformers"], ["unequal cards", "transformers"]),
    ([R1_70B, SET, "--data-parallel-size", "3"], ["one kind", "2x rtx-3060-12gb"]),
    # a GGUF type with vLLM's own option: vLLM cannot run the type at all, which is said first
    ([R1_70B, SET, "-p", "Q4_K_M", "--data-parallel-size", "3"], ["vLLM cannot run", "GGUF"]),
    ([R1_70B, SET, "-p", "Q4_K_M", "--n-gpu-layers", "40"], ["partial offload"]),
    ([R1_70B, SET, "--task", "finetune"], ["fine-tuning", "one kind"]),
])
def test_bad_sets_are_one_line(args, words):
    one_line_error(run("explain", *args), *words)


def test_gpus_that_agree_are_taken():
    r = run("explain", R1_70B, SET, "-p", "Q4_K_M", "--gpus", "3")
    assert r.exit_code == 0, r.output


def test_one_kind_written_as_a_set_is_the_same_question():
    """`2x rtx-3090` and `rtx-3090,rtx-3090` are `rtx-3090 --gpus 2`, byte for byte."""
    base = run("explain", "llama-3.1-8b", "rtx-3090", "--gpus", "2")
    assert base.exit_code == 0, base.output
    for form in ("2x rtx-3090", "2xrtx-3090", "rtx-3090,rtx-3090"):
        r = run("explain", "llama-3.1-8b", form)
        assert r.output == base.output, form


# --- llama.cpp's split ---------------------------------------------------------------------

def test_layer_devices_follow_llama_cpp():
    """upper_bound over the cumulative fractions at il / (layers + 1); output last."""
    assert layer_devices((1, 1), 3) == [0, 0, 1, 1]
    assert layer_devices((2, 1, 1), 80)[-1] == 2
    where = layer_devices((23.6, 11.6, 11.6), 80)
    assert [where.count(i) for i in range(3)] == [41, 20, 20]  # the output layer is slot 80
    # a card at 0 gets no layer, as in llama.cpp (-ts 1,0 keeps every layer on device 0)
    assert layer_devices((1, 0), 4) == [0] * 5
    for bad in ((1, -1), (0, 0), (1, float("nan"))):
        with pytest.raises(ValueError):
            layer_devices(bad, 4)


def _split(kb, text, ctx=8192, model=R1_70B, prec="Q4_K_M"):
    gset = resolve_gpu_set(kb, text, None)
    work = Workload(context_tokens=ctx)
    return gset, mixed_split(kb.model(model), parse_precision(prec), work, gset)


def test_per_card_memory_adds_up(kb):
    gset, s = _split(kb, SET)
    m = kb.model(R1_70B)
    a = m.architecture
    assert sum(x.layers for x in s.cards) == a.layers
    assert [x.output for x in s.cards] == [False, False, True]
    assert s.cards[0].layers > s.cards[1].layers  # the 24 GB card takes about twice the layers
    pl = place(m, gset.devices[0], parse_precision("Q4_K_M"), Workload(context_tokens=8192),
               3, gpu_set=gset)
    one_kind = place(m, gset.devices[0], parse_precision("Q4_K_M"), Workload(context_tokens=8192), 3)
    # the per-card weights and KV sum to the whole model's on the GPUs (rounding of layer shares)
    assert abs(pl.weights_bytes - one_kind.weights_bytes) < 1 << 20
    assert abs(pl.kv_cache_bytes - one_kind.kv_cache_bytes) < 1 << 20
    assert pl.headroom_bytes == min(x.headroom_bytes for x in s.cards)
    assert pl.margin_bytes == c.FIT_MARGIN_BYTES_PER_GPU


def test_verdict_needs_every_card(kb, advisor):
    """The 3090 + 2 x 3060 set holds 70B Q4_K_M at 8K only tightly (the last 3060 carries the
    output layer); at 2K every card keeps its margin; at 32K the last card is short though the
    set's memory in all would hold it."""
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 8192, gpus=None)
    assert adv.verdict == "tight"
    assert adv.situation.facts["gpu_set"] == "rtx-3090,2x rtx-3060-12gb"
    small = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None)
    assert small.verdict == "fits"
    long = advisor.explain(R1_70B, SET, "Q4_K_M", 32768, gpus=None)
    pl = long.situation.placement
    assert long.verdict == "does-not-fit"
    assert any(x.headroom_bytes < 0 for x in pl.mixed.cards)
    assert small.facts["max_context_tokens"] >= 2048
    assert adv.facts["max_context_tokens"] < 8192 <= small.facts["max_context_tokens_q4_0"]


def test_mixed_max_context_is_the_edge(kb, advisor):
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None)
    most = adv.facts["max_context_tokens"]
    gset = resolve_gpu_set(kb, SET, None)
    m, p = kb.model(R1_70B), parse_precision("Q4_K_M")
    at = mixed_split(m, p, Workload(context_tokens=most), gset)
    beyond = mixed_split(m, p, Workload(context_tokens=most + 1), gset)
    assert at.fits and not beyond.fits


# --- speed ----------------------------------------------------------------------------------

def test_published_3090_and_two_3060s(advisor):
    """A 3090 plus two 3060 12GB, DeepSeek-R1-Distill-Llama-70B at Q4 under llama.cpp: 10.3
    tok/s with the default split, 12.1 tuned (-ts and -sm row). Source: "Building LocalLlama
    Machine - Episode 3: Performance Optimizations", r/LocalLLaMA, May 2025, as mirrored at
    https://redlib.private.coffee/r/LocalLLaMA/new?after=t3_1kh4lbl (the listing page that holds
    the post's text; the reddit.com URL of the post itself was not found). The issue's target:
    within 35% of 11.2 tok/s."""
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 2048, gpus=None)
    tps = adv.facts["decode_tokens_per_s"]
    assert abs(tps - 11.2) / 11.2 <= 0.35, tps
    # slower than three 3090s and faster than three 3060s: the cards are visited in turn
    three_3090 = advisor.explain(R1_70B, "rtx-3090", "Q4_K_M", 2048, gpus=3)
    assert tps < three_3090.facts["decode_tokens_per_s"]
    assert tps <= adv.facts["decode_roofline_tokens_per_s"]


def test_one_kind_sum_is_the_layer_split(kb):
    """Summing the one-card model card by card over N identical cards gives the one-kind layer
    split's time: one speed model, not two."""
    m, p = kb.model("llama-3.1-8b"), parse_precision("Q4_K_M")
    g = kb.gpu("rtx-3090")
    gset = GpuSet((g, g, g))
    s = mixed_split(m, p, Workload(context_tokens=4096), gset)
    pl = place(m, g, p, Workload(context_tokens=4096), 3)
    assert pl.split.kind == "layer"
    for ctx in (0, 4096):
        mine = mixed_decode_seconds(s, m, p, ctx, "fp16")
        theirs = pl.decode_seconds_per_token(ctx)
        assert mine == pytest.approx(theirs, rel=0.01), (ctx, mine, theirs)


# --- the advisory ---------------------------------------------------------------------------

def test_markdown_names_the_set_and_the_split():
    r = run("explain", R1_70B, SET, "-p", "Q4_K_M", "-c", "2048")
    assert r.exit_code == 0, r.output
    out = r.output
    assert out.startswith("# DeepSeek R1 Distill Llama 70B on NVIDIA GeForce RTX 3090 + 2 × "
                          "NVIDIA GeForce RTX 3060 12GB")
    assert "-ts 23.6,11.6,11.6" in out
    assert "| 0 | NVIDIA GeForce RTX 3090 | 41 |" in out
    assert "| 2 | NVIDIA GeForce RTX 3060 12GB | 19 + output |" in out
    assert "On a set of unequal cards the plans are" in out


def test_deterministic():
    a = run("explain", R1_70B, SET, "-p", "Q4_K_M", "--format", "json")
    b = run("explain", R1_70B, "rtx-3090,2x rtx-3060-12gb", "-p", "Q4_K_M", "--format", "json")
    assert a.exit_code == 0, a.output
    assert a.output == b.output
    json.loads(a.output)


def test_resolve_errors_directly(kb):
    with pytest.raises(AdvisorError):
        resolve_gpu_set(kb, "", None)


# --- vLLM, plans, JSON ----------------------------------------------------------------------

def test_vllm_sizes_the_smallest_card(advisor):
    """vLLM splits every layer evenly: a 3090 + two 3060s is sized as 3 x 3060 12GB, and the
    advisory says so."""
    adv = advisor.explain(R1_70B, SET, "awq", 8192, gpus=None, runtime="vllm")
    s = adv.situation
    assert s.gpu.id == "rtx-3060-12gb" and s.gpu_count == 3
    assert s.placement.mixed is None
    same = advisor.explain(R1_70B, "rtx-3060-12gb", "awq", 8192, gpus=3, runtime="vllm")
    assert s.placement.total_bytes == same.situation.placement.total_bytes
    assert adv.verdict == same.verdict
    assert all(p.path in ("as-asked", "rent") for p in adv.path_plans)
    r = run("explain", R1_70B, SET, "-p", "awq", "--runtime", "vllm")
    assert r.exit_code == 0, r.output
    assert "sized as 3 × NVIDIA GeForce RTX 3060 12GB, the smallest card of the set" in r.output


def test_plans_on_the_set_use_its_split(advisor):
    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 8192, gpus=None)
    paths = {p.path for p in adv.path_plans}
    assert paths <= {"as-asked", "your-gpus", "rent"}, paths
    mine = [p for p in adv.path_plans if p.path in ("as-asked", "your-gpus")]
    assert mine, [p.path for p in adv.path_plans]
    for p in mine:
        assert p.gpu_set is not None and p.gpu_set.spec() == "rtx-3090,2x rtx-3060-12gb"
        assert "-ts 23.6,11.6,11.6" in p.command
        assert p.available_bytes == adv.situation.placement.available_bytes
    for p in adv.path_plans:
        if p.path == "rent":
            assert p.gpu_set is None and "23.6" not in (p.command or "")
    # the tight Q4_K_M is not What to do; a format that fits on every card is
    assert adv.plan is not None and adv.plan.path in ("your-gpus", "rent")
    if adv.plan.path == "your-gpus":
        assert adv.plan.decode_tokens_per_s > 0 and adv.plan.per_gpu_bytes < 24 << 30


def test_json_lists_the_set_and_the_cards():
    r = run("explain", R1_70B, SET, "-p", "Q4_K_M", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["gpu_set"] == [
        {"id": "rtx-3090", "name": "NVIDIA GeForce RTX 3090", "count": 1, "memory_bytes": d["gpu_set"][0]["memory_bytes"]},
        {"id": "rtx-3060-12gb", "name": "NVIDIA GeForce RTX 3060 12GB", "count": 2,
         "memory_bytes": d["gpu_set"][1]["memory_bytes"]}]
    assert d["gpu"]["id"] == "rtx-3090" and d["gpu"]["count"] == 3
    cards = d["placement"]["cards"]
    assert [c["id"] for c in cards] == ["rtx-3090", "rtx-3060-12gb", "rtx-3060-12gb"]
    assert sum(c["layers"] for c in cards) == 80 and cards[-1]["output_layer"]
    assert d["placement"]["tensor_split"] == [23.6, 11.6, 11.6]
    assert d["memory"]["headroom_bytes"] == min(c["headroom_bytes"] for c in cards)
    one = json.loads(run("explain", R1_70B, "rtx-3090", "-p", "Q4_K_M", "--gpus", "3",
                         "--format", "json").output)
    assert "gpu_set" not in one and "cards" not in one["placement"]


def test_detected_mixed_cards_name_the_set(kb):
    """A machine with a 3090 and two 3060 12GB still answers for its largest identical group
    without a GPU named, and the note gives the set to name instead."""
    from advisor.hardware.match import resolve
    from advisor.hardware.parse import DetectedCard
    from advisor.hardware.probe import Detection

    cards = [DetectedCard("nvidia", "NVIDIA GeForce RTX 3090", 24576 << 20, "nvidia-smi", "ampere"),
             DetectedCard("nvidia", "NVIDIA GeForce RTX 3060", 12288 << 20, "nvidia-smi", "ampere"),
             DetectedCard("nvidia", "NVIDIA GeForce RTX 3060", 12288 << 20, "nvidia-smi", "ampere")]
    m = resolve(Detection(cards=cards), kb)
    assert m.gpu.id == "rtx-3090" or m.gpu.id == "rtx-3060-12gb"
    assert any("advisor explain MODEL rtx-3090,2x rtx-3060-12gb" in n for n in m.notes), m.notes


def test_set_commands_parse_against_llama_cpp_flags(advisor):
    """The -ts of unequal cards is a flag value llama-server takes (advisor/data/runtime_flags.yaml)."""
    from advisor.plans.flags import check_command

    adv = advisor.explain(R1_70B, SET, "Q4_K_M", 32768, gpus=None)
    commands = [p.command for p in adv.path_plans if p.command]
    assert any("-ts 23.6,11.6,11.6" in cmd for cmd in commands), commands
    for cmd in commands:
        assert check_command(cmd).ok, (cmd, check_command(cmd).problems)


def test_does_not_fit_names_the_short_card():
    r = run("explain", R1_70B, SET, "-p", "Q4_K_M", "-c", "32768")
    assert r.exit_code == 0, r.output
    assert "failure to allocate its CUDA buffer on device 0 (NVIDIA GeForce RTX 3090)" in r.output
