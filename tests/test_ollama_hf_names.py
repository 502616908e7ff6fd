"""Ollama's Hugging Face names (`hf.co/ORG/REPO[:QUANT]`, `huggingface.co/...`) resolve to the KB
model whose gguf_repos lists ORG/REPO, at the quantization of the tag (Hugging Face's Q4_K_M
without one), and are answered as Ollama runs them (advisor/kb/ollama_hf.py)."""
import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.files import resolve_model
from advisor.kb.ollama_hf import HF_DEFAULT_QUANT, parse_hf_name, resolve_hf_ollama, tag_file_type
from advisor.plans.publishers import repo_types
from advisor.sizing.precision import parse_precision
from tests.cli_helpers import one_line_error

QWEN = "bartowski/Qwen2.5-32B-Instruct-GGUF"


def run(*args):
    return CliRunner().invoke(main, list(args))


# -- the parser ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, repo, tag, run_name", [
    (f"hf.co/{QWEN}:Q4_K_M", QWEN, "Q4_K_M", f"hf.co/{QWEN}:Q4_K_M"),
    (f"huggingface.co/{QWEN}:q8_0", QWEN, "q8_0", f"huggingface.co/{QWEN}:q8_0"),
    (f"hf.co/{QWEN}", QWEN, None, f"hf.co/{QWEN}"),
    (f"hf.co/{QWEN}:latest", QWEN, None, f"hf.co/{QWEN}:latest"),  # Ollama's default tag
    (f"  HF.co/{QWEN}:IQ4_XS ", QWEN, "IQ4_XS", f"hf.co/{QWEN}:IQ4_XS"),
    (f"https://huggingface.co/{QWEN}", QWEN, None, f"huggingface.co/{QWEN}"),
    ("hf.co/unsloth/Qwen3-8B-GGUF:Qwen3-8B-BF16.gguf", "unsloth/Qwen3-8B-GGUF",
     "Qwen3-8B-BF16.gguf", "hf.co/unsloth/Qwen3-8B-GGUF:Qwen3-8B-BF16.gguf"),
])
def test_parse(spec, repo, tag, run_name):
    n = parse_hf_name(spec)
    assert (n.repo, n.tag, n.run_name) == (repo, tag, run_name)


@pytest.mark.parametrize("spec", [f"{QWEN}:Q4_K_M", "qwen2.5:32b", "hf.com/a/b", "hf.co", "",
                                  "./hf.co/a/b", "registry.ollama.ai/library/qwen2.5:32b"])
def test_not_hf_names(spec):
    assert parse_hf_name(spec) is None


@pytest.mark.parametrize("spec", ["hf.co/bartowski", "hf.co/a/b/c", "hf.co/", "hf.co/a/b:",
                                  "hf.co/a--b/c", "hf.co/a/b:q4 k", "huggingface.co/-a/b"])
def test_malformed_hf_names_are_errors(spec):
    with pytest.raises(AdvisorError):
        parse_hf_name(spec)


@pytest.mark.parametrize("tag, moe, ftype", [
    ("Q4_K_M", False, "Q4_K_M"), ("q4_k_m", False, "Q4_K_M"), ("iq4_xs", False, "IQ4_XS"),
    ("F16", False, "F16"), ("fp16", False, "F16"), ("bf16", False, "BF16"), ("Q8_0", False, "Q8_0"),
    ("mxfp4", True, "MXFP4_MOE"), ("mxfp4", False, None), ("UD-Q4_K_XL", False, None),
    ("Llama-3.2-3B-Instruct-IQ3_M.gguf", False, "IQ3_M"), ("model.Q5_K_S.gguf", False, "Q5_K_S"),
    ("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", False, "Q4_K_M"), ("readme.gguf", False, None),
])
def test_tag_file_types(tag, moe, ftype):
    assert tag_file_type(tag, moe) == ftype


# -- resolution through the KB ---------------------------------------------------------------------

def test_every_gguf_repo_resolves_to_its_model_at_each_listed_type(kb):
    """Every repo a KB model lists, at every type gguf_publishers.yaml lists it with, spelled in
    lower case too, resolves to that model at that type."""
    seen = 0
    for m in kb.all_models():
        for repo in m.gguf_repos:
            for t in repo_types(repo):
                for spec in (f"hf.co/{repo}:{t}", f"huggingface.co/{repo.lower()}:{t.lower()}"):
                    hit = kb.ollama(spec)
                    assert (hit.model.id, hit.precision, hit.gguf_repo) == (
                        m.id, parse_precision(t).name, repo), spec
                    assert hit.quant_in_tag
                    seen += 1
    assert seen > 1000


