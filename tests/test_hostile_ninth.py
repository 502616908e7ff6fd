"""Hostile-input findings, ninth round (issue 14; the findings in full: /work/notes/hostile9.md):
what landed with MLX (--runtime mlx, the mlx-* formats, mlx_repos), Ollama's hf.co names, the
KB's rope_scaling and the keeps-choices planner. Each test is one kind of fault the pass found,
checked through the command line."""
from __future__ import annotations

import json

from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error
from tests.file_helpers import config_folder

# Llama 3.1 8B's config.json dimensions
L8 = dict(num_hidden_layers=32, hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
          num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072,
          tie_word_embeddings=False)


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


# -- an MLX conversion's config.json ------------------------------------------------------------

def test_an_mlx_conversions_config_is_sized_at_its_mlx_format(tmp_path):
    """mlx_lm.convert -q writes `quantization: {group_size: 64, bits: 4}` (newer releases copy it
    to a quantization_config without a quant_method). The first was sized as bf16 (16.8 GB for
    an 8B at 4 bits: another model than the file's), the second refused as "quantization method
    'unknown'". Both are MLX's affine format; a width or group the sizing lacks is refused."""
    q4 = {"group_size": 64, "bits": 4}
    for name, extra in (("a", {"quantization": q4}), ("b", {"quantization": q4, "quantization_config": q4})):
        d = config_folder(tmp_path / name, **L8, **extra)
        r = run("explain", str(d), "m4-max-64gb", "--format", "json")
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["workload"]["precision"] == "mlx-4bit" and out["workload"]["runtime"] == "mlx"
        # 8.0e9 weights at 4.5 bits a weight (packed 4-bit values, a 16-bit scale and bias a 64)
        assert 4.0e9 < out["memory"]["weights_bytes"] < 5.0e9, out["memory"]
        # on a card MLX has no backend for: one line naming the file's format, not a --precision
        r = run("explain", str(d), "rtx-4090")
        one_line_error(r, "stored at mlx-4bit", "Apple silicon")
        assert "--precision mlx-4bit" not in r.output
    for name, block, words in (("g32", {"group_size": 32, "bits": 4}, "group_size 32"),
                               ("b5", {"group_size": 64, "bits": 5}, "bits 5"),
                               ("mx", {"group_size": 32, "bits": 4, "mode": "mxfp4"}, "mode 'mxfp4'"),
                               ("mixed", {**q4, "model.layers.0.mlp.down_proj": {"group_size": 64, "bits": 8}},
                                "model.layers.0.mlp.down_proj")):
        d = config_folder(tmp_path / name, **L8, quantization=block)
        one_line_error(run("explain", str(d), "m4-max-64gb"), words)
    d = config_folder(tmp_path / "nomethod", **L8, quantization_config={"load_in_4bit": True})
    one_line_error(run("explain", str(d), "rtx-4090"), "names no quant_method")


# -- a huge Ollama hf.co name ------------------------------------------------------------------

def test_a_huge_hf_co_name_is_refused_in_one_short_line():
    """`hf.co/ORG/REPO:TAG` names were echoed whole in their errors, twice: a 10,000-character
    name gave a 20 KB line (other model names are cut to about 80 characters). A tag longer
    than Ollama's 80 characters was taken and sized."""
    long_tag = "hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:" + "Q" * 5000
    for spec in ("hf.co/" + "a" * 5000 + "/b:" + "Q" * 5000, long_tag,
                 "hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:" + "x" * 81 + "-Q4_K_M.gguf"):
        r = run("explain", spec, "rtx-4090")
        one_line_error(r)
        assert len(r.output) < 400, len(r.output)
    one_line_error(run("explain", long_tag, "rtx-4090"), "at most 80 characters")


def test_an_hf_co_name_of_an_mlx_repo_names_what_the_repo_is():
    """`hf.co/mlx-community/Meta-Llama-3.1-8B-Instruct-4bit` said "no KB model lists it among its
    GGUF repos (closest known: ...)" though the KB lists it as Llama 3.1 8B's MLX conversion; a
    checkpoint repo was already named as such. Both now say what the repo holds and the GGUF
    repos Ollama can pull."""
    r = run("explain", "hf.co/mlx-community/Meta-Llama-3.1-8B-Instruct-4bit", "m4-max-64gb")
    one_line_error(r, "Llama 3.1 8B's MLX conversion", "not a GGUF repo",
                   "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF")


# -- a KV cache only another runtime offers -----------------------------------------------------

