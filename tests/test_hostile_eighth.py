"""Hostile-input findings, eighth round (issue 14; the findings in full: /work/notes/hostile8.md):
what landed with plan-better-than-asked (--kv-cache without a CLI default, the objective's
beats_asked_speedup and defaulted_context_tokens), GPU sets and Ollama names. Each test is one
kind of fault the pass found, checked through the command line."""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error

REPO = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


# -- a GPU name or alias that looks like a set -------------------------------------------------

def test_every_builtin_gpu_name_and_alias_is_a_gpu_argument():
    """AMD's aliases `7900 XTX`, `9070 XT` (and three more) begin with digits and an x, so
    explain read them as 7,900 cards ("a count must be from 1 to 512, not 7900") and fit as a
    set; `NVIDIA DGX Spark (GB10, 128 GB)` holds a comma ("unknown gpu 'NVIDIA DGX Spark
    (GB10'"). A KB key as written is one card; counts and sets of them still read."""
    for key, gid in (("7900 XTX", "rx-7900-xtx"), ("9070 XT", "rx-9070-xt"),
                     ("NVIDIA DGX Spark (GB10, 128 GB)", "dgx-spark")):
        r = run("explain", "llama-3.1-8b", key, "--format", "json")
        assert r.exit_code == 0, r.output
        d = json.loads(r.output)
        assert d["gpu"]["id"] == gid and d["gpu"]["count"] == 1
    # fit took it for a set ("fit takes one kind of GPU, not the set '7900 XTX'")
    r = run("fit", "7900 XTX", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["gpu"] == "rx-7900-xtx", r.output
    d = json.loads(run("explain", "llama-3.1-8b", "2x 7900 XTX", "--format", "json").output)
    assert d["gpu"]["id"] == "rx-7900-xtx" and d["gpu"]["count"] == 2
    d = json.loads(run("explain", "llama-3.1-8b", "7900 XTX,7900 XTX", "--format", "json").output)
    assert d["gpu"]["count"] == 2
    one_line_error(run("explain", "llama-3.1-8b", "600x rtx-3090"), "a count must be from 1 to")
    # a name typed without its space is no count of 7,900 cards of "TX": an unknown GPU, named
    one_line_error(run("explain", "llama-3.1-8b", "7900XTX"), "unknown gpu '7900XTX'",
                   "rx-7900-xtx")


def test_generate_takes_a_gpu_name_that_holds_a_comma(tmp_path):
    """generate -g 'NVIDIA DGX Spark (GB10, 128 GB)' split the name at its comma ("unknown gpu
    'NVIDIA DGX Spark (GB10'"); a value that is a KB name as written is one item."""
    r = run("generate", "--out", str(tmp_path / "site"), "-m", "llama-3.1-8b", "-g",
            "NVIDIA DGX Spark (GB10, 128 GB)", "-p", "Q4_K_M")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "site" / "llama-3.1-8b" / "dgx-spark__q4-k-m.md").is_file()
    one_line_error(run("generate", "--out", str(tmp_path / "b"), "-m", "llama-3.1-8b", "-g",
                       "rtx-3090,NVIDIA DGX Spark (GB10", "-p", "Q4_K_M"), "unknown gpu")


