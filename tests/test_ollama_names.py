"""Ollama names (`llama3.1:70b`, `qwen2.5:32b-instruct-q4_K_M`) resolve to a KB model and the
precision of the tag (advisor/kb/ollama.py; the mappings are KB aliases)."""
import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.files import resolve_model
from advisor.kb.ollama import DEFAULT_QUANT, parse_ollama_name


def run(*args):
    return CliRunner().invoke(main, list(args))


# -- the parser ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, name, size, variants, quant", [
    ("llama3.1:70b", "llama3.1", "70b", (), None),
    ("qwen2.5:32b-instruct-q4_K_M", "qwen2.5", "32b", ("instruct",), "q4_K_M"),
    ("llama3.1:70b-instruct-fp16", "llama3.1", "70b", ("instruct",), "fp16"),
    ("deepseek-r1:70b-llama-distill-q8_0", "deepseek-r1", "70b", ("llama", "distill"), "q8_0"),
    ("qwen3:30b-a3b-instruct-2507-q4_K_M", "qwen3", "30b", ("a3b", "instruct", "2507"), "q4_K_M"),
    ("mistral:7b-instruct-v0.3-q4_0", "mistral", "7b", ("instruct", "v0.3"), "q4_0"),
    ("mixtral:8x7b", "mixtral", "8x7b", (), None),
    ("gemma3", "gemma3", None, (), None),
    ("gemma3:latest", "gemma3", None, (), None),
    ("Qwen3:30B", "qwen3", "30b", (), None),
    ("llama3.2:3b-instruct-iq4_xs", "llama3.2", "3b", ("instruct",), "iq4_xs"),
    ("mistral-nemo:12b-instruct-2407-q2_K", "mistral-nemo", "12b", ("instruct", "2407"), "q2_K"),
    ("phi3:mini", "phi3", "mini", (), None),
    ("gemma3:27b-it-qat", "gemma3", "27b", ("it", "qat"), None),
    ("llama3.1:8b-instruct-bf16", "llama3.1", "8b", ("instruct",), "bf16"),
])
def test_parse_tags(spec, name, size, variants, quant):
    p = parse_ollama_name(spec)
    assert (p.name, p.size, p.variants, p.quant) == (name, size, variants, quant)


@pytest.mark.parametrize("spec", ["./model.gguf", "acme/tiny-GGUF:Q4_K_M", "meta-llama/Llama-3.1-8B",
                                  "llama3.1:", ":8b", "llama3.1:8b:q4_0", "a b:8b", "x:8b--q4_0",
                                  "config.json", ""])
def test_not_ollama_names(spec):
    assert parse_ollama_name(spec) is None


def test_lookup_keys_most_specific_first():
    assert parse_ollama_name("mistral:7b-instruct-v0.3-q4_0").keys() == [
        "mistral:7b-instruct-v0.3", "mistral:7b-v0.3"]
    assert parse_ollama_name("llama3.1:70b-instruct-q4_K_M").keys() == [
        "llama3.1:70b-instruct", "llama3.1:70b"]
    assert parse_ollama_name("deepseek-r1:70b").keys() == ["deepseek-r1:70b"]
    assert parse_ollama_name("qwen3").keys() == ["qwen3:latest"]


def test_unknown_quantization_is_an_error():
    with pytest.raises(AdvisorError, match="unknown quantization 'q9_K'"):
        parse_ollama_name("llama3.1:8b-q9_K")


# -- resolution through the KB ---------------------------------------------------------------------

