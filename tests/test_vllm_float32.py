"""vLLM and the models that refuse float16 (Gemma 2/3, GLM-4: _FLOAT16_NOT_SUPPORTED_MODELS in
vllm/config/model.py) on cards without bfloat16: `--dtype auto` loads them in float32, so their
16-bit checkpoints are sized at 4 bytes a weight, and weight-quantized checkpoints (AWQ, GPTQ,
W4A16), whose kernels take float16 or bfloat16 activations only, cannot run there (hostile
pass 13, fault 3: 'fits, 12.0 GB' beside a note saying vLLM loads Gemma in float32)."""
from click.testing import CliRunner

from advisor.cli import main
from advisor.plans.runtimes import cannot_run, vllm_float32_fallback
from advisor.sizing.precision import parse_precision
from advisor.sizing.weights import weights_bytes

BF16, FP32 = parse_precision("bf16"), parse_precision("fp32")


def test_fallback_only_for_those_models_under_vllm_on_cards_without_bf16(kb):
    gemma, t4 = kb.model("gemma-3-4b"), kb.gpu("t4")
    assert vllm_float32_fallback(gemma, t4, BF16, "vllm") == FP32
    assert vllm_float32_fallback(kb.model("gemma-2-9b"), kb.gpu("v100-sxm2-32gb"), BF16, "vllm") == FP32
    assert vllm_float32_fallback(gemma, kb.gpu("rtx-4090"), BF16, "vllm") is None   # has bf16
    assert vllm_float32_fallback(kb.model("llama-3.1-8b"), t4, BF16, "vllm") is None  # float16 ok
    assert vllm_float32_fallback(gemma, t4, BF16, "llama.cpp") is None
    assert vllm_float32_fallback(gemma, t4, parse_precision("int4"), "vllm") is None


def test_gemma_on_a_t4_is_sized_in_float32_and_says_why(advisor):
    adv = advisor.explain("gemma-3-4b", "t4", runtime="vllm")
    a = adv.situation.model.architecture
    assert adv.situation.precision.name == "fp32"
    assert adv.to_json()["memory"]["weights_bytes"] == weights_bytes(a, FP32)
    assert "float32" in adv.precision_source and "refuses float16" in adv.precision_source
    assert adv.verdict == "does-not-fit"       # 15.5 GB of float32 weights on a 16 GB card
    for p in adv.path_plans:                   # no plan loads it at a width vLLM does not use
        if p.runtime == "vllm" and p.model.id == "gemma-3-4b" and p.gpu.id == "t4":
            assert p.precision.name not in ("bf16", "fp16", "int4", "awq", "gptq")


def test_quantized_gemma_checkpoints_cannot_run_under_vllm_there(kb):
    gemma, t4 = kb.model("gemma-3-12b"), kb.gpu("t4")
    why = cannot_run("vllm", parse_precision("int4"), t4, gemma)
    assert why is not None and "float32" in why and "activations" in why
    assert cannot_run("vllm", parse_precision("int4"), kb.gpu("rtx-4090"), gemma) is None
    r = CliRunner().invoke(main, ["explain", "gemma-3-12b", "t4", "--runtime", "vllm", "-p", "int4",
                                  "--format", "json"])
    assert r.exit_code == 0 and '"verdict": "cannot-run"' in r.output
