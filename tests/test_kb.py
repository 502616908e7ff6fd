import textwrap

import pytest

from advisor.errors import AdvisorError
from advisor.kb import load_kb
from advisor.sizing.tensors import parameter_count


def test_parameter_counts_reproduce_published(kb):
    # exact published counts to the parameter; rounded ones are checked in test_kb_models.py
    for m in kb.all_models():
        assert m.published_parameters is not None, m.id
        if m.published_parameters_exact:
            assert parameter_count(m.architecture) == m.published_parameters, m.id


def test_llama_counts_exact(kb):
    assert parameter_count(kb.model("llama-3.1-8b").architecture) == 8_030_261_248
    assert parameter_count(kb.model("llama-3.1-70b").architecture) == 70_553_706_496


@pytest.mark.parametrize("key,expected", [
    ("meta-llama/Llama-3.1-70B", "llama-3.1-70b"),
    ("META-LLAMA/LLAMA-3.1-70B-INSTRUCT", "llama-3.1-70b"),
    ("Llama 3.1 405B", "llama-3.1-405b"),
])
def test_model_lookup(kb, key, expected):
    assert kb.model(key).id == expected


@pytest.mark.parametrize("key,expected", [("RTX 4090", "rtx-4090"), ("rtx 4090", "rtx-4090"),
                                          ("A100 40GB", "a100-40gb"), ("H200", "h200"),
                                          ("rtx-3060", "rtx-3060-12gb"), ("RTX_3060", "rtx-3060-12gb"),
                                          ("geforce  rtx 4090", "rtx-4090")])
def test_gpu_lookup(kb, key, expected):
    assert kb.gpu(key).id == expected


def test_unknown_id_names_closest(kb):
    with pytest.raises(AdvisorError, match=r"unknown gpu 'a100-40'; closest known: a100-40gb"):
        kb.gpu("a100-40")


def test_unknown_id_names_entries_holding_every_word(kb):
    with pytest.raises(AdvisorError, match=r"closest known: h100-80gb"):
        kb.gpu("nvidia h100 sxm")


def test_every_fact_has_a_source(kb):
    for g in kb.all_gpus():
        covered = {f for s in g.sources for f in s.fields}
        set_facts = [f for f in ("memory_bytes", "bandwidth_gb_s", "architecture", "fp16_tflops")
                     if getattr(g, f) is not None]
        for f in set_facts:
            assert f in covered, (g.id, f)


def _write(tmp_path, sub, name, text):
    d = tmp_path / sub
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(textwrap.dedent(text))


def test_strict_schema_reports_file_line_field(tmp_path):
    _write(tmp_path, "models", "x.yaml", """\
        id: x
        name: X
        family: x
        architecture:
          layers: 2
          hidden_size: 64
          attention_heads: 4
          kv_heads: 4
          head_dim: 16
          ffn_size: 128
          vocab_size: 100
          tied_embeddings: false
          max_context: 128
          colour: blue
        sources:
          - fields: [architecture]
            source: made up for a test
        """)
    (tmp_path / "gpus").mkdir()
    with pytest.raises(AdvisorError) as e:
        load_kb(tmp_path)
    assert "x.yaml:14: field 'architecture.colour': Extra inputs are not permitted" in str(e.value)


def test_fact_without_source_is_an_error(tmp_path):
    _write(tmp_path, "gpus", "g.yaml", """\
        id: g
        name: G
        vendor: nvidia
        architecture: ampere
        memory_bytes: 1000
        bandwidth_gb_s: 100
        sources:
          - fields: [memory_bytes, architecture]
            source: made up for a test
        """)
    (tmp_path / "models").mkdir()
    with pytest.raises(AdvisorError, match=r"g.yaml:6: field 'bandwidth_gb_s': fact\(s\) without a source: bandwidth_gb_s"):
        load_kb(tmp_path)


def test_unified_memory_share_and_rentable(kb):
    mac = kb.gpu("m1-max-64gb")
    assert mac.unified_memory and not mac.rentable
    assert mac.usable_memory_bytes == 48 * 2**30  # 49,152 MiB, what llama.cpp logs on that Mac
    card = kb.gpu("rtx-3090")
    assert card.rentable and card.usable_memory_bytes == card.memory_bytes


def test_rent_never_suggests_a_mac(advisor):
    from advisor.plans.candidates import rentable

    assert rentable(advisor.kb) and not any(g.unified_memory for g in rentable(advisor.kb))
    for q in (("llama-3.1-405b", "a100-40gb"), ("llama-3.1-70b", "m3-max-64gb")):
        d = advisor.explain(*q).to_json()
        rent = next(p for p in d["plans"] if p["path"] == "rent")
        assert not advisor.kb.gpu(rent["gpu_id"]).unified_memory