@pytest.mark.parametrize("spec, model_id, precision", [
    ("llama3.1:70b", "llama-3.1-70b", "Q4_K_M"),
    ("qwen2.5:32b-instruct-q4_K_M", "qwen2.5-32b", "Q4_K_M"),
    ("gemma3:27b", "gemma-3-27b", "Q4_K_M"),
    ("deepseek-r1:70b", "deepseek-r1-distill-llama-70b", "Q4_K_M"),   # the Llama distill
    ("deepseek-r1:671b", "deepseek-r1", "Q4_K_M"),                    # R1 itself
    ("deepseek-r1:8b", "deepseek-r1-0528-qwen3-8b", "Q4_K_M"),        # since the 0528 update
    ("deepseek-r1:8b-llama-distill-q8_0", "deepseek-r1-distill-llama-8b", "Q8_0"),
    ("qwen3:30b", "qwen3-30b-a3b", "Q4_K_M"),                         # the 30B-A3B MoE
    ("qwen3:30b-a3b-instruct-2507-q8_0", "qwen3-30b-a3b-instruct-2507", "Q8_0"),
    ("gpt-oss:20b", "gpt-oss-20b", "MXFP4_MOE"),
    ("mistral:7b", "mistral-7b-v0.3", "Q4_K_M"),                      # v0.3, not v0.1
    ("mistral:7b-instruct-v0.1-q8_0", "mistral-7b-v0.1", "Q8_0"),
    ("phi4:14b", "phi-4", "Q4_K_M"),
    ("mixtral:8x7b", "mixtral-8x7b", "Q4_0"),                         # the library's older Q4_0
    ("llama3.2:3b", "llama-3.2-3b", "Q4_K_M"),
    ("llama3:8b", "llama-3-8b", "Q4_0"),
    ("gemma2:9b-instruct-fp16", "gemma-2-9b", "fp16"),
    ("llama3.1:70b-instruct-q4_K_M", "llama-3.1-70b", "Q4_K_M"),
    ("llama3.1:70b-text-q4_0", "llama-3.1-70b", "Q4_0"),
    ("phi3:mini", "phi-3-mini", "Q4_0"),
    ("llama4:scout", "llama-4-scout", "Q4_K_M"),
    ("gemma3", "gemma-3-4b", "Q4_K_M"),                               # bare name: latest
    ("qwen2.5-coder:latest", "qwen2.5-coder-7b", "Q4_K_M"),
    ("command-r:35b-v0.1", "command-r", "Q4_K_M"),
])
def test_names_resolve(kb, spec, model_id, precision):
    m, p = resolve_model(kb, spec)
    assert (m.id, p) == (model_id, precision)
    assert kb.model(spec).id == model_id  # gpus and generate take the name too


def test_default_quant_is_q4_k_m():
    assert DEFAULT_QUANT == "Q4_K_M"


def test_kb_names_stay_kb_names(kb):
    """A KB id, name or alias without a tag is not read as an Ollama name."""
    assert resolve_model(kb, "Mixtral") == (kb.model("mixtral-8x7b"), None)
    assert resolve_model(kb, "llama-3.1-70b")[1] is None


@pytest.mark.parametrize("spec", [
    "mistral:7b-instruct-v0.2",   # v0.2 is not in the KB: never guessed as v0.3
    "command-r:35b",              # the 08-2024 release, not c4ai-command-r-v01
    "llama3.1:13b",
    "nosuchmodel:7b",
    "gemma3:27b-it-qat",          # QAT is its own checkpoint
])
def test_unknown_tags_are_not_guessed(kb, spec):
    assert kb.ollama(spec) is None


# -- the CLI ---------------------------------------------------------------------------------------

