"""A plan's changes name llama.cpp's -ngl only on llama.cpp: Ollama has no such flag (its
num_gpu, which the plan's command leaves unset, places the layers)."""


def _every_layer_changes(adv):
    return [(p.runtime, ch) for p in adv.path_plans for ch in p.changes
            if ch.startswith("every layer on the GPU")]


def test_ollama_plans_do_not_cite_ngl(advisor):
    adv = advisor.explain("llama3.1:8b", "rtx-4060-ti-16gb", None, 131072)
    ollama = [ch for rt, ch in _every_layer_changes(adv) if rt == "ollama"]
    assert ollama, "expected an Ollama plan that moves every layer onto the card"
    assert all("-ngl" not in ch for ch in ollama), ollama


def test_llama_cpp_plans_still_give_the_flag(advisor):
    adv = advisor.explain("llama-3.1-70b", "rtx-4090", "Q8_0", gpu_layers=0)
    cpp = [ch for rt, ch in _every_layer_changes(adv) if rt == "llama.cpp"]
    assert cpp and all("(-ngl " in ch for ch in cpp), cpp
