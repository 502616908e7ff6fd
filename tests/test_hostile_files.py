"""Issue 14: files a user hands us, the numbers in them, YAML, and the CLI's last line of defence.
Each example the hostile pass reproduced is a test here: one line naming what is wrong, exit 2,
no traceback, no hang (every run is bounded by time_limit)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.files import load_path
from advisor.files.hf import cached_snapshot
from advisor.limits import MAX_LAYERS, MAX_YAML_BYTES, short
from advisor.yamlfile import YamlFileError, parse_yaml, read_yaml
from tests.file_helpers import (I32, LLAMA_CONFIG, REPO, STRING, config_folder, kb_model_dir,
                                llama_gguf, time_limit)


def cli(*args, seconds=60):
    with time_limit(seconds):
        return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(r, *words):
    """Exit 2, one line, no traceback, naming every word."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), r.exception
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


# -- numbers in config.json ----------------------------------------------------------------------

def test_config_with_a_billion_layers_is_refused_before_sizing(tmp_path):
    folder = config_folder(tmp_path / "cfg", num_hidden_layers=1_000_000_000)
    one_line_error(cli("explain", folder, "rtx-4090"), "config.json", "num_hidden_layers",
                   f"{MAX_LAYERS:,}")


def test_config_with_a_5000_digit_integer(tmp_path):
    text = json.dumps(LLAMA_CONFIG).replace('"num_hidden_layers": 2', '"num_hidden_layers": ' + "9" * 5000)
    folder = config_folder(tmp_path / "cfg", text=text)
    one_line_error(cli("explain", folder, "rtx-4090"), "config.json", "5000 digits")


@pytest.mark.parametrize("value,says", [(0, "outside 1"), (2.5, "not a whole number"),
                                        ("32", "not a whole number"), (-3, "outside 1"),
                                        (True, "not a whole number")])
def test_config_layers_that_are_not_counts_say_so(tmp_path, value, says):
    folder = config_folder(tmp_path / "cfg", num_hidden_layers=value)
    one_line_error(cli("explain", folder, "rtx-4090"), "num_hidden_layers", says)


def test_config_nan_and_infinity(tmp_path):
    text = json.dumps(LLAMA_CONFIG).replace('"max_position_embeddings": 2048',
                                            '"max_position_embeddings": Infinity')
    one_line_error(cli("explain", config_folder(tmp_path / "a", text=text), "rtx-4090"),
                   "max_position_embeddings", "inf")
    text = json.dumps(LLAMA_CONFIG).replace('"num_key_value_heads": 2', '"num_key_value_heads": NaN')
    one_line_error(cli("explain", config_folder(tmp_path / "b", text=text), "rtx-4090"),
                   "num_key_value_heads", "nan")


def test_config_zero_kv_heads_and_zero_heads(tmp_path):
    one_line_error(cli("explain", config_folder(tmp_path / "a", num_key_value_heads=0), "rtx-4090"),
                   "num_key_value_heads")
    one_line_error(cli("explain", config_folder(tmp_path / "b", num_attention_heads=0), "rtx-4090"),
                   "num_attention_heads")


def test_per_layer_lists_may_hold_zero_but_not_garbage(tmp_path):
    m, _ = load_path(config_folder(tmp_path / "a", num_key_value_heads=[2, 0]) / "config.json")
    assert m.architecture.kv_heads == 2
    with pytest.raises(AdvisorError, match="num_key_value_heads holds a value"):
        load_path(config_folder(tmp_path / "b", num_key_value_heads=[2, "x"]) / "config.json")