def test_a_user_gpu_named_like_a_count_of_cards_is_refused(tmp_path):
    """A user GPU entry with id `2x-h100` (or an alias `8x H100`) was answered as 2 (8) of the
    built-in H100: the GPU argument read a count and looked up '-h100'. Such a key names one card
    and several at once: the KB refuses it at its line."""
    entry = yaml.safe_load((REPO / "kb" / "gpus" / "h100-80gb.yaml").read_text())
    entry.update(id="2x-h100", name="My Odd Card", aliases=["My Card"])
    (tmp_path / "gpus").mkdir()
    (tmp_path / "gpus" / "2x-h100.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    r = run("explain", "llama-3.1-8b", "2x-h100", "--kb", str(tmp_path))
    one_line_error(r, "reads as a count of cards")
    entry.update(id="odd-card", aliases=["8x H100"])
    (tmp_path / "gpus" / "2x-h100.yaml").unlink()
    (tmp_path / "gpus" / "odd-card.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    r = run("kb", "validate", str(tmp_path))
    assert r.exit_code == 2 and "odd-card.yaml" in r.output and "'8x H100' reads as a count" in r.output


# -- a runtime's own spelling of its KV cache type ---------------------------------------------

def test_llamacpp_and_ollama_spellings_of_the_kv_cache_are_taken():
    """`--kv-cache f16` (llama.cpp's -ctk f16, Ollama's OLLAMA_KV_CACHE_TYPE=f16) was refused
    with "llama.cpp has no f16 KV cache", false of llama.cpp, and under Ollama as an "unknown KV
    cache precision". f16 and f32 are fp16 and fp32, and a given one is a choice kept."""
    for args in (("llama-3.1-8b", "rtx-4090"), ("qwen2.5:32b", "rtx-3090")):
        d = json.loads(run("explain", *args, "--kv-cache", "f16", "--format", "json").output)
        assert d["workload"]["kv_cache_dtype"] == "fp16"
        assert all(p["kv_cache_dtype"] == "fp16" for p in d["plans"]
                   if p["rule"] == "plan-better-than-asked")
    d = json.loads(run("explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", "F32", "--format",
                       "json").output)
    assert d["workload"]["kv_cache_dtype"] == "fp32"
    one_line_error(run("explain", "qwen2.5:32b", "rtx-3090", "--kv-cache", "f32"),
                   "ollama has no fp32 KV cache")


# -- names and paths in plan notes ---------------------------------------------------------------

def test_plan_notes_print_names_and_paths_as_markdown_text(tmp_path, monkeypatch):
    """Plan notes put names into markdown raw: the -ts device-order note of a GPU set listed a
    KB card named `Odd <b>y</b> [l](javascript:z)` as it is; under Ollama, "no Ollama tag or
    published GGUF of NAME" printed a config folder's name as it is, and the Modelfile note put
    the user's GGUF path in a code span that a backtick in the path ended (`FROM ev`il
    <img src=x>.gguf`): the rest was raw HTML."""
    import re as _re

    from tests.file_helpers import config_folder, llama_gguf

    raw = _re.compile(r"(?<!\\)<(b|img)\b|(?<!\\)\]\(javascript")
    entry = yaml.safe_load((REPO / "kb" / "gpus" / "rtx-3090.yaml").read_text())
    entry.update(id="odd", name="Odd <b>y</b> [l](javascript:z)", aliases=[])
    (tmp_path / "kb" / "gpus").mkdir(parents=True)
    (tmp_path / "kb" / "gpus" / "odd.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    # (a KB id: an Ollama name on a set is answered as Ollama, which takes no -ts)
    r = run("explain", "qwen2.5-32b", "rtx-3090,odd", "-p", "Q4_K_M", "--kb", str(tmp_path / "kb"))
    assert r.exit_code == 0 and "-ts lists the cards in device order" in r.output, r.output
    assert not raw.search(r.output), raw.search(r.output)

    monkeypatch.chdir(tmp_path)
    config_folder(tmp_path / "Evil <img src=x> [a](javascript:x)")
    r = run("explain", "./Evil <img src=x> [a](javascript:x)", "rtx-3090", "--runtime", "ollama")
    # no tag or published GGUF: the plan makes the file and imports it (its name sanitised)
    assert r.exit_code == 0 and "imported with `ollama create" in r.output, r.output
    assert not raw.search(r.output), raw.search(r.output)

    llama_gguf(tmp_path / "ev`il <img src=x>.gguf")
    r = run("explain", "./ev`il <img src=x>.gguf", "rtx-3090", "--runtime", "ollama")
    assert r.exit_code == 0 and "a Modelfile reading" in r.output, r.output
    assert not raw.search(r.output), raw.search(r.output)
    llama_gguf(tmp_path / "plain.gguf")  # a path without a backtick keeps its code span
    assert "`FROM plain.gguf`" in run("explain", "./plain.gguf", "rtx-3090", "--runtime",
                                      "ollama").output


# -- where a model file's context limit comes from ---------------------------------------------

def test_a_gguf_files_context_limit_is_named_as_its_headers(tmp_path):
    """`explain ./m.gguf GPU -c 600` on a GGUF trained to 512 tokens said the limit was
    "max_position_embeddings in its config": a GGUF file has no config; its header's
    context_length sets the limit."""
    from tests.file_helpers import config_folder, llama_gguf

    llama_gguf(tmp_path / "m.gguf", context=512)
    r = run("explain", str(tmp_path / "m.gguf"), "rtx-3090", "-c", "600")
    one_line_error(r, "maximum of 512 tokens", "context_length in its GGUF header")
    config_folder(tmp_path / "cfg", max_position_embeddings=512)
    one_line_error(run("explain", str(tmp_path / "cfg"), "rtx-3090", "-c", "600"),
                   "max_position_embeddings in its config")
