"""Two choices that cannot both hold: what the plan keeps of each (expert review 3, fault 8 and
n55/m11). A format the runtime asked cannot run is replaced by that runtime's format of the same
bits class; a --flash-attn setting (llama.cpp's switch) is kept by llama.cpp plans rather than
sidestepped by a plan under another runtime."""
import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.sizing.precision import parse_precision


def _plan(*args):
    r = CliRunner().invoke(main, ["explain", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("model,gpu,asked", [
    ("llama-3.1-8b", "rtx-4090", "Q4_K_M"),
    ("llama-3.1-70b", "h100-80gb", "Q8_0"),
    ("qwen2.5-7b", "rtx-4090", "Q5_K_M"),
])
def test_a_gguf_type_under_vllm_becomes_vllm_format_of_its_bits(model, gpu, asked):
    j = _plan(model, gpu, "-p", asked, "--runtime", "vllm")
    assert j["cannot_run"]  # the question as asked is refused, with its reason
    plan = j["plan"]
    assert plan["runtime"] == "vllm"  # the runtime asked is kept ...
    want = parse_precision(asked).quality_rank
    got = parse_precision(plan["precision"]).quality_rank
    # ... and the format is the nearest vLLM format in bits, not the 16-bit checkpoint
    assert abs(got - want) <= 1 and plan["precision"] not in ("bf16", "fp16"), plan["precision"]


def test_the_gguf_refusal_does_not_call_a_single_file_split():
    j = _plan("llama-3.1-8b", "rtx-4090", "-p", "Q4_K_M", "--runtime", "vllm")
    assert "single-file only" not in j["cannot_run"]
    assert "experimental" in j["cannot_run"]


@pytest.mark.parametrize("model,gpu", [("qwen2.5-32b", "rtx-4090"), ("llama-3.1-8b", "rtx-4090")])
def test_flash_attention_off_is_kept_by_a_llama_cpp_plan(model, gpu):
    j = _plan(model, gpu, "--flash-attn", "off")
    plan = j["plan"]
    assert plan["runtime"] in ("llama.cpp", "ollama"), plan["runtime"]
    assert plan["flash_attn"] is False


def test_flash_attention_not_asked_stays_on():
    plan = _plan("qwen2.5-32b", "rtx-4090")["plan"]
    assert plan["runtime"] != "llama.cpp" or plan["flash_attn"] is True
