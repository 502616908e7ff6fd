"""Parameter counts kept with the KB cache (KnowledgeBase.counted): the same numbers as
advisor.sizing.tensors.parameter_count, recounted when an entry changes, never used for a model
that is not the KB's own entry."""
from __future__ import annotations

import shutil
from dataclasses import replace

from advisor.kb.cache import load_kb_cached
from advisor.kb.schema import with_fields
from advisor.paths import data_dir
from advisor.sizing.tensors import parameter_count


def test_counts_equal_the_sizing_core(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    load_kb_cached()
    kb = load_kb_cached()  # from the pickle
    assert set(kb.counted) == {m.id for m in kb.all_models()}
    for m in kb.all_models():
        assert kb.parameter_count(m) == kb.counted[m.id] == parameter_count(m.architecture), m.id


def test_a_copy_with_another_architecture_is_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    kb = load_kb_cached()
    m = kb.model("llama-3.1-8b")
    other = with_fields(m, architecture=replace(m.architecture, layers=m.architecture.layers - 2))
    assert kb.parameter_count(other) == parameter_count(other.architecture) < kb.parameter_count(m)


def test_an_edited_entry_is_recounted(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "kb"
    shutil.copytree(data_dir("kb") / "gpus", root / "gpus")
    shutil.copytree(data_dir("kb") / "models", root / "models")
    before = load_kb_cached(root).counted["llama-3.1-8b"]
    p = root / "models" / "llama-3.1-8b.yaml"
    text = p.read_text()
    assert "vocab_size: 128256" in text
    p.write_text(text.replace("vocab_size: 128256", "vocab_size: 128000"))
    kb = load_kb_cached(root)
    after = kb.counted["llama-3.1-8b"]
    assert after == parameter_count(kb.model("llama-3.1-8b").architecture) < before