def test_default_tag_is_q4_k_m(kb):
    assert HF_DEFAULT_QUANT == "Q4_K_M"
    for spec in (f"hf.co/{QWEN}", f"hf.co/{QWEN}:latest", f"huggingface.co/{QWEN}"):
        hit = kb.ollama(spec)
        assert (hit.model.id, hit.precision, hit.quant_in_tag) == ("qwen2.5-32b", "Q4_K_M", False)
        assert "names no quantization" in hit.precision_source
    # a repo whose types are not recorded (Qwen's own 32B GGUF repo) takes the default too
    assert kb.ollama("hf.co/Qwen/Qwen2.5-32B-Instruct-GGUF").precision == "Q4_K_M"
    assert resolve_model(kb, f"hf.co/{QWEN}") == (kb.model("qwen2.5-32b"), "Q4_K_M")
    assert kb.model(f"hf.co/{QWEN}:Q8_0").id == "qwen2.5-32b"  # gpus and generate take it too


def test_a_one_file_repo_without_a_tag_is_its_one_file(kb):
    hit = kb.ollama("hf.co/ggml-org/gpt-oss-20b-GGUF")
    assert (hit.model.id, hit.precision) == ("gpt-oss-20b", "MXFP4_MOE")


def test_the_tag_of_an_unrecorded_repo_is_taken_as_written(kb):
    hit = kb.ollama("hf.co/Qwen/Qwen2.5-32B-Instruct-GGUF:q5_0")
    assert (hit.model.id, hit.precision, hit.gguf_repo) == ("qwen2.5-32b", "Q5_0",
                                                            "Qwen/Qwen2.5-32B-Instruct-GGUF")


def test_a_file_name_tag(kb):
    hit = kb.ollama("hf.co/unsloth/Qwen3-8B-GGUF:Qwen3-8B-BF16.gguf")
    assert (hit.model.id, hit.precision) == ("qwen3-8b", "bf16")


@pytest.mark.parametrize("spec, words", [
    (f"hf.co/{QWEN}:Q5_0", ["ships no Q5_0", "Q4_K_M", "IQ2_M"]),     # not bartowski's ladder
    (f"hf.co/{QWEN}:UD-Q4_K_XL", ["'UD-Q4_K_XL' is no llama.cpp quantization"]),
    ("hf.co/bartowski/Qwen2.5-33B-Instruct-GGUF:Q4_K_M",
     ["no KB model lists bartowski/Qwen2.5-33B-Instruct-GGUF", "closest known:", QWEN]),
    ("hf.co/Qwen/Qwen2.5-32B-Instruct", ["checkpoint, not a GGUF repo",
                                         "Qwen/Qwen2.5-32B-Instruct-GGUF"]),
    ("hf.co/Qwen/Qwen2-7B-Instruct-GGUF", ["has no Q4_K_M file", "give a tag", "Q8_0"]),
    ("hf.co/mradermacher/DeepSeek-V2-Chat-GGUF:Q4_K_M", ["no file of", "pulled whole"]),
    ("hf.co/bartowski", ["hf.co/ORG/REPO[:QUANT]"]),
])
def test_refusals(kb, spec, words):
    with pytest.raises(AdvisorError) as exc:
        kb.ollama(spec)
    for w in words:
        assert w in str(exc.value), str(exc.value)
    r = run("explain", spec, "rtx-3090")
    one_line_error(r, *words)


def test_library_names_are_untouched(kb):
    assert resolve_hf_ollama(kb.all_models(), "qwen2.5:32b") is None
    assert kb.ollama("qwen2.5:32b").gguf_repo is None


# -- the advisory ----------------------------------------------------------------------------------

