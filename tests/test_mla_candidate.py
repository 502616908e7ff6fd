"""The KV cache layout of a latent-attention model belongs to the file or checkpoint a plan loads,
not to the model asked about (issues 12 and 17).

A question naming an old-layout DeepSeek file (an Ollama name, or a GGUF converted before llama.cpp
PR 12801) is sized per head as asked (ollama issue 5136: DeepSeek V2 Lite Q4_0 at 32K, KV 8,640
MiB); a plan that keeps that file stays per head; a plan that makes a GGUF with current llama.cpp
or runs vLLM over the Hugging Face checkpoint caches the latent (972 MiB there), says so among its
changes and names a new file with the commands that make it; a plan that downloads a GGUF repo
the KB lists as converted before PR 12801 is sized per head.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.kb import load_kb
from advisor.kb.schema import with_fields
from advisor.plans.candidates import cache_per_head
from advisor.plans.evaluate import Ask
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.precision import parse_precision
from advisor.sizing.workload import Workload
from tests.test_gguf_mla import _deepseek_gguf

KB = load_kb()
MIB = 1 << 20
# An Ollama name is answered under Ollama (which offloads what does not fit); these tests are of
# llama.cpp's plans for Ollama's file (keep it, or re-convert it with the latent cache)
LLAMACPP = ("--runtime", "llama.cpp")


def explain(*args) -> dict:
    r = CliRunner().invoke(main, ["explain", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def per_head_bytes(model_id: str, context: int) -> int:
    """27 layers x 16 heads x (K 192 + V 128) x 2 bytes a token for DeepSeek V2 Lite."""
    a = KB.model(model_id).architecture
    return a.layers * a.kv_heads * (a.head_dim + a.v_head_dim) * 2 * context


def latent_bytes(model_id: str, context: int) -> int:
    a = KB.model(model_id).architecture
    return a.layers * (a.kv_lora_rank + a.qk_rope_head_dim) * 2 * context


def loads_old_file(plan: dict, model_id: str) -> bool:
    """The plan's command loads Ollama's file or a GGUF repo converted before PR 12801."""
    cmd = plan["command"] or ""
    old = KB.model(model_id).gguf_repos_per_head_cache
    return plan["own_file"] or any(f"-hf {repo}" in cmd for repo in old)


# -- the RTX 4070 at 16K: DeepSeek Coder V2 Lite from Ollama's Q4_0 ---------------------------------

def test_4070_as_asked_is_per_head_and_does_not_fit():
    d = explain("deepseek-coder-v2:16b", "rtx-4070", "--context", "16384", *LLAMACPP)
    assert d["memory"]["kv_cache_bytes"] == per_head_bytes("deepseek-coder-v2-lite", 16384)  # 4,320 MiB
    assert d["verdict"] == "does-not-fit"


def test_4070_on_the_card_is_a_current_gguf_with_the_latent_cache():
    """What an expert does: re-convert to Q4_0 with current llama.cpp: 8.9 GB of weights, the
    0.51 GB latent cache and the runtime's 0.7 GB fit the 12.9 GB card, where Ollama's file (KV
    4.53 GB per head) does not."""
    d = explain("deepseek-coder-v2:16b", "rtx-4070", "--context", "16384", *LLAMACPP)
    gpus = next(p for p in d["plans"] if p["path"] == "your-gpus")
    assert gpus["cpu_offload_layers"] == 0 and gpus["moe_cpu_layers"] == 0
    assert gpus["context_tokens"] == 16384 and gpus["kv_cache_dtype"] == "fp16"
    assert gpus["kv_cache_layout"] == "latent" and not gpus["own_file"]
    assert gpus["kv_cache_bytes"] == latent_bytes("deepseek-coder-v2-lite", 16384)
    assert gpus["precision"].startswith("Q4")
    assert not loads_old_file(gpus, "deepseek-coder-v2-lite")
    # the command loads a new file, and the notes make it from the checkpoint with current llama.cpp
    new = gpus["command"].split("-m ", 1)[1].split()[0]
    assert new.endswith("-MLA.gguf")
    made = " ".join(gpus["notes"])
    assert "convert_hf_to_gguf.py" in made and "llama-quantize" in made and new in made
    # the change says why, with the KV cache saved
    assert any("caches the latent" in c and "0.51 GB" in c and "4.53 GB" in c for c in gpus["changes"])


def test_4070_what_to_do_caches_the_latent_for_speed():
    d = explain("deepseek-coder-v2:16b", "rtx-4070", "--context", "16384", "--prefer", "speed", *LLAMACPP)
    plan = d["plan"]
    assert plan["kv_cache_layout"] == "latent" and not loads_old_file(plan, "deepseek-coder-v2-lite")
    assert plan["owned"] and plan["context_tokens"] == 16384
    # the fastest good plan is the whole model on the card
    assert plan["cpu_offload_layers"] == 0 and plan["moe_cpu_layers"] == 0


def test_4070_what_to_do_for_quality_is_sized_by_the_file_it_loads():
    """--prefer quality: a good-quality plan past reading speed on the 4070 (on the card: a good
    format there runs more than twice as fast as a near-lossless one with experts in RAM,
    objective.yaml spill_slowdown). Whichever file it loads, its cache is sized as that file
    makes llama.cpp allocate it: per head for a GGUF repo converted before PR 12801
    (bartowski's, 2024), the latent for a file made now."""
    d = explain("deepseek-coder-v2:16b", "rtx-4070", "--context", "16384", *LLAMACPP)
    plan = d["plan"]
    assert plan["owned"] and plan["context_tokens"] == 16384
    assert plan["quality_cost"]["class"] in ("near-lossless", "small")
    assert plan["decode_tokens_per_s"] >= 30
    old = loads_old_file(plan, "deepseek-coder-v2-lite")
    assert plan["kv_cache_layout"] == ("per-head" if old else "latent")


def test_4070_keeping_the_old_file_is_sized_per_head():
    """Ollama's own Q4_0 stays a plan on the card only with a quantized cache, sized per head."""
    from advisor.advise import load_objective_file
    from advisor.plans.planner import Planner

    m = KB.model("deepseek-coder-v2-lite")
    m = with_fields(m, architecture=replace(m.architecture, mla_per_head_cache=True))
    ask = replace(Ask.of(m, KB.gpu("rtx-4070"), 1, Workload(16384), precision=parse_precision("Q4_0")),
                  own_file="Q4_0")
    ps = Planner(KB, load_objective_file()).plans(ask, keep_all=True)
    mine = [p for plans in ps.every.values() for p in plans if p.own_file]
    assert mine and all(p.mla_per_head_cache for p in mine)
    on_card = [p for p in mine if p.path == "your-gpus" and p.context_tokens == 16384]
    assert on_card and all(p.kv_cache_dtype in ("q8_0", "q4_0") for p in on_card)


# -- ollama issue 5136: DeepSeek V2 Lite Q4_0 at 32K on a 3090 --------------------------------------

def test_5136_as_asked_keeps_the_measured_per_head_cache():
    d = explain("deepseek-v2:16b", "rtx-3090", "--context", "32768")
    assert d["memory"]["kv_cache_bytes"] == 8640 * MIB
    asked = next(p for p in d["plans"] if p["path"] == "as-asked")
    assert asked["kv_cache_bytes"] == 8640 * MIB
    assert asked["kv_cache_layout"] == "per-head" and asked["own_file"]
    # no plan keeping Ollama's file says to convert one (a file converted now caches the latent)
    assert not any("convert_hf_to_gguf" in n for n in asked["notes"])
    for p in d["plans"]:
        if p["path"] != "as-asked" and p["model_id"] == "deepseek-v2-lite" and p["runtime"] == "llama.cpp":
            assert p["kv_cache_layout"] == "latent"
            assert p["kv_cache_bytes"] == 972 * MIB * (2 if p["kv_cache_dtype"] == "fp32" else 1)
            assert "DeepSeek-V2-Lite-Chat-Q4_0.gguf " not in p["command"] + " "


def test_kb_id_keeps_the_latent_cache_and_makes_its_file():
    """Asked by KB id (no file named), the question is sized with the latent cache; its GGUF
    repos of old files are not what it downloads."""
    d = explain("deepseek-coder-v2-lite", "rtx-3090", "--precision", "Q4_K_M", "--context", "32768")
    assert d["memory"]["kv_cache_bytes"] == latent_bytes("deepseek-coder-v2-lite", 32768)
    asked = next(p for p in d["plans"] if p["path"] == "as-asked")
    assert asked["kv_cache_layout"] == "latent" and not loads_old_file(asked, "deepseek-coder-v2-lite")
    assert "-MLA.gguf" in asked["command"]


# -- properties --------------------------------------------------------------------------------------

OLLAMA = ["deepseek-v2:16b", "deepseek-coder-v2:16b"]
CARDS = ["rtx-4070", "rtx-3090", "rtx-4090", "a100-80gb", "rtx-4060-ti-16gb"]


def _check_plan_layout(p, ask_model, own_path: str | None = None) -> None:
    """The layout a plan is sized with is that of what it loads; the sizing matches it."""
    where = p.to_json()
    a = p.model.architecture
    if p.own_file:
        assert p.mla_per_head_cache, where            # the user's old file: never the latent
    elif p.runtime == "llama.cpp" and p.model.id == ask_model.id:
        expected = cache_per_head(p.model, "llama.cpp", p.checkpoint if p.precision.family == "gguf" else None)
        assert p.mla_per_head_cache == expected, where
    elif p.runtime == "vllm":
        assert not p.mla_per_head_cache, where
    assert a.mla_per_head_cache == p.mla_per_head_cache, where  # the model it was sized with
    if own_path is not None and p.command:
        assert (own_path in p.command) == p.own_file, where
    if p.runtime == "llama.cpp" and p.gpu_count == 1 and not p.offload:
        assert p.kv_cache_bytes == kv_cache_bytes(a, p.context_tokens, p.batch, p.kv_cache_dtype,
                                                  "llama.cpp"), where


@pytest.mark.parametrize("name", OLLAMA)
@pytest.mark.parametrize("gpu", CARDS)
def test_no_plan_loading_the_old_file_is_sized_with_the_latent_cache(advisor, name, gpu):
    from advisor.files import resolve_model

    m, stored = resolve_model(KB, name)
    m = with_fields(m, architecture=replace(m.architecture, mla_per_head_cache=True))
    for context in (8192, 32768):
        ask = replace(Ask.of(m, KB.gpu(gpu), 1, Workload(context), precision=parse_precision(stored)),
                      own_file=stored)
        ps = advisor.planner.plans(ask, keep_all=True)
        for plans in ps.every.values():
            for p in plans:
                _check_plan_layout(p, m)


def test_an_old_gguf_file_is_kept_per_head_and_replaced_latent(tmp_path, advisor):
    path = _deepseek_gguf(tmp_path / "old.gguf", split=False)
    d = explain(str(path), "rtx-4090", "--context", "4096")
    asked = next(p for p in d["plans"] if p["path"] == "as-asked")
    assert asked["own_file"] and asked["kv_cache_layout"] == "per-head"
    assert f"-m {path}" in asked["command"]  # the file asked about, by its own name
    others = [p for p in d["plans"] if p["path"] != "as-asked"]
    assert others and all(p["kv_cache_layout"] == "latent" and str(path) not in (p["command"] or "")
                          for p in others)
    from advisor.files import resolve_model

    m, stored = resolve_model(KB, str(path))
    ask = replace(Ask.of(m, KB.gpu("rtx-4090"), 1, Workload(4096), precision=parse_precision(stored)),
                  own_file=stored)
    for plans in advisor.planner.plans(ask, keep_all=True).every.values():
        for p in plans:
            _check_plan_layout(p, m, str(path))


def test_a_new_gguf_file_has_no_per_head_plans(tmp_path, advisor):
    d = explain(str(_deepseek_gguf(tmp_path / "new.gguf", split=True)), "rtx-4090", "--context", "4096")
    assert all(p["kv_cache_layout"] == "latent" for p in d["plans"] if p["runtime"] == "llama.cpp")


def test_layout_by_runtime_and_file():
    m = KB.model("deepseek-coder-v2-lite")
    old = m.gguf_repos_per_head_cache[0]
    assert cache_per_head(m, "llama.cpp", old)
    assert not cache_per_head(m, "llama.cpp", None)           # made with current llama.cpp
    assert not cache_per_head(m, "vllm", None)                 # vLLM's MLA cache
    assert cache_per_head(m, "transformers", None)             # DeepseekV3Attention caches per head
    assert not cache_per_head(m, "llama.cpp", None, own_file=True)  # a KB id names no old file
    assert not cache_per_head(KB.model("llama-3.1-8b"), "transformers", None)  # no latent attention


def test_kb_refuses_a_per_head_repo_it_does_not_list():
    import yaml

    from advisor.kb.schema import Model
    from advisor.kb.validate import validate

    path = Path(__file__).resolve().parent.parent / "kb" / "models" / "deepseek-coder-v2-lite.yaml"
    raw = yaml.safe_load(path.read_text())
    assert validate(Model, raw).gguf_repos_per_head_cache
    raw["gguf_repos_per_head_cache"] = ["someone/Elsewhere-GGUF"]
    with pytest.raises(Exception, match="not in gguf_repos"):
        validate(Model, raw)


def test_ollama_name_at_another_quantization_is_ollamas_file_of_it():
    """`deepseek-v2:16b --precision Q8_0` is Ollama's Q8_0 file of the model: per head as asked,
    and no plan keeping it says to convert a file (that would cache the latent)."""
    d = explain("deepseek-v2:16b", "rtx-3090", "--context", "32768", "--precision", "Q8_0", *LLAMACPP)
    assert d["memory"]["kv_cache_bytes"] == 8640 * MIB
    for p in d["plans"]:
        if p["own_file"]:
            assert p["kv_cache_layout"] == "per-head" and p["precision"] == "Q8_0"
            assert not any("convert_hf_to_gguf" in n for n in p["notes"])
        elif p["runtime"] == "llama.cpp" and p["model_id"] == "deepseek-v2-lite":
            # a file made now caches the latent; a published one converted before PR 12801
            # (more cards may download it rather than make one) is sized per head
            if p["kv_cache_layout"] == "latent":
                assert "-MLA.gguf" in p["command"]
            else:
                assert any(r in p["command"]
                           for r in KB.model("deepseek-v2-lite").gguf_repos_per_head_cache)


def test_under_ollama_the_per_head_file_offloads_instead_of_failing():
    """The same question answered as Ollama runs it: Ollama's per-head file does not fit the
    4070 whole, so its llama-server keeps the layers that fit (KV per head, the GPU's share)."""
    d = explain("deepseek-coder-v2:16b", "rtx-4070", "--context", "16384")
    assert d["workload"]["runtime"] == "ollama" and d["verdict"] == "fits"
    n, layers = d["workload"]["n_gpu_layers"], KB.model("deepseek-coder-v2-lite").architecture.layers
    assert 0 < n < layers
    assert d["memory"]["kv_cache_bytes"] == per_head_bytes("deepseek-coder-v2-lite", 16384) * n // layers
