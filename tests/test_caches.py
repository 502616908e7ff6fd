"""The caches of advisor.cache beyond the KB's (tests/test_kb_cache.py): the same results as
computing, invalidated by any input or code change, never required."""
from __future__ import annotations

import pytest

from advisor.advise import load_objective_file, load_rulebook
from advisor.errors import AdvisorError
from advisor.paths import data_dir


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(folder))
    for name in ("ADVISOR_NO_CACHE", "ADVISOR_NO_RULES_CACHE"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _uncached(monkeypatch, fn, *args):
    with monkeypatch.context() as m:
        m.setenv("ADVISOR_NO_RULES_CACHE", "1")
        return fn(*args)


def test_the_cached_rulebook_and_objective_equal_the_files(cache, monkeypatch):
    rules, objective = load_rulebook(), load_objective_file()
    assert len(list(cache.glob("rules-*.pickle"))) == len(list(cache.glob("objective-*.pickle"))) == 1
    assert load_rulebook() == rules == _uncached(monkeypatch, load_rulebook)
    assert load_objective_file() == objective == _uncached(monkeypatch, load_objective_file)
    assert len(list(cache.glob("*.pickle"))) == 2  # read back, not written again


def test_an_edited_rule_or_objective_is_read_again(cache, tmp_path):
    builtin = (data_dir("rules") / "plan-another-model.yaml").read_text()
    user = tmp_path / "rules"
    user.mkdir()
    rule = user / "plan-another-model.yaml"
    rule.write_text(builtin.replace("priority: 60", "priority: 5"))
    assert {r.id: r.priority for r in load_rulebook([user])}["plan-another-model"] == 5
    rule.write_text(builtin.replace("priority: 60", "priority: 17"))
    assert {r.id: r.priority for r in load_rulebook([user])}["plan-another-model"] == 17
    assert {r.id: r.priority for r in load_rulebook()}["plan-another-model"] == 60

    text = (data_dir("rules") / "objective.yaml").read_text()
    (user / "objective.yaml").write_text(text.replace("prefer: quality", "prefer: speed"))
    assert load_objective_file([user]).prefer == "speed"
    (user / "objective.yaml").write_text(text.replace("prefer: quality", "prefer: cost"))
    assert load_objective_file([user]).prefer == "cost"
    assert load_objective_file().prefer == "quality"


def test_a_broken_rule_is_never_cached(cache, tmp_path):
    user = tmp_path / "rules"
    user.mkdir()
    (user / "bad.yaml").write_text("id: bad\nwhen: [nonsense]\n")
    for _ in range(2):
        with pytest.raises(AdvisorError, match="bad.yaml"):
            load_rulebook([user])
    assert not list(cache.glob("rules-*.pickle"))


def test_an_unusable_cache_falls_back_to_the_files(cache, tmp_path, monkeypatch):
    rules, objective = load_rulebook(), load_objective_file()
    for p in cache.glob("*.pickle"):
        p.write_bytes(b"damaged")
    assert load_rulebook() == rules and load_objective_file() == objective
    (pickled,) = cache.glob("rules-*.pickle")
    import pickle

    pickled.write_bytes(pickle.dumps(["not", "rules"]))  # foreign content is not used
    assert load_rulebook() == rules
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ADVISOR_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert load_rulebook() == rules and load_objective_file() == objective


def test_no_cache_turns_every_cache_off(cache, monkeypatch):
    monkeypatch.setenv("ADVISOR_NO_CACHE", "1")
    load_rulebook(), load_objective_file()
    assert not cache.exists()


# The weight summaries of advisor.sizing.weights


def _summaries(names=("Q4_K_M", "IQ2_XS", "fp8", "bf16", "gptq")):
    from advisor.sizing.precision import parse_precision

    return [parse_precision(n) for n in names]


def test_cached_weight_summaries_equal_computed_ones(cache, kb):
    from advisor.sizing import weights

    a = kb.model("mixtral-8x7b").architecture
    store = weights._DiskStore()
    for p in _summaries():
        assert store.get(a, p.name) is None
        store.put(a, p.name, weights._summarise(a, p))
    store.save()
    (written,) = cache.glob("weights-*/*.pickle")
    assert not list(cache.glob("weights-*/.*"))  # no temporary file left behind
    fresh = weights._DiskStore()
    for p in _summaries():
        assert fresh.get(a, p.name) == weights._summarise(a, p)
    assert fresh.get(kb.model("llama-3.1-8b").architecture, "Q4_K_M") is None


def test_a_damaged_or_foreign_weights_file_is_ignored(cache, kb):
    from advisor.sizing import weights

    a, b = kb.model("llama-3.1-8b").architecture, kb.model("mistral-7b-v0.3").architecture
    assert a.layers == b.layers  # same shape of summary: only the file's own record tells them apart
    store = weights._DiskStore()
    p = _summaries(["Q4_K_M"])[0]
    store.put(a, p.name, weights._summarise(a, p))
    store.save()
    path_a, path_b = store._path(a), store._path(b)
    path_b.write_bytes(path_a.read_bytes())  # a's summaries under b's name
    assert weights._DiskStore().get(b, p.name) is None
    path_a.write_bytes(b"damaged")
    fresh = weights._DiskStore()
    assert fresh.get(a, p.name) is None
    fresh.put(a, p.name, weights._summarise(a, p))
    fresh.save()  # replaces the damaged file
    assert weights._DiskStore().get(a, p.name) == weights._summarise(a, p)


def test_processes_writing_the_same_weights_file_at_once_leave_a_whole_one(cache, kb):
    import os
    import subprocess
    import sys

    from advisor.sizing import weights

    a = kb.model("qwen3-30b-a3b").architecture
    code = ("import sys; from advisor.kb.cache import load_kb_cached; "
            "from advisor.sizing.weights import weights_bytes; from advisor.sizing.precision import parse_precision; "
            "a = load_kb_cached().model('qwen3-30b-a3b').architecture; "
            "[weights_bytes(a, parse_precision(n)) for n in sys.argv[1:]]")
    groups = [["Q4_K_M", "Q8_0"], ["IQ2_XS", "Q6_K"], ["fp8", "bf16"], ["Q3_K_M", "awq"]]
    env = dict(os.environ, ADVISOR_CACHE_DIR=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", code, *g], env=env) for g in groups]
    assert all(p.wait() == 0 for p in procs)
    found = weights._DiskStore()._read(a)
    assert found and set(found) <= {n for g in groups for n in g}
    for name, w in found.items():
        assert w == weights._summarise(a, _summaries([name])[0])


def test_no_weights_cache_reads_and_writes_nothing(cache, kb, monkeypatch):
    from advisor.sizing import weights

    monkeypatch.setenv("ADVISOR_NO_WEIGHTS_CACHE", "1")
    a, p = kb.model("llama-3.1-8b").architecture, _summaries(["Q4_K_M"])[0]
    store = weights._DiskStore()
    store.put(a, p.name, weights._summarise(a, p))
    store.save()
    assert store.get(a, p.name) is None and not cache.exists()


# Compiled templates (advisor.render)


def _explain(cache, *args, **env):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "advisor", "explain", "llama-3.1-70b", "rtx-4090", *args],
                          env=dict(os.environ, ADVISOR_CACHE_DIR=str(cache), **env), capture_output=True,
                          text=True, check=True).stdout


def test_templates_render_the_same_from_bytecode_even_when_damaged(cache):
    expected = _explain(cache, ADVISOR_NO_TEMPLATES_CACHE="1")
    assert not list(cache.glob("templates-*/*"))
    assert _explain(cache) == expected  # compiles the templates and writes their bytecode
    files = list(cache.glob("templates-*/*"))
    assert files
    assert _explain(cache) == expected  # from the bytecode
    for f in files:
        f.write_bytes(f.read_bytes()[:40])  # damaged: compiled again
    assert _explain(cache) == expected


def test_json_from_the_caches_needs_no_jinja2(cache):
    import os
    import subprocess
    import sys

    code = ("import sys; from advisor.cli import main; "
            "main(['explain', 'llama-3.1-8b', 'h100-80gb', '--format', 'json'], standalone_mode=False); "
            "print('jinja2' in sys.modules, file=sys.stderr)")
    run = lambda: subprocess.run([sys.executable, "-c", code], env=dict(os.environ, ADVISOR_CACHE_DIR=str(cache)),
                                 capture_output=True, text=True, check=True)
    run()  # checking the rule files reads the templates (with jinja2): then the rulebook is cached
    r = run()
    assert r.stdout.startswith("{") and r.stderr.strip() == "False"
