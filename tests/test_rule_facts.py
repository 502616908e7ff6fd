"""Native formats, the quality measurements plans quote, and the commands plans print."""
from dataclasses import replace

from advisor.plans.commands import llama_server, vllm_serve
from advisor.plans.quality import weight_table
from advisor.kb.formats import NATIVE_BY_ARCHITECTURE, native_formats
from advisor.sizing.precision import parse_precision


def test_native_formats_agree_with_the_architecture_for_every_kb_gpu(kb):
    for g in kb.all_gpus():
        assert g.architecture in NATIVE_BY_ARCHITECTURE, f"{g.id}: add {g.architecture!r} to the table"
        assert set(native_formats(g)) == set(NATIVE_BY_ARCHITECTURE[g.architecture]), g.id
        assert ("fp8" in native_formats(g)) == g.native_fp8, g.id


def test_a_gpu_without_throughput_fields_falls_back_to_its_architecture(kb):
    v100ish = replace(kb.gpu("a100-40gb"), architecture="volta", fp16_tflops=None,
                      bf16_tflops=None, int8_tops=None)
    assert native_formats(v100ish) == ("fp16",)


def test_every_format_the_planner_offers_has_a_sourced_quality_measurement():
    from advisor.plans.candidates import GGUF_LADDER

    table = weight_table()
    for name in (*GGUF_LADDER, "fp8", "awq", "gptq", "gptq-int8", "nf4", "int8"):
        assert table.get(name), f"{name}: no measurement in advisor/data/quant_quality.yaml"
        for row in table[name]:
            assert row["source"].startswith("https://") and row["model"] and row["measure"], name


def test_commands_carry_the_numbers_they_were_sized_for(kb):
    m = kb.model("llama-3.1-70b")
    assert llama_server(m, parse_precision("Q4_K_M"), 8192, 2, "fp16").startswith(
        "llama-server -m ")
    assert llama_server(m, parse_precision("Q4_K_M"), 8192, 2, "fp16").endswith(
        "-Q4_K_M.gguf -ngl 81 -c 16384 -np 2")
    assert llama_server(m, parse_precision("Q4_K_M"), 8192, 1, "q8_0", gpu_layers=40,
                        gguf_repo="org/Repo-GGUF") == (
        "llama-server -hf org/Repo-GGUF:Q4_K_M -ngl 40 -c 8192 -fa on -ctk q8_0 -ctv q8_0")  # output in RAM
    assert vllm_serve("org/m", 4096, 1, "fp16", tensor_parallel=4, quantize_fp8=True) == (
        "vllm serve org/m --tensor-parallel-size 4 --max-model-len 4096 --quantization fp8")
    assert vllm_serve("org/m", 8192, 1, "fp8", tensor_parallel=8, pipeline_parallel=2).startswith(
        "vllm serve org/m --tensor-parallel-size 8 --pipeline-parallel-size 2")