def _json(*args):
    r = run("explain", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _asked(d):
    return next(p for p in d["plans"] if p["path"] == "as-asked")


def test_answered_under_ollama_with_the_name_as_command():
    d = _json(f"hf.co/{QWEN}:Q4_K_M", "rtx-3090")
    w = d["workload"]
    assert (d["model"]["id"], w["precision"], w["runtime"]) == ("qwen2.5-32b", "Q4_K_M", "ollama")
    assert w["precision_source"] == f"the quantization in the Ollama tag hf.co/{QWEN}:Q4_K_M"
    assert _asked(d)["command"] == f"ollama run hf.co/{QWEN}:Q4_K_M"
    # every Ollama plan at the tag's precision runs the name asked
    for p in d["plans"]:
        if p["runtime"] == "ollama" and p["precision"] == "Q4_K_M" and p["model_id"] == "qwen2.5-32b":
            assert p["command"] == f"ollama run hf.co/{QWEN}:Q4_K_M", p


def test_without_a_tag_the_name_is_run_as_given():
    d = _json(f"huggingface.co/{QWEN}", "rtx-3090")
    assert d["workload"]["precision"] == "Q4_K_M"
    assert _asked(d)["command"] == f"ollama run huggingface.co/{QWEN}"


def test_a_scheme_and_host_case_are_dropped_from_the_command():
    d = _json(f"https://HF.co/{QWEN}:q8_0", "rtx-4090")
    assert d["workload"]["precision"] == "Q8_0"
    assert _asked(d)["command"] == f"ollama run hf.co/{QWEN}:q8_0"


def test_markdown_names_the_tag_and_the_command():
    r = run("explain", f"hf.co/{QWEN}:Q4_K_M", "rtx-3090")
    assert r.exit_code == 0, r.output
    assert f"At Q4_K_M (the quantization in the Ollama tag hf.co/{QWEN}:Q4_K_M) with Ollama" in r.output
    assert f"\nollama run hf.co/{QWEN}:Q4_K_M\n" in r.output


def test_runtime_llama_cpp_downloads_from_the_repo_named():
    # unsloth's repo is the second of the model's gguf_repos: llama.cpp takes the one named
    d = _json("hf.co/unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF:Q4_K_M", "rtx-4090",
              "--runtime", "llama.cpp")
    assert (d["workload"]["runtime"], d["workload"]["precision"]) == ("llama.cpp", "Q4_K_M")
    assert _asked(d)["command"].startswith(
        "llama-server -hf unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF:Q4_K_M ")


def test_the_tag_is_a_choice_and_no_tag_is_not(advisor, monkeypatch):
    """A tag that names its quantization is kept by the plans a question prefers over itself
    (Ask.chosen has "precision"); Hugging Face's default file is a default the planner may move."""
    seen = []
    plans = advisor.planner.plans
    monkeypatch.setattr(advisor.planner, "plans", lambda ask, **kw: seen.append(ask) or plans(ask, **kw))
    advisor.explain(f"hf.co/{QWEN}:Q4_K_M", "rtx-3090")
    advisor.explain(f"hf.co/{QWEN}", "rtx-3090")
    assert ["precision" in a.chosen for a in seen] == [True, False]
    assert seen[0].ollama_name == f"hf.co/{QWEN}:Q4_K_M" and seen[0].gguf_repo == QWEN


def test_another_name_on_the_same_advisor_gets_its_own_command(advisor):
    """The planner's memos are keyed by the Ollama name asked: a library name first, then the
    hf.co name of the same file, print each its own command."""
    a = advisor.explain("qwen2.5:32b", "rtx-3090")
    b = advisor.explain(f"hf.co/{QWEN}:Q4_K_M", "rtx-3090")
    c = advisor.explain("qwen2.5:32b-instruct-q4_K_M", "rtx-3090")
    asked = [next(p for p in x.path_plans if p.path == "as-asked").command for x in (a, b, c)]
    assert asked == ["ollama run qwen2.5:32b", f"ollama run hf.co/{QWEN}:Q4_K_M",
                     "ollama run qwen2.5:32b-instruct-q4_K_M"]


def test_byte_identical_twice():
    args = ("explain", f"hf.co/{QWEN}", "rtx-3090")
    a, b = run(*args), run(*args)
    assert a.exit_code == 0 and a.output == b.output
    a, b = run(*args, "--format", "json"), run(*args, "--format", "json")
    assert a.output == b.output


def test_printed_commands_parse():
    from advisor.plans.flags import check_command

    d = _json(f"HF.co/{QWEN}:IQ4_XS", "rtx-3090")
    for p in d["plans"]:
        if p.get("command"):
            assert not check_command(p["command"]).problems, p["command"]