def test_oversized_config_is_refused_unread(tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    with open(folder / "config.json", "wb") as f:  # sparse: 5 MB of nothing, cheap to make
        f.truncate(5 << 20)
    one_line_error(cli("explain", folder, "rtx-4090"), "config.json", "larger than")


# -- numbers in GGUF headers ---------------------------------------------------------------------

def test_gguf_with_a_billion_blocks(tmp_path):
    p = llama_gguf(tmp_path / "m.gguf", layers=1_000_000_000, blocks=2)
    one_line_error(cli("explain", p, "rtx-4090"), "m.gguf", "llama.block_count", "1000000000")


def test_gguf_with_zero_kv_heads(tmp_path):
    one_line_error(cli("explain", llama_gguf(tmp_path / "m.gguf", kv_heads=0), "rtx-4090"),
                   "llama.attention.head_count_kv", "is 0")


@pytest.mark.parametrize("key,vtype,value", [("llama.attention.head_count", I32, -4),
                                             ("llama.context_length", STRING, "big"),
                                             ("llama.embedding_length", 6, float("nan"))])
def test_gguf_counts_of_the_wrong_type_or_sign(tmp_path, key, vtype, value):
    short_key = key.removeprefix("llama.")
    meta = {"attention.head_count": "heads", "context_length": "context",
            "embedding_length": "hidden"}[short_key]
    p = llama_gguf(tmp_path / "m.gguf", **{meta: None}, extra=[(key, vtype, value)])
    one_line_error(cli("explain", p, "rtx-4090"), key)


def test_gguf_without_tensors_describes_no_weights(tmp_path):
    p = llama_gguf(tmp_path / "vocab.gguf", tensors=False)
    one_line_error(cli("explain", p, "rtx-4090"), "no tensors", "no weights")


def test_gguf_missing_blocks_it_names(tmp_path):
    p = llama_gguf(tmp_path / "m.gguf", layers=32, blocks=2)
    one_line_error(cli("explain", p, "rtx-4090"), "block_count is 32", "2 of those blocks")


def test_a_consistent_tiny_gguf_still_answers(tmp_path):
    r = cli("explain", llama_gguf(tmp_path / "m.gguf"), "rtx-4090")
    assert r.exit_code == 0 and "Verdict" in r.output


def test_safetensors_without_tensors(tmp_path):
    folder = config_folder(tmp_path / "snap")
    (folder / "model.safetensors").write_bytes(b"\x02\0\0\0\0\0\0\0{}")
    one_line_error(cli("explain", folder, "rtx-4090"), "no tensors")


# -- files that are not regular files, unreadable folders, the HF cache ---------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_as_model_file_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "f.gguf")
    one_line_error(cli("explain", tmp_path / "f.gguf", "rtx-4090", seconds=20), "named pipe")
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    os.mkfifo(config_dir / "config.json")
    assert not (config_dir / "config.json").is_file()
    one_line_error(cli("explain", config_dir / "config.json", "rtx-4090", seconds=20), "named pipe")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_as_yaml_file_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "x.yaml")
    with time_limit(20), pytest.raises(YamlFileError, match="named pipe"):
        read_yaml(tmp_path / "x.yaml")
    kb = tmp_path / "kb"
    (kb / "models").mkdir(parents=True)
    os.mkfifo(kb / "models" / "x.yaml")
    r = cli("kb", "validate", kb, seconds=20)  # refused unread, whichever check comes first
    assert r.exit_code == 2 and "x.yaml" in r.output and "Traceback" not in r.output


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any folder")
def test_folder_without_read_permission(tmp_path):
    folder = config_folder(tmp_path / "locked")
    folder.chmod(0)
    try:
        one_line_error(cli("explain", folder, "rtx-4090"), "locked")
    finally:
        folder.chmod(0o755)


def test_unreadable_folder_is_one_line_whatever_the_user(tmp_path, monkeypatch):
    """The same fault as a folder without read permission, for a run as root."""
    folder = config_folder(tmp_path / "locked")

    glob = Path.glob

    def refuse(self, pattern):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return glob(self, pattern)

    monkeypatch.setattr(Path, "glob", refuse)
    one_line_error(cli("explain", folder, "rtx-4090"), "locked", "Permission denied")