def test_explain_json_model_and_precision():
    r = run("explain", "qwen2.5:32b-instruct-q4_K_M", "rtx-4090", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["model"]["id"] == "qwen2.5-32b"
    assert d["workload"]["precision"] == "Q4_K_M"
    assert d["workload"]["runtime"] == "ollama"  # an Ollama name is answered as Ollama runs it
    assert "Ollama tag" in d["workload"]["precision_source"]


def test_explain_markdown_says_the_precision_came_from_the_tag():
    r = run("explain", "qwen3:30b", "rtx-4090")
    assert r.exit_code == 0, r.output
    assert "At Q4_K_M (the quantization of Ollama's qwen3:30b tag)" in r.output
    assert "checkpoint as published" not in r.output.split("\n\n")[1]


def test_explicit_precision_wins():
    r = run("explain", "llama3.1:70b", "a100-80gb", "--precision", "q8_0", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["model"]["id"], d["workload"]["precision"]) == ("llama-3.1-70b", "Q8_0")
    assert "precision_source" not in d["workload"]


def test_unknown_tag_exits_2_with_one_line_and_closest_ids():
    r = run("explain", "mistral:7b-instruct-v0.2", "rtx-4090")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "unknown model 'mistral:7b-instruct-v0.2'; closest known:" in lines[0]
    assert "mistral-7b-v0.3" in lines[0]
    assert "Traceback" not in r.output


def test_unknown_quant_exits_2_with_one_line():
    r = run("explain", "llama3.1:8b-q9_K", "rtx-4090")
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1 and "unknown quantization 'q9_K'" in r.output


def test_gpus_takes_an_ollama_name_at_its_tag_precision():
    r = run("gpus", "mixtral:8x7b", "--format", "json", "--max-gpus", "1")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert (d["model"], d["precision"]) == ("mixtral-8x7b", "Q4_0")


# -- an Ollama name on a set of unequal cards (issue 14) --------------------------------------------

@pytest.mark.parametrize("spec, cards", [("llama3.1:70b", "rtx-3090,rtx-3060-12gb"),
                                         ("qwen2.5:32b", "rtx-3090,2xrtx-3060-12gb"),
                                         ("llama3.1:8b", "rtx-3090,rtx-3060-12gb")])
def test_an_ollama_name_on_unequal_cards_stays_ollama(spec, cards):
    """An Ollama name on unequal cards was answered as llama.cpp (`llama-server ... -ts`):
    sizing, speed and command of another runtime. Ollama runs llama-server on all the cards with
    no -ts, which splits the layers by free memory as llama.cpp's default does, so the question
    and every plan on the cards stay Ollama's: its default context for the set's summed memory,
    its automatic batch, `ollama run`, no -ts; and the advisory says Ollama has no setting for
    the split."""
    r = run("explain", spec, cards, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["workload"]["runtime"] == "ollama"
    on_cards = [p for p in doc["plans"] if p["path"] in ("as-asked", "your-gpus")]
    assert on_cards
    for p in doc["plans"]:
        assert p["runtime"] == "ollama", p
        if p.get("command"):
            assert p["command"].startswith("ollama run ") and "-ts" not in p["command"], p
    md = run("explain", spec, cards).output
    assert "llama-server -" not in md and "Ollama passes no `-ts`" in md
    assert "--runtime ollama" not in md  # nothing suggests leaving Ollama for the split


def test_ollama_on_unequal_cards_sums_their_memory_for_its_default_context():
    """Ollama's default num_ctx is by the set's total VRAM: 24 + 12 GiB is 36 GiB, the 32,768
    tier (not 2 x 24 = 48 GiB, the 262,144 one, capped at the model's 131,072)."""
    doc = json.loads(run("explain", "llama3.1:8b", "rtx-3090,rtx-3060-12gb", "--format", "json").output)
    assert doc["workload"]["context_tokens"] == 32768
    md = run("explain", "llama3.1:8b", "rtx-3090,rtx-3060-12gb").output
    assert "Ollama's default for 36 GiB of VRAM" in md


def test_runtime_ollama_on_unequal_cards_and_what_ollama_cannot_take():
    """--runtime ollama on unequal cards is answered (it was refused: "sized for llama.cpp's
    layer split"); a -ts, which Ollama has no setting for, is refused in one line saying so."""
    from tests.cli_helpers import one_line_error

    r = run("explain", "llama-3.1-8b", "rtx-3090,rtx-3060-12gb", "--runtime", "ollama",
            "--precision", "Q4_K_M", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["workload"]["runtime"] == "ollama"
    one_line_error(run("explain", "llama3.1:70b", "rtx-3090,rtx-3060-12gb", "--tensor-split", "2,1"),
                   "takes no -ts")