def test_a_kv_cache_names_its_runtime_when_none_is_given():
    """`--kv-cache fp8` on an H100 (vLLM's cache), `--kv-cache mlx-4bit` on a Mac (mlx-lm's
    --kv-bits) were refused as "llama.cpp has no fp8 KV cache": a runtime the question never
    named (bf16's default). Without --runtime the cache names the runtime that offers it, and
    every plan keeps it; where none of those runs the format there, one line says why."""
    for gpu, kv, rt in (("h100-80gb", "fp8", "vllm"), ("m4-max-64gb", "mlx-4bit", "mlx"),
                        ("m4-max-64gb", "q5_1", "llama.cpp")):
        r = run("explain", "llama-3.1-8b", gpu, "--kv-cache", kv, "--format", "json")
        assert r.exit_code == 0, r.output
        d = json.loads(r.output)
        assert d["workload"]["runtime"] == rt and d["workload"]["kv_cache_dtype"] == kv
        assert d["plan"]["kv_cache_dtype"] == kv
    one_line_error(run("explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", "mlx-4bit"),
                   "mlx-4bit is MLX's", "Apple silicon")
    one_line_error(run("explain", "llama-3.1-8b", "h100-80gb", "--kv-cache", "fp8", "-p", "Q4_K_M"),
                   "fp8 is vLLM's", "GGUF")
    # a runtime given is the question's: its lack is still the error
    one_line_error(run("explain", "llama-3.1-8b", "h100-80gb", "--kv-cache", "fp8", "--runtime",
                       "llama.cpp"), "llama.cpp has no fp8 KV cache")
    one_line_error(run("explain", "qwen2.5:32b", "rtx-3090", "--kv-cache", "fp8"),
                   "ollama has no fp8 KV cache")


def test_flash_attention_refused_under_a_runtime_names_that_runtime():
    """`--runtime mlx --flash-attn on` said "(vLLM and transformers choose their own attention
    kernels)", of a question under MLX; the runtime given in other case (` MLX`) was echoed as
    typed."""
    one_line_error(run("explain", "llama-3.1-8b", "m4-max-64gb", "--runtime", " MLX", "--flash-attn",
                       "on"), "--runtime mlx does not take it", "MLX (mlx-lm) chooses its own")
    one_line_error(run("explain", "llama-3.1-8b", "h100-80gb", "--runtime", "vllm", "--flash-attn",
                       "off"), "vLLM chooses its own")


# -- an MLX plan beyond the config's positions -------------------------------------------------

def test_an_mlx_plan_beyond_the_configs_positions_carries_the_cards_rope_scaling():
    """Qwen3 14B at 131,072 tokens under MLX was offered as `mlx_lm.server --model ...` alone:
    its config holds 40,960 positions and the card's YaRN (factor 4) is what reaches 131,072;
    llama.cpp, vLLM and transformers plans carry it, Ollama's says it cannot. mlx-lm reads it
    only from config.json: the plan says what to add there; within the positions, nothing."""
    d = json.loads(run("explain", "qwen3-14b", "m4-max-64gb", "-c", "131072", "--runtime", "mlx",
                       "--format", "json").output)
    notes = " ".join(n for p in d["plans"] if p["runtime"] == "mlx" for n in p["notes"])
    assert '"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768' in notes
    assert all(any("rope_scaling" in n for n in p["notes"]) for p in d["plans"]
               if p["runtime"] == "mlx" and p["context_tokens"] > 40960)
    d = json.loads(run("explain", "qwen3-14b", "m4-max-64gb", "-c", "32768", "--runtime", "mlx",
                       "--format", "json").output)
    assert not any("rope_scaling" in n for p in d["plans"] for n in p["notes"])


def test_kb_add_of_an_mlx_conversion_names_where_its_format_came_from(tmp_path):
    """kb add of an mlx-community config.json wrote native_precision bf16 (from torch_dtype),
    then, with the quantization block read, said "native_precision from its torch_dtype"."""
    d = config_folder(tmp_path / "m", **L8, quantization={"group_size": 64, "bits": 4})
    r = run("kb", "add", "--from", str(d / "config.json"), "--id", "mlxq", "--out", str(tmp_path / "kb"))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "kb" / "models" / "mlxq.yaml").read_text()
    assert "native_precision: mlx-4bit" in text and "native_precision from its quantization;" in text


# -- a trailing newline in an id ----------------------------------------------------------------