def test_hf_cache_ref_cannot_leave_the_cache(tmp_path, monkeypatch):
    hub = tmp_path / "hf" / "hub"
    repo = hub / "models--evil--m"
    (repo / "refs").mkdir(parents=True)
    (repo / "snapshots").mkdir()
    outside = config_folder(tmp_path / "outside")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    (repo / "refs" / "main").write_text("../../../../outside")
    assert cached_snapshot("evil/m") is None
    (repo / "snapshots" / "abc").symlink_to(outside, target_is_directory=True)
    (repo / "refs" / "main").write_text("abc")
    assert cached_snapshot("evil/m") is None  # a snapshot linked out of the cache is none
    r = cli("explain", "evil/m", "rtx-4090")
    assert r.exit_code == 2 and "unknown model 'evil/m'" in r.output
    good = config_folder(repo / "snapshots" / "def")
    (repo / "refs" / "main").write_text("def\n")
    assert cached_snapshot("evil/m") == good


# -- YAML ----------------------------------------------------------------------------------------

def test_duplicate_keys_are_errors_at_their_line():
    with pytest.raises(YamlFileError) as e:
        parse_yaml("id: a\nsegment: consumer\nname: A\nsegment: datacenter\n")
    assert e.value.line == 4 and "duplicate key 'segment'" in e.value.message
    with pytest.raises(YamlFileError, match="duplicate key 'x'"):
        parse_yaml("list:\n  - {x: 1, x: 2}\n")
    assert parse_yaml("base: &b {x: 1}\nuse: {<<: *b, x: 2}\n")[1]["use"] == {"x": 2}


def test_no_builtin_yaml_has_a_duplicate_key():
    for folder in ("kb", "rules", "advisor/data"):
        for p in (REPO / folder).rglob("*.yaml"):
            read_yaml(p)  # raises on a duplicate key


def _laughs(levels=9):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly():
    t = time.monotonic()
    with time_limit(10), pytest.raises(YamlFileError, match="aliases expand to more than"):
        parse_yaml(_laughs())
    assert time.monotonic() - t < 5
    _, data = parse_yaml(_laughs(2))  # a few shared nodes are fine
    assert len(data["a2"]) == 9


def test_billion_laughs_under_a_rule_then_with(tmp_path):
    src = (REPO / "rules" / "fit-headroom.yaml").read_text().replace("id: fit-headroom", "id: my-laughs")
    laughs = "".join("    " + line + "\n" for line in _laughs().splitlines())
    (tmp_path / "my-laughs.yaml").write_text(src.replace("  with:\n", "  with:\n" + laughs))
    one_line_error(cli("rules", "check", tmp_path), "my-laughs.yaml", "aliases expand")
    one_line_error(cli("explain", "llama-3.1-8b", "rtx-4090", "--rules", tmp_path), "aliases expand")


def test_recursive_alias_and_huge_integer():
    with pytest.raises(YamlFileError, match="contains it"):
        parse_yaml("a: &x [1, *x]\n")
    with pytest.raises(YamlFileError, match="an integer of 5000 characters"):
        parse_yaml("n: " + "9" * 5000 + "\n")


@pytest.mark.parametrize("text", ["a: !!int ", "a: !!float abc", "a: !!timestamp x",
                                  "a: !!python/object:os.system x", "[" * 20000])
def test_yaml_values_that_do_not_fit_their_tag(text):
    with pytest.raises(YamlFileError) as e:
        parse_yaml(text)
    assert "\n" not in e.value.message and len(e.value.message) < 200


