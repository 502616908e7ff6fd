"""The fact contributors the rulebook added: native formats, quality costs, rent order, commands."""
from advisor.facts import FACTS
from advisor.facts.commands import llama_server, vllm_serve
from advisor.kb.formats import NATIVE_BY_ARCHITECTURE, native_formats
from advisor.facts.quality import quality_table
from advisor.facts.question import Question
from advisor.facts.rent import rent_options
from advisor.sizing.precision import QUANTIZE_LADDER, parse_precision
from advisor.sizing.workload import Workload


def test_native_formats_agree_with_the_architecture_for_every_kb_gpu(kb):
    for g in kb.all_gpus():
        assert g.architecture in NATIVE_BY_ARCHITECTURE, f"{g.id}: add {g.architecture!r} to the table"
        assert set(native_formats(g)) == set(NATIVE_BY_ARCHITECTURE[g.architecture]), g.id
        assert ("fp8" in native_formats(g)) == g.native_fp8, g.id


def test_a_gpu_without_throughput_fields_falls_back_to_its_architecture(kb):
    v100ish = kb.gpu("a100-40gb").model_copy(update={
        "architecture": "volta", "fp16_tflops": None, "bf16_tflops": None, "int8_tops": None})
    assert native_formats(v100ish) == ("fp16",)


def test_every_quantize_option_has_a_sourced_quality_measurement():
    table = quality_table()
    for name in QUANTIZE_LADDER:
        for row in table[name]:
            assert row["source"].startswith("https://") and row["model"] and row["measure"], name


def test_rent_is_cheapest_first_where_priced(kb):
    # Give two cards prices: the cheaper priced one leads even though it has more memory.
    priced = {g.id: g for g in kb.all_gpus()}
    priced["mi300x"] = priced["mi300x"].model_copy(update={"price_usd_per_hour": 2.0, "price_date": "2025-06"})
    priced["h200"] = priced["h200"].model_copy(update={"price_usd_per_hour": 3.5, "price_date": "2025-06"})


    class PricedKB:  # the KB with two prices changed: rent_options reads only all_gpus()
        def all_gpus(self):
            return [priced[k] for k in sorted(priced)]

    kb2 = PricedKB()
    q = Question(kb2, kb.model("llama-3.1-70b"), priced["a100-40gb"], parse_precision("fp16"), Workload())
    singles, best = rent_options(kb2, q)
    assert [g.id for g in singles][:2] == ["mi300x", "h200"]
    assert best == (priced["mi300x"], 1)


def test_commands_carry_the_numbers_they_were_sized_for(kb):
    m = kb.model("llama-3.1-70b")
    assert llama_server(m, parse_precision("Q4_K_M"), 8192, 2) == (
        "llama-server -m Llama-3.1-70B-Q4_K_M.gguf -ngl 81 -c 16384 -np 2")
    assert llama_server(m, parse_precision("fp8"), 8192, 1) is None  # llama.cpp has no FP8 type
    assert vllm_serve(m, "nvidia", parse_precision("fp8"), 4096, 1, 4) == (
        "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 4 --max-model-len 4096 --quantization fp8")
    assert vllm_serve(m, "nvidia", parse_precision("bf16"), 8192, 1, 16).startswith(
        "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 8 --pipeline-parallel-size 2")
    assert "--pipeline-parallel-size 2" in vllm_serve(m, "nvidia", parse_precision("fp16"), 8192, 1, 2, pcie=True)
    assert vllm_serve(m, "apple", parse_precision("fp16"), 8192, 1) is None
    assert vllm_serve(m, "nvidia", parse_precision("Q4_K_M"), 8192, 1) is None


def test_every_registered_fact_has_a_type_and_a_meaning():
    for name, (ftype, meaning) in FACTS.items():
        assert ftype in ("int", "float", "bool", "str") and meaning.strip(), name


def test_vllm_memory_utilization_only_above_its_default():
    from advisor.facts.commands import memory_share

    assert memory_share(80, 100) is None
    assert memory_share(88, 100) is None
    assert memory_share(89, 100) == 0.91
    assert memory_share(90, 100) == 0.92
    assert memory_share(99, 100) == 0.98