def test_an_id_with_a_trailing_newline_is_refused(tmp_path):
    """`rules new $'ab\\n'` wrote `ab\\n.yaml` and `ab\\n.test.yaml` (file names holding a newline)
    that its own `rules check` then refused: the id patterns ended in `$`, which also matches
    before a trailing newline. Identifier patterns end at the end of the text."""
    r = run("rules", "new", "ab\n", "--dir", str(tmp_path))
    one_line_error(r, "rule id")
    assert list(tmp_path.iterdir()) == []
    from advisor.files.hub_cache import COMMIT
    from advisor.kb.ollama_hf import parse_hf_name
    from advisor.rules.spec import ID_RE, NAME_RE

    assert not ID_RE.match("ab\n") and not NAME_RE.match("fact\n") and not COMMIT.match("a" * 40 + "\n")
    import pytest

    from advisor.errors import AdvisorError
    with pytest.raises(AdvisorError):
        parse_hf_name("hf.co/org/repo\n:Q4_K_M")


# -- an empty path ------------------------------------------------------------------------------

def test_an_empty_path_is_refused_not_read_as_the_working_folder(tmp_path, monkeypatch):
    """'' (an empty shell variable) is the working folder as a Path: `rules new x --dir ''` and
    `kb add --out ''` wrote there, `--kb ''`, `--rules ''`, `rules check ''`, `rules test ''` and
    `kb validate ''` read whatever it held (rules test ran the cases found there). generate --out
    '' was already refused; every path option is now."""
    monkeypatch.chdir(tmp_path)
    cfg = config_folder(tmp_path / "c", **L8) / "config.json"
    for args in (("rules", "new", "x", "--dir", ""), ("kb", "add", "--from", str(cfg), "--id", "e",
                                                      "--out", ""),
                 ("kb", "add", "--from", " ", "--id", "e", "--out", str(tmp_path / "o")),
                 ("explain", "llama-3.1-8b", "rtx-4090", "--kb", ""),
                 ("explain", "llama-3.1-8b", "rtx-4090", "--rules", ""),
                 ("rules", "check", ""), ("rules", "test", ""), ("kb", "validate", "")):
        one_line_error(run(*args), "is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


# -- KB rope_scaling numbers --------------------------------------------------------------------

def _qwen3_14b_as(tmp_path, **rope):
    import yaml

    from tests.file_helpers import REPO
    e = yaml.safe_load((REPO / "kb" / "models" / "qwen3-14b.yaml").read_text())
    e.update(id="hostile-rope", name="Hostile Rope", aliases=[], siblings=[])
    e["rope_scaling"].update(rope)
    (tmp_path / "models").mkdir(parents=True, exist_ok=True)
    (tmp_path / "models" / "hostile-rope.yaml").write_text(yaml.safe_dump(e, sort_keys=False))
    return tmp_path


def test_a_kb_rope_scaling_number_is_finite():
    """`rope_theta: .inf` passed kb validate and reached the vLLM command as
    `--hf-overrides '{... "rope_theta": Infinity}'`, which is no JSON; `factor: .nan` was
    "less than or equal to 64". Both are refused at their line as not finite."""
    import tempfile
    from pathlib import Path

    for field, value in (("rope_theta", float("inf")), ("factor", float("nan"))):
        with tempfile.TemporaryDirectory() as d:
            kb = _qwen3_14b_as(Path(d), **{field: value})
            r = run("kb", "validate", str(kb))
            assert r.exit_code == 2 and f"rope_scaling.{field}': Input should be a finite number" in r.output, r.output
            one_line_error(run("explain", "hostile-rope", "h100-80gb", "-c", "131072", "--runtime",
                               "vllm", "--kb", str(kb)), "finite")


def test_a_repo_listed_twice_is_refused(tmp_path):
    """mlx_repos (and gguf_repos) took the same repo twice, also in another case (Hugging Face
    ignores a repo id's case), without a word."""
    import yaml

    from tests.file_helpers import REPO
    e = yaml.safe_load((REPO / "kb" / "models" / "llama-3.1-8b.yaml").read_text())
    e.update(id="hostile-mlx", name="Hostile MLX", aliases=[], siblings=[])
    e.pop("distilled_from", None)
    for field, twice in (("mlx_repos", ["mlx-community/Meta-Llama-3.1-8B-Instruct-4bit",
                                        "MLX-Community/Meta-Llama-3.1-8B-Instruct-4bit"]),
                         ("gguf_repos", ["bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"] * 2)):
        entry = {**e, field: twice}
        (tmp_path / "models").mkdir(exist_ok=True)
        (tmp_path / "models" / "hostile-mlx.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
        r = run("kb", "validate", str(tmp_path))
        assert r.exit_code == 2 and f"{field} lists" in r.output and "twice" in r.output, r.output
