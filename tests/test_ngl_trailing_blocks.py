"""A user's llama.cpp layer options on a GGUF with a trailing block (GLM-4.5's NextN): -ngl N
and -ts are read in llama.cpp's slots (the model's layers, the NextN block, then the output
layer), converted to the layers placed once (advisor.sizing.offload.gpu_layers_of_ngl), and the
user's N is echoed as given. A model without trailing blocks is unchanged. Also: the offload
sentences stay grammatical when the output layer is all that is off the GPU."""
from __future__ import annotations

import pytest

from advisor.errors import AdvisorError
from advisor.render import render_markdown
from advisor.sizing.mixed import layer_devices, split_layers, split_weights
from advisor.sizing.workload import Workload
from advisor.sizing.offload import (gguf_trailing_blocks, gpu_layers_of_ngl, llamacpp_ngl,
                                    ngl_all)

AIR = "glm-4.5-air"   # 46 layers + 1 NextN block: block_count 47, -ngl 48 is everything


def _as_asked(adv):
    return next(p for p in adv.path_plans if p.path == "as-asked")


def test_the_conversion_counts_the_trailing_block(kb):
    air, glm, llama = kb.model(AIR), kb.model("glm-4.5"), kb.model("llama-3.1-8b")
    assert (air.architecture.layers, gguf_trailing_blocks(air), ngl_all(air)) == (46, 1, 48)
    assert (glm.architecture.layers, ngl_all(glm)) == (92, 94)
    # llama.cpp offloads the last N slots: -ngl 1 is the NextN block alone, 47 every layer
    assert [gpu_layers_of_ngl(air, n) for n in (0, 1, 2, 46, 47, 48, 99, None)] == \
        [0, 0, 1, 45, 46, None, None, None]
    assert [llamacpp_ngl(air, g) for g in (0, 1, 45, 46, None)] == [0, 2, 46, 47, 48]
    for g in range(0, 47):
        assert gpu_layers_of_ngl(air, llamacpp_ngl(air, g)) == g
    # no trailing block: the count is the layers, as before
    assert ngl_all(llama) == 33 and gpu_layers_of_ngl(llama, 20) == 20
    assert gpu_layers_of_ngl(llama, 32) == 32 and gpu_layers_of_ngl(llama, 33) is None
    assert [llamacpp_ngl(llama, g) for g in (0, 20, 32, None)] == [0, 20, 32, 33]


def test_ngl_47_on_air_keeps_the_output_layer_in_ram_and_is_echoed(advisor):
    adv = advisor.explain(AIR, "h200", precision="Q4_K_M", gpu_layers=47)
    off = adv.situation.placement.offload
    assert off is not None and (off.gpu_layers, off.cpu_layers, off.ngl) == (46, 0, 47)
    assert adv.facts["n_gpu_layers"] == 47 and adv.facts["offload_cpu_layers"] == 0
    assert " -ngl 47 " in _as_asked(adv).command
    md = render_markdown(adv)
    assert "46 of its 47 layers on the GPU (`-ngl 47`;" in md and "48 in all" in md
    # the gpu-layers plan puts the output layer there too: -ngl 48
    assert any(p.path == "gpu-layers" and " -ngl 48 " in p.command for p in adv.path_plans)
    j = adv.to_json()
    assert j["placement"]["n_gpu_layers"] == 47 and j["placement"]["gpu_layers"] == 46


def test_ngl_48_on_air_is_every_layer_and_is_echoed(advisor):
    adv = advisor.explain(AIR, "h200", precision="Q4_K_M", gpu_layers=48)
    assert adv.situation.placement.offload is None and adv.facts["n_gpu_layers"] == 48
    assert " -ngl 48 " in _as_asked(adv).command
    assert "every layer on the GPU (`-ngl 48`)" in render_markdown(adv)
    for n in (99, "all"):  # llama.cpp's larger count and its word: all of them, 48
        assert advisor.explain(AIR, "h200", precision="Q4_K_M", gpu_layers=n).facts["n_gpu_layers"] == 48


@pytest.mark.parametrize("n, placed", [(0, 0), (1, 0), (2, 1), (14, 13)])
def test_a_partial_ngl_on_air_is_placed_in_layers_and_echoed_as_given(advisor, n, placed):
    adv = advisor.explain(AIR, "h200", precision="Q4_K_M", gpu_layers=n,
                          work=Workload(ram_bytes=128 * 2**30))  # RAM for every layer
    off = adv.situation.placement.offload
    assert (off.gpu_layers, off.cpu_layers, off.ngl) == (placed, 46 - placed, n)
    assert adv.facts["n_gpu_layers"] == n
    plan = _as_asked(adv)
    assert plan.n_gpu_layers == n and plan.gpu_layers == placed
    assert f" -ngl {n} " in plan.command
    md = render_markdown(adv)
    assert f"`-ngl {n}`" in md and f"{placed} of its 47 layers on the GPU" in md
    assert f"-ngl {n - 1}`" not in md or n == 0


