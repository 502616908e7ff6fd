"""The KB cache: same KB as the YAML gives, invalidated by any entry change, never required."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from click.testing import CliRunner

from advisor.cli import main
from advisor.kb.cache import cache_dir, load_kb_cached
from advisor.kb.store import load_kb
from advisor.paths import data_dir


def _same(a, b) -> bool:
    """The same entries, sources aside (the cache leaves them out: only the kb commands read
    them, from the YAML)."""
    from advisor.kb.cache import _no_sources

    def lean(entries):
        return [_no_sources(e) for e in entries]
    return (lean(a.all_models()) == lean(b.all_models())
            and lean(a.all_gpus()) == lean(b.all_gpus()))


def test_cached_kb_equals_the_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    first = load_kb_cached()
    assert len(list((tmp_path / "cache").glob("kb-*.pickle"))) == 1
    second = load_kb_cached()  # from the pickle
    assert _same(first, second) and _same(second, load_kb())
    assert second.model("Llama 3.1 70B").id == "llama-3.1-70b"  # names and aliases still resolve
    assert second.model("llama-3.1-70b").sources == () and load_kb().model("llama-3.1-70b").sources


def test_an_edited_entry_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    kb = tmp_path / "kb"
    shutil.copytree(data_dir("kb") / "gpus", kb / "gpus")
    shutil.copytree(data_dir("kb") / "models", kb / "models")
    assert load_kb_cached(kb).gpu("rtx-4090").name == "NVIDIA GeForce RTX 4090"
    p = kb / "gpus" / "rtx-4090.yaml"
    p.write_text(p.read_text().replace("name: NVIDIA GeForce RTX 4090", "name: My 4090"))
    assert load_kb_cached(kb).gpu("rtx-4090").name == "My 4090"
    assert len(list((tmp_path / "cache").glob("kb-*.pickle"))) == 2


def test_an_unusable_cache_falls_back_to_the_yaml(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert _same(load_kb_cached(), load_kb())
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "c2"))
    load_kb_cached()
    (pickled,) = (tmp_path / "c2").glob("kb-*.pickle")
    pickled.write_bytes(b"damaged")
    assert _same(load_kb_cached(), load_kb())


def test_explain_output_is_the_same_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(tmp_path / "cache"))
    run = lambda: CliRunner().invoke(main, ["explain", "llama-3.1-70b", "rtx-4090", "-p", "Q4_K_M"])
    a, b = run(), run()
    assert a.exit_code == b.exit_code == 0 and a.output == b.output
    monkeypatch.setenv("ADVISOR_NO_KB_CACHE", "1")
    assert run().output == a.output
    assert os.fspath(cache_dir()) == str(tmp_path / "cache")


def test_a_run_from_the_cache_does_not_import_pydantic(tmp_path):
    """pydantic validates entries when the YAML is read; the cached entries are plain dataclasses."""
    code = ("import sys; from advisor.kb.cache import load_kb_cached; kb = load_kb_cached(); "
            "print(kb.model('llama-3.1-8b').architecture.layers, 'pydantic' in sys.modules)")
    env = dict(os.environ, ADVISOR_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("ADVISOR_NO_KB_CACHE", None)
    run = lambda: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                 check=True).stdout.split()
    assert run() == ["32", "True"]     # the first run reads and validates the YAML
    assert run() == ["32", "False"]    # later runs unpickle the cache