def test_oversized_yaml_is_refused(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("x: '" + "a" * MAX_YAML_BYTES + "'\n")
    with pytest.raises(YamlFileError, match="larger than"):
        read_yaml(p)


def test_errors_quote_a_short_prefix_of_a_value(tmp_path):
    src = (REPO / "rules" / "fit-headroom.yaml").read_text().replace("id: fit-headroom", "id: my-long")
    long_value = "[" + ", ".join(["1"] * 5000) + "]"
    (tmp_path / "my-long.yaml").write_text(src.replace("max_batch: fit_max_batch",
                                                       f"max_batch: {long_value}"))
    r = cli("rules", "check", tmp_path)
    assert r.exit_code == 2 and "a list of 5000 item(s)" in r.output and "Traceback" not in r.output
    assert all(len(line) < 300 for line in r.output.splitlines())
    assert short("x" * 1000).endswith("...") and len(short("x" * 1000)) <= 40
    assert "digits" in short(10 ** 5000)


# -- KB entries ----------------------------------------------------------------------------------

def test_kb_entry_with_a_billion_layers(tmp_path):
    kb = kb_model_dir(tmp_path / "kb", layers=1_000_000_000)
    lines = (kb / "models" / "hostile-model.yaml").read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.strip() == "layers: 1000000000")
    r = cli("kb", "validate", kb)  # kb validate lists every error, then a count
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert (f"hostile-model.yaml:{line}: field 'architecture.layers': Input should be less than "
            f"or equal to {MAX_LAYERS}") in r.output
    one_line_error(cli("explain", "hostile-model", "rtx-4090", "--kb", kb), "architecture.layers")


def test_kb_infinite_and_nan_numbers(tmp_path):
    src = (REPO / "kb" / "gpus" / "rtx-4090.yaml").read_text()
    gpus = tmp_path / "kb" / "gpus"
    gpus.mkdir(parents=True)
    entry = src.replace("id: rtx-4090", "id: inf-gpu")
    entry = "\n".join(line for line in entry.splitlines()
                      if not line.startswith(("name:", "aliases:"))) + "\nname: Inf GPU\n"
    import re

    (gpus / "inf-gpu.yaml").write_text(re.sub(r"(?m)^bandwidth_gb_s: .*$", "bandwidth_gb_s: .inf", entry))
    r = cli("kb", "validate", tmp_path / "kb")
    assert r.exit_code == 2 and "bandwidth_gb_s': Input should be a finite number" in r.output


# -- CLI -----------------------------------------------------------------------------------------

def test_a_300_character_model_id():
    line = one_line_error(cli("explain", "a" * 300, "rtx-4090"), "unknown model")
    assert "Traceback" not in line
    one_line_error(cli("explain", "org/" + "a" * 300, "rtx-4090"), "unknown model")
    one_line_error(cli("explain", "./" + "a" * 300 + ".gguf", "rtx-4090"), "no such file")


def test_home_of_a_user_that_does_not_exist():
    one_line_error(cli("explain", "~nosuchuser-advisor/m.gguf", "rtx-4090"), "~nosuchuser-advisor",
                   "no such file")


def test_ram_gb_nan():
    one_line_error(cli("explain", "llama-3.1-8b", "rtx-4090", "--ram-gb", "nan"), "--ram-gb")


def test_rules_new_into_a_file(tmp_path):
    target = tmp_path / "afile"
    target.write_text("keep me")
    one_line_error(cli("rules", "new", "my-rule", "--dir", target), "not a folder")
    assert target.read_text() == "keep me"
    one_line_error(cli("rules", "new", "a" * 300, "--dir", tmp_path / "rules"), "cannot write")
    assert not (tmp_path / "rules").exists() or not any((tmp_path / "rules").iterdir())


def _run(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "advisor", *args], env=env, timeout=120,
                          text=True, **kw)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_output_to_a_full_disk():
    with open("/dev/full", "w") as full:
        r = _run(["explain", "llama-3.1-8b", "rtx-4090"], stdout=full, stderr=subprocess.PIPE)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["advisor: error: cannot write the output: "
                                             "No space left on device"]


@pytest.mark.skipif(os.name != "posix", reason="closing stdout is a POSIX shell's")
def test_output_to_a_closed_stdout():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(f"'{sys.executable}' -m advisor explain llama-3.1-8b rtx-4090 >&-",
                       shell=True, env=env, timeout=120, capture_output=False,
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["advisor: error: standard output is closed: "
                                             "nowhere to write the answer"]
