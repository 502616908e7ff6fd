"""Hostile-input findings on the CLI: links in the output tree, unreadable --kb/--rules paths,
numbers generate must refuse up front, the KB cache key, terminal escapes, messages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor import cache
from tests.bulk_helpers import run

ROOT = Path(__file__).resolve().parents[1]
ONE = ("-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16", "-j", "1")
LONG = "a" * 300
EVIL = "Evil\x1b]52;c;eA==\x07X\x1b[2J\x08\r\u202eZ"


def _one_line_error(r):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.output.count("advisor: error:") == 1, r.output


# -- 1. generate never writes through a link ------------------------------------------------

def test_generate_refuses_a_linked_page_folder(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim"
    assert run("generate", "--out", str(out), *ONE).exit_code == 0
    victim.mkdir()
    (out / "llama-3.1-8b" / "rtx-4090__fp16.md").unlink()
    (out / "llama-3.1-8b").rmdir()
    (out / "llama-3.1-8b").symlink_to(victim)
    r = run("generate", "--out", str(out), *ONE)
    _one_line_error(r)
    assert "symbolic link" in r.output and "llama-3.1-8b" in r.output
    assert list(victim.iterdir()) == []


@pytest.mark.parametrize("name", [".advisor.lock", "index.md", ".advisor-generate"])
def test_generate_refuses_a_linked_file_in_the_output(tmp_path, name):
    out, target = tmp_path / "out", tmp_path / "target"
    assert run("generate", "--out", str(out), *ONE).exit_code == 0
    (out / name).unlink(missing_ok=True)
    (out / name).symlink_to(target)
    r = run("generate", "--out", str(out), *ONE)
    _one_line_error(r)
    assert "symbolic link" in r.output and not target.exists()


def test_generate_refuses_a_linked_page(tmp_path):
    out, target = tmp_path / "out", tmp_path / "page.md"
    assert run("generate", "--out", str(out), *ONE).exit_code == 0
    page = out / "llama-3.1-8b" / "rtx-4090__fp16.md"
    target.write_text("mine")
    page.unlink()
    page.symlink_to(target)
    _one_line_error(run("generate", "--out", str(out), *ONE))
    assert target.read_text() == "mine"


def test_generate_refuses_a_folder_where_the_index_goes(tmp_path):
    out = tmp_path / "out"
    assert run("generate", "--out", str(out), *ONE).exit_code == 0
    (out / "index.md").unlink()
    (out / "index.md").mkdir()
    r = run("generate", "--out", str(out), *ONE)
    _one_line_error(r)
    assert "index.md" in r.output


# -- 2. paths that cannot be looked at ---------------------------------------------------------

@pytest.fixture
def loop(tmp_path):
    (tmp_path / "loopA").symlink_to(tmp_path / "loopB")
    (tmp_path / "loopB").symlink_to(tmp_path / "loopA")
    return tmp_path / "loopA"


@pytest.mark.parametrize("option", ["--kb", "--rules"])
def test_a_loop_of_links_as_a_folder_is_one_line(loop, option):
    _one_line_error(run("explain", "llama-3.1-8b", "rtx-4090", option, str(loop)))


@pytest.mark.parametrize("args", [
    ("explain", "llama-3.1-8b", "rtx-4090", "--kb", "{}"),
    ("explain", "llama-3.1-8b", "rtx-4090", "--rules", "{}"),
    ("rules", "check", "{}"), ("rules", "test", "{}"), ("rules", "check", "--rules", "{}"),
    ("kb", "--kb", "{}", "list"), ("kb", "validate", "{}")])
def test_a_name_too_long_is_one_line(tmp_path, args):
    path = str(tmp_path / LONG)
    _one_line_error(run(*[path if a == "{}" else a for a in args]))


@pytest.mark.parametrize("env", ["ADVISOR_KB", "ADVISOR_RULES"])
def test_a_name_too_long_in_the_environment_is_one_line(tmp_path, monkeypatch, env):
    monkeypatch.setenv(env, str(tmp_path / LONG))
    r = run("explain", "llama-3.1-8b", "rtx-4090")
    _one_line_error(r)
    assert "File name too long" in r.output


def test_generate_out_name_too_long(tmp_path):
    _one_line_error(run("generate", "--out", str(tmp_path / "y" / LONG), *ONE))


def test_kb_add_with_a_very_long_name_or_path(tmp_path):
    cfg = {"_name_or_path": "org/" + "a" * 1000, "architectures": ["LlamaForCausalLM"],
           "model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
           "vocab_size": 128256, "max_position_embeddings": 8192, "torch_dtype": "bfloat16"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "kb").mkdir()
    r = run("kb", "add", "--from", str(tmp_path / "config.json"), "--out", str(tmp_path / "kb"))
    _one_line_error(r)
    assert "give --id" in r.output
    r = run("kb", "add", "--from", str(tmp_path / "config.json"), "--out", str(tmp_path / "kb"),
            "--id", "b" * 300)
    _one_line_error(r)
    assert "at most 128" in r.output
    (tmp_path / "file").write_text("x")
    r = run("kb", "add", "--from", str(tmp_path / "config.json"), "--id", "ok-id",
            "--out", str(tmp_path / "file"))
    _one_line_error(r)
    assert "is a file, not a folder" in r.output


def test_stderr_to_dev_full_exits_2():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    for args in (["explain", "llama-3.1-8b", "nosuch"], ["explain"]):
        with open("/dev/full", "w") as full:
            p = subprocess.run([sys.executable, "-m", "advisor", *args], stderr=full,
                               stdout=subprocess.DEVNULL, cwd=ROOT, timeout=60)
        assert p.returncode == 2, args


# -- 3. numbers generate refuses up front --------------------------------------------------

@pytest.mark.parametrize("args,says", [(("-n", "100000"), "--gpu-count must be at most"),
                                       (("-c", "99999999999"), "--context must be at most"),
                                       (("-c", "200000"), "beyond the maximum of every model"),
                                       (("-b", "100000000"), "--batch must be at most")])
def test_generate_refuses_numbers_beyond_explains_limits(tmp_path, args, says):
    r = run("generate", "--out", str(tmp_path / "out"), *ONE, *args)
    _one_line_error(r)
    assert says in r.output and not (tmp_path / "out").exists()


def test_generate_caps_jobs(tmp_path):
    r = run("generate", "--out", str(tmp_path / "out"), *ONE[:-2], "-j", "100000")
    assert r.exit_code == 0, r.output


# -- 4. the cache key sees a same-size edit with the time put back --------------------------

def test_cache_key_changes_when_mtime_is_restored(tmp_path):
    f = tmp_path / "entry.yaml"
    f.write_text("name: a\n")
    st = f.stat()
    before = (cache.Key().file(f).digest(), cache.Key().files(tmp_path).digest())
    import time
    time.sleep(0.01)
    f.write_text("name: b\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = (cache.Key().file(f).digest(), cache.Key().files(tmp_path).digest())
    assert before[0] != after[0] and before[1] != after[1]


# -- 5. terminal escapes ----------------------------------------------------------------------

def _evil_kb(tmp_path):
    text = (ROOT / "kb" / "gpus" / "rtx-4090.yaml").read_text()
    lines = [f"name: {json.dumps(EVIL)}" if ln.startswith("name:") else ln
             for ln in text.splitlines()]
    (tmp_path / "ek" / "gpus").mkdir(parents=True)
    (tmp_path / "ek" / "gpus" / "rtx-4090.yaml").write_text("\n".join(lines) + "\n")
    return tmp_path / "ek"


def test_kb_list_prints_names_as_one_printable_line(tmp_path):
    r = run("kb", "--kb", str(_evil_kb(tmp_path)), "list", "gpus")
    assert r.exit_code == 0, r.output
    assert all(ch.isprintable() or ch == "\n" for ch in r.output)
    assert "Evil \\]52;c;eA== X \\[2J Z" in r.output  # and markdown text (a table of kb list)


def test_html_index_strips_control_characters(tmp_path):
    out = tmp_path / "out"
    r = run("generate", "--kb", str(_evil_kb(tmp_path)), "--out", str(out), "--format", "html",
            *ONE)
    assert r.exit_code == 0, r.output
    index = (out / "index.html").read_text()
    assert not any(c in index for c in "\x1b\x07\x08\r\u202e")


def test_rules_list_and_show_print_docs_as_printable_lines(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    doc = json.dumps(f"a{EVIL}")
    (rules / "evil-rule.yaml").write_text(
        f"id: evil-rule\npriority: 0\ndoc: {{advises: {doc}, why: {doc}, example: {doc}}}\n"
        "when:\n  - headroom_bytes >= 0\n  - model_parameters > 10000000000000\n"
        "then:\n  verdict: tight\n")
    for args in (("list",), ("show", "evil-rule")):
        r = run("rules", *args, "--rules", str(rules))
        assert r.exit_code == 0, r.output
        assert all(ch.isprintable() or ch == "\n" for ch in r.output), args


def test_error_messages_escape_control_characters():
    r = run("explain", "llama-3.1-8b", EVIL)
    _one_line_error(r)
    assert "\x1b" not in r.output and "\\x1b]52" in r.output and "\\u202e" in r.output


# -- 6. a relative XDG_CACHE_HOME is ignored ------------------------------------------------

def test_relative_xdg_cache_home_is_ignored(monkeypatch):
    monkeypatch.delenv("ADVISOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache.cache_dir() == Path.home() / ".cache" / "advisor"
    monkeypatch.setenv("XDG_CACHE_HOME", "/abs/cache")
    assert cache.cache_dir() == Path("/abs/cache/advisor")


# -- 7. messages ------------------------------------------------------------------------------

def test_messages_say_what_is_wrong(tmp_path, monkeypatch):
    r = run("explain", "", "rtx-4090")
    _one_line_error(r)
    assert "the model is empty" in r.output
    (tmp_path / "f").write_text("x")
    for option in ("--kb", "--rules"):
        r = run("explain", "llama-3.1-8b", "rtx-4090", option, str(tmp_path / "f"))
        _one_line_error(r)
        assert "is a file, not a folder" in r.output


def test_the_same_kb_folder_twice_counts_once(tmp_path, monkeypatch):
    kb = tmp_path / "k"
    (kb / "gpus").mkdir(parents=True)
    (kb / "gpus" / "rtx-4090.yaml").write_text((ROOT / "kb" / "gpus" / "rtx-4090.yaml").read_text())
    monkeypatch.setenv("ADVISOR_KB", os.pathsep.join([str(kb), str(kb)]))
    r = run("explain", "llama-3.1-8b", "rtx-4090")
    assert r.exit_code == 0 and "also defined in" not in r.output, r.output
