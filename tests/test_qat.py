"""Google's quantization-aware-trained Gemma 3 GGUFs (precision qat-q4_0): sized as the files are
(every matrix Q4_0, token embeddings F16), loaded only from Google's repos, a plain Q4_0 never
taken from them, and refused for a model with no such file.

File sizes: the cards of stduhpf's requantized copies, which list Google's files beside their
own (https://huggingface.co/stduhpf/google-gemma-3-12b-it-qat-q4_0-gguf-small: "QAT Q4_0
(google) 8.07 GB", bartowski's Q4_0 6.91 GB; the 4B card: 3.16 GB; the 27B card: 17.2 GB)."""
import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.plans.publishers import gguf_repo_for
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import weights_bytes

QAT, Q4_0 = parse_precision("qat-q4_0"), parse_precision("Q4_0")


@pytest.mark.parametrize("model,published_gb", [("gemma-3-4b", 3.16), ("gemma-3-12b", 8.07),
                                                ("gemma-3-27b", 17.2)])
def test_qat_files_are_sized_as_google_publishes_them(kb, model, published_gb):
    a = kb.model(model).architecture
    assert weights_bytes(a, QAT) / 1e9 == pytest.approx(published_gb, rel=0.01)
    # the F16 embedding table is the difference from a post-training Q4_0
    assert weights_bytes(a, QAT) - weights_bytes(a, Q4_0) > 0.1 * weights_bytes(a, Q4_0)


def test_spellings():
    assert parse_precision("qat").name == parse_precision("Q4_0-QAT").name == "qat-q4_0"


def test_q4_0_is_not_taken_from_a_qat_repo(kb):
    m = kb.model("gemma-3-12b")
    assert gguf_repo_for(m, QAT) == "google/gemma-3-12b-it-qat-q4_0-gguf"
    plain = gguf_repo_for(m, Q4_0)
    assert plain is not None and "qat" not in plain.lower()
    assert gguf_repo_for(kb.model("llama-3.1-8b"), QAT) is None


def test_asked_qat_runs_googles_file_with_an_estimated_quality(advisor):
    adv = advisor.explain("gemma-3-12b", "rtx-3060-12gb", "qat")
    assert adv.verdict == "fits"
    assert adv.plan.command.startswith("llama-server -hf google/gemma-3-12b-it-qat-q4_0-gguf:Q4_0 ")
    j = adv.to_json()
    assert j["memory"]["weights_bytes"] == weights_bytes(adv.situation.model.architecture, QAT)
    q4 = advisor.explain("gemma-3-12b", "rtx-3060-12gb", "Q4_0")
    assert "qat" not in q4.plan.command.lower()
    # an estimate below the Q4_0 figure it is derived from, and said to be one
    assert 0 < adv.plan.quality_loss_pct < q4.plan.quality_loss_pct
    assert "54% less perplexity lost" in adv.plan.quality.text and adv.plan.quality.estimated
    assert adv.plan.quality.source.startswith("https://developers.googleblog.com/")


def test_qat_refused_for_a_model_without_a_qat_file():
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "-p", "qat"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "quantization-aware-trained" in r.output and "Llama 3.1 8B" in r.output


def test_planner_offers_qat_only_where_it_is_published(advisor):
    gemma = advisor.explain("gemma-3-27b", "rtx-4080")
    assert any(p.precision.name == "qat-q4_0" for p in gemma.path_plans) or \
        gemma.plan.precision.name == "qat-q4_0"
    llama = advisor.explain("llama-3.1-70b", "rtx-4090")
    assert all(p.precision.name != "qat-q4_0" for p in llama.path_plans)


def test_gated_repos_say_what_the_download_needs(advisor):
    """Google's Gemma repos and meta-llama's are gated on Hugging Face: a command that downloads
    one says to accept the licence and authenticate (Ollama: its key on the user's account);
    a community repo of the same weights (bartowski's) needs nothing."""
    from advisor.plans.commands import gated_repo_note

    qat = advisor.explain("gemma-3-12b", "rtx-3060-12gb", "qat").plan
    assert any(n.startswith("google/gemma-3-12b-it-qat-q4_0-gguf is gated") and "HF_TOKEN" in n
               for n in qat.notes)
    assert gated_repo_note("ollama run hf.co/google/gemma-3-4b-it-qat-q4_0-gguf:Q4_0", "ollama") \
        .count("Ollama public key") == 1
    assert "hf auth login" in gated_repo_note("vllm serve meta-llama/Llama-3.1-8B-Instruct", "vllm")
    assert gated_repo_note("llama-server -hf bartowski/google_gemma-3-27b-it-GGUF:Q6_K", "llama.cpp") is None
    assert gated_repo_note(None, "vllm") is None