def test_ngl_0_and_1_on_air_are_the_same_placement(advisor):
    """-ngl 0 and 1 keep no layer of GLM-4.5-Air on the GPU: the plan that suits the GPU says
    layers more than asked counted as placed, and its own -ngl in llama.cpp's count."""
    for n in (0, 1):
        adv = advisor.explain(AIR, "rtx-4090", precision="Q4_K_M", gpu_layers=n)
        plan = next(p for p in adv.path_plans if p.path == "gpu-layers")
        k = plan.gpu_layers
        assert plan.n_gpu_layers == k + 1 and f" -ngl {k + 1} " in plan.command
        assert f"{k} layers on the GPU (-ngl {k + 1}), {k} more than asked" in plan.changes


def test_a_partial_ngl_on_several_cards_names_every_slot(advisor):
    with pytest.raises(AdvisorError, match="give 48 for every layer"):
        advisor.explain(AIR, "rtx-3090,2xrtx-3060-12gb", precision="IQ2_XXS", gpu_layers=47,
                        tensor_split="2,1,1")
    with pytest.raises(AdvisorError, match=r"outside 0\.\.48"):
        advisor.explain(AIR, "h200", precision="Q4_K_M", gpu_layers=-2)


def test_tensor_split_on_air_counts_the_nextn_slot(advisor, kb):
    """llama.cpp splits 48 slots of GLM-4.5-Air (46 layers, the NextN block, the output layer)
    by -ts: 3,1,1 gives the cards 29, 10 and 7 layers, not the 29, 9, 8 of 47 slots."""
    adv = advisor.explain(AIR, "h100-80gb,2xrtx-3090", precision="Q4_K_M", gpu_layers=48,
                          tensor_split="3,1,1")
    cards = adv.situation.placement.mixed.cards
    assert [k.layers for k in cards] == [29, 10, 7] and cards[-1].output
    where = layer_devices(split_weights("3,1,1"), 47)
    assert [where[:46].count(i) for i in range(3)] == [29, 10, 7]
    assert adv.facts["n_gpu_layers"] == 48
    plan = _as_asked(adv)
    assert " -ngl 48 " in plan.command and plan.command.endswith("-sm layer -ts 3,1,1")
    # the same split, however written, is judged on the same slots
    gset = adv.situation.gpu_set
    air = kb.model(AIR)
    assert split_layers(air, gset, "3,1,1") == split_layers(air, gset, "6,2,2")
    assert split_layers(air, gset, "3,1,1")[:46] == tuple(where[:46])


def test_a_llama_model_is_unchanged(advisor, kb):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", precision="Q8_0", gpu_layers=20)
    off = adv.situation.placement.offload
    assert (off.gpu_layers, off.cpu_layers, off.ngl) == (20, 12, 20)
    assert " -ngl 20 " in _as_asked(adv).command
    assert "20 of its 33 layers on the GPU (`-ngl 20`; llama.cpp counts 32 repeating layers and " \
           "the output layer)" in render_markdown(adv)
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", precision="Q8_0", gpu_layers=33)
    assert adv.situation.placement.offload is None and " -ngl 33 " in _as_asked(adv).command
    llama, gset = kb.model("llama-3.1-70b"), None
    adv = advisor.explain("llama-3.1-70b", "rtx-3090,2xrtx-3060-12gb", precision="Q2_K",
                          tensor_split="3,1,1")
    gset = adv.situation.gpu_set
    where = layer_devices(split_weights("3,1,1"), 80)
    assert split_layers(llama, gset, "3,1,1") == tuple(where)
    assert [k.layers for k in adv.situation.placement.mixed.cards] == \
        [where[:80].count(i) for i in range(3)]


@pytest.mark.parametrize("model, gpu, prec, n", [
    ("llama-3.1-8b", "rtx-4090", "Q8_0", 32),     # every layer on the GPU, the output layer not
    (AIR, "h200", "Q4_K_M", 47),                  # the same on GLM: -ngl 47
    (AIR, "rtx-4090", "Q4_K_M", 47),              # ... where it does not fit
])
def test_the_output_layer_alone_in_ram_reads_whole(advisor, model, gpu, prec, n):
    """With only the output layer off the GPU no sentence says "the other the output layer" or
    "the the output layer", and its verbs agree with it."""
    adv = advisor.explain(model, gpu, precision=prec, gpu_layers=n)
    assert adv.facts["offload_cpu_layers"] == 0
    md = render_markdown(adv)
    for bad in ("other the ", "the the ", "The other the", "0 layers and the output",
                "0 layers, the output", "output layer that `-ngl " + str(n) + "` leaves in system RAM set "):
        assert bad not in md, bad
    assert "The output layer and the token embeddings need" in md
    if adv.verdict in ("fits", "tight"):
        assert "with the output layer in system RAM" in md
        assert f"the output layer that `-ngl {n}` leaves in system RAM sets the pace" in md
        assert "then the CPU computes the output layer from system RAM" in md


def test_no_layer_on_the_gpu_reads_whole(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", precision="Q8_0", gpu_layers=0)
    md = render_markdown(adv)
    assert "Each token runs the 0 layers" not in md and "The other 32 layers" not in md
    assert "All 32 layers, the output layer and the token embeddings need" in md
    assert "No layer runs on the GPU: each token the CPU computes all 32 layers and the output layer" in md
