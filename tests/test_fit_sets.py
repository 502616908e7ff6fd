"""advisor fit over a set of GPUs (issue 12, item 4): unequal cards answered with llama.cpp's
layer split (-ts), a set of one kind the same question as --gpus N, the detected cards as a set."""
from __future__ import annotations

import json

import pytest

from advisor.bulk.inverse import models_that_fit
from advisor.hardware.gpuset import resolve_gpu_set
from advisor.sizing.workload import Workload
from tests.bulk_helpers import run
from tests.cli_helpers import one_line_error
# kb, advisor: the built-in KB's (tests/conftest.py)

SET = "rtx-3090,2x rtx-3060-12gb"
TS = "-ts 23.6,11.6,11.6"  # each card's free GiB (tests/test_mixed_gpus.py)


@pytest.fixture(scope="module")
def on_set() -> dict:
    r = run("fit", SET, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _rows(doc: dict) -> dict:
    return {m["model"]: m for m in doc["models"]}


def test_the_set_runs_llama_70b_at_4_bits_split_over_the_three_cards(on_set):
    """The published 3090 + 2 x 3060 12GB run of R1-Distill-Llama-70B at Q4 (about 11 tok/s,
    tests/test_mixed_gpus.py): fit lists Llama 3.1 70B and that model at a 4-bit GGUF on the
    three cards, llama.cpp splitting the layers by free memory."""
    rows = _rows(on_set)
    for model in ("llama-3.1-70b", "deepseek-r1-distill-llama-70b"):
        r = rows[model]
        assert r["precision"].startswith(("Q4", "IQ4")), r["precision"]
        assert r["runtime"] == "llama.cpp"
        assert r["plan"]["gpu_count"] == 3 and r["plan"]["split"] == "layer"
        assert TS in r["plan"]["command"] and "-sm layer" in r["plan"]["command"]
        assert r["plan"]["total_bytes"] > 24 << 30  # more than any one card holds
        assert abs(r["decode_tokens_per_s"] - 11.2) / 11.2 <= 0.35, r["decode_tokens_per_s"]
        # the default context: 8,192 tokens, the reasoning model's 32,768 (its publisher's
        # output budget)
        want = {"llama-3.1-70b": 8192, "deepseek-r1-distill-llama-70b": 32768}[model]
        assert r["max_context_tokens"] >= r["context_tokens"] == want


def test_a_row_is_what_explain_recommends_on_the_set(on_set):
    """Llama 3.1 70B's row is the plan explain MODEL SET recommends on the user's cards (its
    your-gpus path), the same format, command and speed."""
    r = run("explain", "llama-3.1-70b", SET, "--format", "json")
    assert r.exit_code == 0, r.output
    mine = [p for p in json.loads(r.output)["plans"] if p["path"] == "your-gpus"]
    assert len(mine) == 1
    row = _rows(on_set)["llama-3.1-70b"]["plan"]
    for key in ("precision", "kv_cache_dtype", "command", "decode_tokens_per_s", "total_bytes"):
        assert row[key] == mine[0][key], key


def test_a_model_too_big_for_the_set_is_left_out(on_set, kb, advisor):
    """The 405B needs more than the 48 GiB of the three cards at any format; explain on the set
    has no usable plan on them either."""
    rows = _rows(on_set)
    assert "llama-3.1-405b" not in rows and "llama-3.1-8b" in rows
    adv = advisor.explain("llama-3.1-405b", SET, "Q2_K", 8192, gpus=None)
    assert adv.verdict != "fits"
    assert all(p.path not in ("your-gpus", "as-asked") or not p.usable for p in adv.path_plans)
    memory = sum(g.usable_memory_bytes for g in resolve_gpu_set(kb, SET, None).devices)
    for m in on_set["models"]:  # every row fits in the cards' memory
        assert m["total_bytes"] <= memory, m["model"]


def test_json_rows_carry_the_set_and_its_split(on_set):
    assert on_set["gpu"] == SET and on_set["count"] == 3
    assert on_set["devices"] == ["rtx-3090", "rtx-3060-12gb", "rtx-3060-12gb"]
    assert on_set["tensor_split"] == "23.6,11.6,11.6" and on_set["offload"] is False
    assert [g["id"] for g in on_set["gpu_set"]] == ["rtx-3090", "rtx-3060-12gb"]
    assert len(on_set["models"]) > 20
    for m in on_set["models"]:
        p = m["plan"]
        assert p["gpu_set"] == on_set["gpu_set"], m["model"]
        assert m["runtime"] == "llama.cpp" and p["cpu_offload_layers"] in (0, None), m["model"]
        assert TS in p["command"], (m["model"], p["command"])


def test_the_ranking_is_fits(on_set):
    """--rank quality: models with their publisher's own figure first, highest first, then
    models scored only by another evaluator, highest first, then the rest largest first, as fit
    on one kind of card."""
    qs = [m["quality"] for m in on_set["models"]]
    tiers = [2 if q is None else 0 if q["self_reported"] else 1 for q in qs]
    assert tiers == sorted(tiers) and 0 in tiers
    for tier in (0, 1):
        scored = [q["score"] for q, t in zip(qs, tiers) if t == tier]
        assert scored == sorted(scored, reverse=True)
    n = len([t for t in tiers if t < 2])
    rest = [m["parameters"] for m in on_set["models"][n:]]
    assert rest == sorted(rest, reverse=True)


def test_rank_size_and_the_library_agree(kb):
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    gset = resolve_gpu_set(kb, SET, None)
    rows = models_that_fit(Planner(kb, load_objective_file()), kb, gset.devices[0],
                           Workload(8192, 1), 3, cap_context=True, rank="size", gpu_set=gset)
    sizes = [r.parameters for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    d = json.loads(run("fit", SET, "--rank", "size", "--format", "json").output)
    assert [m["model"] for m in d["models"]] == [r.model.id for r in rows]
    with pytest.raises(ValueError):
        models_that_fit(Planner(kb, load_objective_file()), kb, gset.devices[0],
                        Workload(8192, 1), 3, offload=True, gpu_set=gset)


def test_a_set_of_one_kind_is_gpus_n():
    """`2x rtx-3090` (and `rtx-3090,rtx-3090`) is `rtx-3090 --gpus 2`: byte for byte."""
    n = run("fit", "rtx-3090", "--gpus", "2", "--format", "json")
    assert n.exit_code == 0, n.output
    for arg in ("2x rtx-3090", "rtx-3090,rtx-3090"):
        r = run("fit", arg, "--format", "json")
        assert r.exit_code == 0 and r.output == n.output, arg
    assert json.loads(n.output)["gpu"] == "rtx-3090" and json.loads(n.output)["count"] == 2


def test_table_names_the_split_and_ram_is_not_offloaded_to():
    r = run("fit", SET, "--ram-gb", "64")
    assert r.exit_code == 0, r.output
    head = r.output.splitlines()[0]
    assert "NVIDIA GeForce RTX 3090 + 2 × NVIDIA GeForce RTX 3060 12GB" in head
    assert "-ts 23.6,11.6,11.6" in head and "not planned over unequal cards" in head
    assert "llama-3.1-70b" in r.output and "llama-3.1-405b" not in r.output
    assert "layers on GPU" not in r.output and "vllm" not in r.output


def test_device_order_is_kept():
    """The cards in the order written: the 3090 last gets the last share of -ts."""
    d = json.loads(run("fit", "2x rtx-3060-12gb,rtx-3090", "--format", "json").output)
    assert d["gpu"] == "2x rtx-3060-12gb,rtx-3090"
    assert d["devices"] == ["rtx-3060-12gb", "rtx-3060-12gb", "rtx-3090"]
    assert all("-ts 11.6,11.6,23.6" in m["plan"]["command"] for m in d["models"])


def test_deterministic(on_set):
    again = run("fit", SET, "--format", "json")
    assert json.loads(again.output) == on_set
    assert run("fit", "rtx-3090, 2 x rtx-3060-12gb", "--format", "json").output == again.output


@pytest.mark.parametrize("args, words", [
    ((SET, "--gpus", "2"), ("--gpus 2 disagrees",)),
    (("rtx-3090,2x nosuch",), ("unknown gpu 'nosuch'",)),
    (("rtx-3090,,rtx-3060-12gb",), ("empty item",)),
    (("0x rtx-3090",), ("a count must be from 1",)),
    (("rtx-3090,mi300x",), ("mixes vendors",)),
    (("2x m3-ultra-256gb",), ("whole machine",)),
    ((SET, "--task", "finetune"), ("data-parallel", "one kind", "fit rtx-3060-12gb --gpus 3")),
])
def test_bad_sets_exit_2_with_one_line(args, words):
    one_line_error(run("fit", *args), *words)


def test_gpus_given_a_set_names_fit():
    """advisor gpus takes a MODEL: given GPUs, it names fit (and explain) as the way."""
    for arg in (SET, "2x rtx-3090", "rtx-4090"):
        one_line_error(run("gpus", arg), "names GPUs, not a model", f"advisor fit '{arg}'")
    one_line_error(run("gpus", "llama-9"), "unknown model 'llama-9'")


# -- the cards detected on this machine ------------------------------------------------------

@pytest.fixture
def nvidia_smi(tmp_path, monkeypatch):
    """A stand-in nvidia-smi, alone on PATH, printing `lines` (as tests/test_hardware.py)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("ADVISOR_NO_NVML", "1")

    def put(lines: str):
        (folder / "out").write_text(lines)
        tool = folder / "nvidia-smi"
        tool.write_text(f"#!/bin/sh\n/bin/cat '{folder / 'out'}'\n")
        tool.chmod(0o755)
    return put


MIXED = ("NVIDIA GeForce RTX 3090, 24576, 8.6\nNVIDIA GeForce RTX 3060, 12288, 8.6\n"
         "NVIDIA GeForce RTX 3060, 12288, 8.6\n")


def test_detected_unequal_cards_are_fit_as_the_set(nvidia_smi, on_set):
    nvidia_smi(MIXED)
    r = run("fit", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["gpu"] == SET and d["devices"] == on_set["devices"]
    assert [m["model"] for m in d["models"]] == [m["model"] for m in on_set["models"]]
    assert any("answering for the whole set" in n for n in d["hardware"]["notes"])
    text = run("fit")
    assert text.exit_code == 0
    assert text.output.startswith("Detected on this machine (nvidia-smi): NVIDIA GeForce RTX 3090 + "
                                  "2 × NVIDIA GeForce RTX 3060 12GB (the knowledge base's "
                                  "rtx-3090,2x rtx-3060-12gb).")
    assert "largest identical group" not in text.output and TS in text.output


def test_detected_unequal_cards_with_gpus_n_are_one_kind(nvidia_smi):
    """--gpus N asks about N cards of one kind: the largest identical group, as before."""
    nvidia_smi(MIXED)
    d = json.loads(run("fit", "--gpus", "2", "--format", "json").output)
    assert d["gpu"] == "rtx-3060-12gb" and d["count"] == 2 and "gpu_set" not in d


def test_detected_equal_cards_stay_one_kind(nvidia_smi):
    nvidia_smi("NVIDIA GeForce RTX 3090, 24576, 8.6\nNVIDIA GeForce RTX 3090, 24576, 8.6\n")
    d = json.loads(run("fit", "--format", "json").output)
    assert d["gpu"] == "rtx-3090" and d["count"] == 2 and "gpu_set" not in d


def test_detected_set_with_an_unknown_card_is_its_largest_group(nvidia_smi):
    """A card the KB does not hold cannot be split over (its free memory is a guess): the answer
    stays with the largest identical group, as explain's."""
    nvidia_smi("NVIDIA GeForce RTX 3090, 24576, 8.6\nNVIDIA GeForce RTX 4090 D, 24564, 8.9\n"
               "NVIDIA GeForce RTX 4090 D, 24564, 8.9\n")
    d = json.loads(run("fit", "--format", "json").output)
    assert d["count"] == 2 and "gpu_set" not in d


def test_detected_cards_keep_the_order_the_tool_lists(nvidia_smi):
    """The set is split in the order nvidia-smi lists the cards (a card that comes back is
    written again, so the GPU argument names the same devices in the same order)."""
    nvidia_smi("NVIDIA GeForce RTX 3060, 12288, 8.6\nNVIDIA GeForce RTX 3090, 24576, 8.6\n"
               "NVIDIA GeForce RTX 3060, 12288, 8.6\n")
    d = json.loads(run("fit", "--format", "json").output)
    assert d["gpu"] == "rtx-3060-12gb,rtx-3090,rtx-3060-12gb"
    assert d["devices"] == ["rtx-3060-12gb", "rtx-3090", "rtx-3060-12gb"]
    assert d["models"] and all("-ts 11.6,23.6,11.6" in m["plan"]["command"] for m in d["models"])
    named = json.loads(run("fit", d["gpu"], "--format", "json").output)
    assert [m["model"] for m in named["models"]] == [m["model"] for m in d["models"]]
