"""The thirteenth hostile tester's format faults, one kind each (tests fail before the fix, pass
after):

1. a quantized format asked where the model has no checkpoint of it (AWQ, MXFP4, NF4 under vLLM
   ...): "fits" at the quantized size and a command that loads the 16-bit repo;
2. a compressed-tensors config.json read as FP8 whatever its weight groups (W4A16, W8A8, NVFP4);
3. Gemma 2/3 under vLLM on a card without bf16 sized at 2 bytes a weight, where vLLM loads them
   in float32;
4. vLLM-only options given without --runtime silently dropped;
5. a tiny SGLang/vLLM memory fraction blamed on the runtime's buffers, and a rented cluster
   offered for an 8B model.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.files.hf import checkpoint_precision
from advisor.errors import AdvisorError
from tests.cli_helpers import one_line_error
from tests.file_helpers import LLAMA_CONFIG, config_folder


def explain(*args):
    return CliRunner().invoke(main, ["explain", *map(str, args)])


def explain_json(*args) -> dict:
    r = explain(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


# --- 2. compressed-tensors weight groups ------------------------------------------------------

def _ct(weights: dict, activations=None) -> dict:
    return {"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized",
                                    "config_groups": {"group_0": {
                                        "targets": ["Linear"], "weights": weights,
                                        "input_activations": activations}},
                                    "ignore": ["lm_head"]}}


W4A16 = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 128}
FP8 = {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "channel"}


def test_compressed_tensors_w4a16_is_int4():
    assert checkpoint_precision(_ct(W4A16)) == "int4"
    assert checkpoint_precision(_ct(FP8, {"num_bits": 8, "type": "float", "dynamic": True})) == "fp8"


@pytest.mark.parametrize("cfg, word", [
    (_ct({"num_bits": 8, "type": "int", "strategy": "channel"},
         {"num_bits": 8, "type": "int", "dynamic": True}), "INT8"),          # W8A8
    (_ct({"num_bits": 8, "type": "int", "strategy": "group", "group_size": 128}), "INT8"),  # W8A16
    (_ct({"num_bits": 4, "type": "float", "group_size": 16}), "NVFP4"),
    (_ct({"num_bits": 2, "type": "int", "group_size": 128}), "2-bit"),
    ({"quantization_config": {"quant_method": "compressed-tensors", "config_groups": {}}}, "config_groups"),
], ids=["w8a8", "w8a16", "nvfp4", "2-bit", "no-groups"])
def test_compressed_tensors_other_schemes_refused(cfg, word):
    with pytest.raises(AdvisorError, match=word):
        checkpoint_precision(cfg)


def test_w4a16_folder_on_t4_runs_at_4_bits(tmp_path):
    """The tool's own recommendation for a T4 (a -quantized.w4a16 repo), downloaded and asked
    about, was "cannot-run: no FP8 tensor math" and sized at 9 GB of FP8."""
    folder = config_folder(tmp_path / "w4", json.dumps({**LLAMA_CONFIG, **_ct(W4A16)}))
    d = explain_json(folder, "t4")
    assert d["workload"]["precision"] == "int4", d["workload"]
    assert d["verdict"] != "cannot-run"


def test_nvfp4_folder_is_one_line(tmp_path):
    folder = config_folder(tmp_path / "f4", json.dumps(
        {**LLAMA_CONFIG, **_ct({"num_bits": 4, "type": "float", "group_size": 16})}))
    one_line_error(explain(folder, "rtx-4090"), "NVFP4")


# --- 1. a checkpoint format the model has none of ---------------------------------------------

def _commands(d: dict) -> list[tuple[str, str, str]]:
    plans = [d["plan"]] + list(d.get("plans") or [])
    return [(p.get("precision"), p.get("runtime"), p.get("command") or "") for p in plans if p]


@pytest.mark.parametrize("args, word", [
    (("gemma-3-27b", "rtx-4090", "--precision", "awq", "--runtime", "vllm"), "llm-compressor"),
    (("qwen3-30b-a3b", "rtx-5090", "--runtime", "vllm", "--precision", "mxfp4"), "No mxfp4"),
    (("mixtral-8x7b", "h100-80gb", "--runtime", "vllm", "--precision", "int4"), "W4A16"),
    (("mixtral-8x7b", "h100-80gb", "--runtime", "vllm", "--precision", "int8"), "No int8"),
    (("mixtral-8x7b", "h100-80gb", "--runtime", "vllm", "--precision", "fp8-ffn"), "No fp8-ffn"),
    (("llama-3.1-70b", "h200", "--gpus", 8, "--runtime", "sglang", "--precision", "int8"), "SGLang"),
    (("mixtral-8x7b", "h100-80gb", "--runtime", "sglang", "--precision", "nf4"), "SGLang"),
    (("llama-3.1-70b", "h200", "--gpus", 8, "--runtime", "transformers", "--precision", "fp8-ffn"),
     "transformers"),
], ids=["awq-vllm", "mxfp4-vllm", "int4-vllm", "int8-vllm", "fp8-ffn-vllm", "int8-sglang",
        "nf4-sglang", "fp8-ffn-transformers"])
def test_no_checkpoint_of_the_format_cannot_run(args, word):
    """The verdict said fits at the quantized size and the command loaded the 16-bit repo."""
    d = explain_json(*args)
    assert d["verdict"] == "cannot-run", d["verdict"]
    assert word in d["cannot_run"], d["cannot_run"]
    asked = args[args.index("--precision") + 1]
    assert d["plan"]["path"] != "as-asked"
    for precision, _, command in _commands(d):
        assert precision != asked, command


def test_no_checkpoint_is_said_in_the_text():
    r = explain("gemma-3-27b", "rtx-4090", "--precision", "awq", "--runtime", "vllm")
    assert r.exit_code == 0, r.output
    assert "Verdict: cannot run" in r.output and "No awq checkpoint of Gemma 3 27B" in r.output
    assert "vllm serve google/gemma-3-27b-it " not in r.output


def test_nf4_under_vllm_quantizes_in_flight():
    """vLLM makes 4-bit bitsandbytes from the 16-bit checkpoint only when told to."""
    d = explain_json("mixtral-8x7b", "h100-80gb", "--runtime", "vllm", "--precision", "nf4")
    assert d["verdict"] != "cannot-run"
    assert "--quantization bitsandbytes" in d["plan"]["command"], d["plan"]["command"]


def test_fp8_under_transformers_quantizes_at_load():
    d = explain_json("qwen3-30b-a3b", "h100-80gb", "--runtime", "transformers", "--precision", "fp8")
    for precision, runtime, command in _commands(d):
        if precision == "fp8" and runtime == "transformers" and "FP8" not in command.split("from_pretrained")[1]:
            assert "FineGrainedFP8Config()" in command, command


def test_published_checkpoint_still_runs():
    d = explain_json("llama-3.1-8b", "rtx-4090", "--runtime", "vllm", "--precision", "int4")
    assert d["verdict"] == "fits"
    assert "quantized.w4a16" in d["plan"]["command"]


# --- 4. vLLM's own options without --runtime ---------------------------------------------------

@pytest.mark.parametrize("flags", [("--gpu-memory-utilization", "0.5"), ("--vllm-version", "0.5")],
                         ids=["utilization", "version"])
def test_vllm_options_without_runtime_select_vllm(flags):
    """They were dropped: the run was byte-identical to the one without them (llama.cpp)."""
    d = explain_json("llama-3.1-8b", "rtx-4090", *flags)
    assert d["workload"]["runtime"] == "vllm"
    assert d["plan"]["runtime"] == "vllm"
    if flags[0] == "--gpu-memory-utilization":
        assert d["workload"]["gpu_memory_utilization"] == 0.5
        assert "--gpu-memory-utilization 0.5" in d["plan"]["command"]
    plain = explain("llama-3.1-8b", "rtx-4090")
    assert explain("llama-3.1-8b", "rtx-4090", *flags).output != plain.output


@pytest.mark.parametrize("flags", [("--gpu-memory-utilization", "0.5"), ("--vllm-version", "0.5"),
                                   ("--data-parallel-size", "1"), ("--enable-expert-parallel",)],
                         ids=["utilization", "version", "dp", "ep"])
def test_vllm_options_on_a_mac_are_one_line(flags):
    one_line_error(explain("llama-3.1-8b", "m2-max-96gb", *flags), flags[0], "vLLM")


def test_vllm_options_with_a_gguf_type_are_one_line():
    one_line_error(explain("llama-3.1-8b", "rtx-4090", "-p", "Q4_K_M", "--gpu-memory-utilization", "0.5"),
                   "--gpu-memory-utilization", "GGUF")


# --- 5. a share too small for the weights ----------------------------------------------------

@pytest.mark.parametrize("flags, word", [
    (("--runtime", "sglang", "--mem-fraction-static", "0.01"), "--mem-fraction-static 0.01"),
    (("--runtime", "vllm", "--gpu-memory-utilization", "0.05"), "--gpu-memory-utilization 0.05"),
], ids=["sglang", "vllm"])
def test_share_below_the_weights_names_the_share(flags, word):
    """It was blamed on "the runtime's buffers", and What to do rented 16 MI300X for an 8B."""
    r = explain("llama-3.1-8b", "rtx-4090", *flags)
    one_line_error(r, word, "raise it")
    assert "Rent" not in r.output


def test_share_that_holds_a_smaller_format_still_plans():
    d = explain_json("llama-3.1-8b", "rtx-4090", "--runtime", "vllm", "--gpu-memory-utilization", "0.5")
    assert "--gpu-memory-utilization 0.5" in d["plan"]["command"]
