"""Hostile-input findings, third round (issue 14): fit, gpus and generate share explain's limits
(F5), a model read from a GGUF file is never run by vLLM or transformers (F6), and scaffolds of
`rules new` stay independent when several share a folder (F9)."""
from __future__ import annotations

import json

import pytest

from advisor.errors import AdvisorError
from advisor.limits import MAX_MICRO_BATCH, check_question
from tests.bulk_helpers import run
from tests.file_helpers import llama_gguf


def _one_line_error(r, *words):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.output.count("advisor: error:") == 1, r.output
    for w in words:
        assert w in r.output, r.output


# -- F5. one validation of a question's numbers -----------------------------------------------

@pytest.mark.parametrize("args, words", [
    (("fit", "rtx-4090", "--gpus", "100000"), ("--gpus must be at most 512",)),
    (("fit", "rtx-4090", "--gpus", "5000"), ("--gpus must be at most 512",)),
    (("fit", "rtx-4090", "-b", "1000000"), ("--batch must be at most 100,000",)),
    (("gpus", "llama-3.1-8b", "-b", "1000000"), ("--batch must be at most 100,000",)),
    (("gpus", "llama-3.1-8b", "--max-gpus", "100000"), ("--max-gpus must be at most 512",)),
    (("fit", "rtx-4090", "--context", "300000000"), ("--context must be at most",)),
    (("fit", "rtx-4090", "--context", "20000000"), ("beyond the maximum of every model",)),
    (("fit", "rtx-4090", "--task", "finetune", "--micro-batch", "100000000000"),
     ("--micro-batch must be at most 4,096",)),
    (("fit", "rtx-4090", "--task", "finetune", "--seq-len", "999999999"), ("--seq-len must be at most",)),
    (("fit", "rtx-4090", "--task", "finetune", "--lora-rank", "99999999"),
     ("--lora-rank must be at most",)),
    (("fit", "rtx-4090", "--task", "finetune", "--sharding", "zero3"), ("--sharding zero3",)),
    (("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", "--micro-batch", "100000000000"),
     ("--micro-batch must be at most 4,096",)),
    (("generate", "--out", "{tmp}", "-m", "llama-3.1-8b", "-g", "rtx-4090", "--gpu-count", "5000"),
     ("--gpu-count must be at most 512",)),
])
def test_fit_gpus_generate_refuse_what_explain_refuses(tmp_path, args, words):
    args = [a.replace("{tmp}", str(tmp_path / "out")) for a in args]
    _one_line_error(run(*args), *words)


def test_one_check_names_the_option_and_its_limit():
    check_question(gpus=512, batch=100_000, context=8192, micro_batch=MAX_MICRO_BATCH)
    with pytest.raises(AdvisorError, match="--max-gpus must be at least 1"):
        check_question(gpus=0, gpus_flag="--max-gpus")
    with pytest.raises(AdvisorError, match="--micro-batch must be at most"):
        check_question(micro_batch=MAX_MICRO_BATCH + 1)


def test_no_model_or_gpu_sentences_name_the_batch():
    r = run("fit", "rtx-4090", "-b", "50000")
    assert r.exit_code == 0 and "a batch of 50,000 sequences" in r.output, r.output
    r = run("gpus", "llama-3.1-405b", "-b", "50000", "--max-gpus", "2")
    assert r.exit_code == 0 and "a batch of 50,000 sequences" in r.output, r.output
    r = run("fit", "rtx-4090", "--task", "finetune", "--micro-batch", "4000")
    assert r.exit_code == 0 and "micro-batch 4,000" in r.output, r.output


# -- F6. a GGUF file is llama.cpp's ------------------------------------------------------------

@pytest.mark.parametrize("runtime, why", [("vllm", "vLLM's GGUF loader"),
                                          ("transformers", "transformers dequantizes GGUF")])
def test_a_float_gguf_file_cannot_run_under_vllm_or_transformers(tmp_path, runtime, why):
    f = llama_gguf(tmp_path / "m.gguf")  # F32 tensors: a float type, in a GGUF container
    r = run("explain", str(f), "rtx-4090", "--runtime", runtime)
    assert r.exit_code == 0, r.output
    assert "**Verdict: cannot run.**" in r.output and why in r.output, r.output
    d = json.loads(run("explain", str(f), "rtx-4090", "--runtime", runtime, "--format", "json").output)
    assert d["verdict"] == "cannot-run" and why in d["cannot_run"]
    # the runtime asked reads no GGUF file, so no plan keeps it: the plan runs the file with
    # llama.cpp on the card asked and says it changed the runtime (hostile pass 14A: only a
    # rented card was offered where the runtime asked had no loader for the file)
    p = d["plan"]
    assert p is not None and p["runtime"] in ("llama.cpp", "ollama") and p["path"] != "rent", p
    assert any(c.startswith("runtime ") and "asked" in c for c in p["changes"]), p["changes"]
    q = json.loads(run("explain", str(f), "rtx-4090", "-p", "Q4_K_M", "--runtime", runtime,
                       "--format", "json").output)
    assert q["cannot_run"] == d["cannot_run"]  # the same reason, whatever the type


def test_a_gguf_file_still_fits_under_llama_cpp(tmp_path):
    f = llama_gguf(tmp_path / "m.gguf")
    d = json.loads(run("explain", str(f), "rtx-4090", "--format", "json").output)
    assert d["verdict"] == "fits" and d["cannot_run"] is None


# -- F9. several scaffolds in one folder -------------------------------------------------------

def test_scaffolds_in_one_folder_pass_check_and_test_together(tmp_path):
    for rid in ("ok-rule", "zz-rule", "aa-rule"):
        assert run("rules", "new", rid, "--dir", str(tmp_path)).exit_code == 0
    r = run("rules", "check", str(tmp_path))
    assert r.exit_code == 0, r.output
    r = run("rules", "test", str(tmp_path))
    assert r.exit_code == 0 and "9 passed, 0 failed" in r.output, r.output
    conditions = {(tmp_path / f"{rid}.yaml").read_text().split("when:")[1]
                  for rid in ("ok-rule", "zz-rule", "aa-rule")}
    assert len(conditions) == 3  # each scaffold's condition is its own
