"""The thirteenth hostile tester's faults about model files, one kind each (tests fail before
the fix, pass after):

1. a GGUF file the user names was not the file in the command: `llama-server -m NAME-TYPE.gguf`
   (a name from general.name) with "convert the checkpoint" as the first step, where the user
   has the file and no checkpoint;
2. Llama 3.2 Vision (mllama) under Ollama: "fits" with a convert_hf_to_gguf.py step llama.cpp
   cannot do;
3. non-decoder architectures (GGUF bert, t5, mamba, clip; config.json mamba, rwkv, whisper, t5)
   were sized as llama decoders with a KV cache;
4. smaller ones: an unknown NVIDIA card without compute_cap, a GGUF alignment of 2^31, KB
   prices and dates, bitsandbytes 4 and 8 bits at once, GPTQ group_size 0.
"""
from __future__ import annotations

import json
import shlex

import pytest
from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error
from tests.file_helpers import (LLAMA_CONFIG, STRING, U32, config_folder, gguf_bytes,
                                llama_gguf)
from tests.test_files import write_gguf


def explain(*args):
    return CliRunner().invoke(main, ["explain", *map(str, args)])


def commands(text: str) -> list[str]:
    """Every llama-server / ollama / llama-quantize command line in an advisory's markdown."""
    return [ln for ln in text.splitlines() if ln.startswith(("llama-server", "ollama run"))]


# --- 1. the GGUF the user names is the file the plans load ------------------------------------

@pytest.mark.parametrize("ftype, own", [("Q4_K", "Q4_K_M"), ("F16", "fp16")])
def test_users_gguf_is_the_file_in_the_command(tmp_path, ftype, own):
    path = tmp_path / "my model.gguf"
    write_gguf(path, ftype=ftype)
    r = explain(path, "rtx-4090")
    assert r.exit_code == 0, r.output
    what = r.output.split("## What to do", 1)[1].split("## Assumptions", 1)[0]
    assert f"llama-server -m {shlex.quote(str(path))} " in what, what
    assert "convert_hf_to_gguf" not in what and "convert the checkpoint" not in what, what
    data = json.loads(CliRunner().invoke(main, ["explain", str(path), "rtx-4090",
                                                "--format", "json"]).output)
    asked = [p for p in data["plans"] if p["path"] == "as-asked"] if "plans" in data else []
    for p in asked:
        assert str(path) in (p.get("command") or ""), p


def test_users_f32_gguf_at_bf16_is_requantized_not_converted(tmp_path):
    path = llama_gguf(tmp_path / "m.gguf")  # F32 tensors
    r = explain(path, "rtx-4090", "--precision", "bf16")
    assert r.exit_code == 0, r.output
    assert f"llama-quantize {path} m-BF16.gguf BF16" in r.output, r.output
    assert "llama-server -m m-BF16.gguf" in r.output, r.output
    assert "--allow-requantize" not in r.output
    assert "convert the checkpoint" not in r.output


def test_users_quantized_gguf_at_a_lower_type_requantizes_it(tmp_path):
    path = tmp_path / "q4.gguf"
    write_gguf(path)
    r = explain(path, "rtx-4090", "--precision", "Q2_K")
    assert r.exit_code == 0, r.output
    assert f"llama-quantize --allow-requantize {path} q4-Q2_K.gguf Q2_K" in r.output, r.output
    assert "llama-server -m q4-Q2_K.gguf" in r.output
    what = r.output.split("## What to do", 1)[1].split("## Assumptions", 1)[0]
    assert "convert the checkpoint" not in what


def test_users_gguf_at_an_importance_matrix_type(tmp_path):
    path = tmp_path / "q4.gguf"
    write_gguf(path)
    r = explain(path, "rtx-4090", "--precision", "IQ2_XS")
    assert r.exit_code == 0, r.output
    assert f"llama-imatrix -m {path} -f CALIBRATION.txt -o imatrix.dat" in r.output, r.output
    assert (f"llama-quantize --allow-requantize --imatrix imatrix.dat {path} q4-IQ2_XS.gguf IQ2_XS"
            in r.output), r.output


def test_users_quantized_gguf_never_claims_a_better_type_from_itself(tmp_path):
    """A BF16 plan cannot be made from a Q4_K_M file: the note says it comes from the original
    checkpoint, not the file."""
    path = tmp_path / "q4.gguf"
    write_gguf(path)
    r = explain(path, "rtx-4090")
    assert r.exit_code == 0, r.output
    for line in r.output.splitlines():
        if "BF16.gguf" in line:
            assert "llama-quantize" not in line, line
            assert "original checkpoint" in line and "not from the Q4_K_M file" in line, line


def test_users_gguf_under_ollama_at_another_type(tmp_path):
    path = tmp_path / "f16.gguf"
    write_gguf(path, ftype="F16")
    r = explain(path, "rtx-4090", "--runtime", "ollama", "--precision", "Q4_K_M")
    assert r.exit_code == 0, r.output
    assert f"FROM {path}`" not in r.output, r.output  # not the F16 file under a Q4_K_M verdict
    assert f"llama-quantize {path} f16-Q4_K_M.gguf Q4_K_M" in r.output, r.output
    assert "FROM ./f16-Q4_K_M.gguf" in r.output
    assert "ollama run f16-q4_k_m" in r.output


# --- 2. an architecture llama.cpp cannot convert gets no convert step -------------------------

@pytest.mark.parametrize("model", ["llama-3.2-11b-vision", "llama-3.2-90b-vision"])
def test_mllama_under_ollama_cannot_run(model):
    r = CliRunner().invoke(main, ["explain", model, "h100", "--runtime", "ollama", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["verdict"] == "cannot-run", data["verdict"]
    assert "mllama" in data["cannot_run"] and "Ollama" in data["cannot_run"]
    for plan in data["plans"]:
        cmd = plan.get("command") or ""
        notes = " ".join(plan.get("notes") or [])
        assert plan["runtime"] not in ("ollama", "llama.cpp"), plan
        assert "python convert_hf_to_gguf" not in cmd + notes, plan


def test_mllama_markdown_under_ollama_has_no_conversion():
    r = explain("llama-3.2-11b-vision", "rtx-4090", "--runtime", "ollama")
    assert r.exit_code == 0, r.output
    assert "Verdict: cannot run." in r.output
    assert "convert_hf_to_gguf.py Llama" not in r.output and "ollama run" not in r.output, r.output


def test_mllama_config_folder_under_ollama_cannot_run(tmp_path):
    cfg = {"model_type": "mllama", "architectures": ["MllamaForConditionalGeneration"],
           "text_config": {**LLAMA_CONFIG, "model_type": "mllama_text_model", "num_hidden_layers": 5,
                           "cross_attention_layers": [3]},
           "vision_config": {"image_size": 560, "patch_size": 14, "max_num_tiles": 4}}
    folder = config_folder(tmp_path / "mllama", json.dumps(cfg))
    r = explain(folder, "rtx-4090", "--runtime", "ollama")
    assert r.exit_code in (0, 2), r.output
    if r.exit_code == 0:
        assert "Verdict: cannot run." in r.output, r.output
        assert "ollama run" not in r.output and "python convert_hf_to_gguf" not in r.output, r.output


# --- 3. non-decoder architectures are refused, not sized as llama ----------------------------

def _arch_gguf(path, arch, tensors=None):
    meta = {"block_count": 2, "embedding_length": 64, "attention.head_count": 4,
            "attention.head_count_kv": 2, "feed_forward_length": 128, "context_length": 2048}
    kv = [("general.architecture", STRING, arch)] + [(f"{arch}.{k}", U32, v) for k, v in meta.items()]
    ts = tensors or [("token_embd.weight", (64, 32)), ("blk.0.attn_q.weight", (64, 64)),
                     ("blk.1.attn_q.weight", (64, 64))]
    path.write_bytes(gguf_bytes(kv, ts))
    return path


@pytest.mark.parametrize("arch", ["bert", "nomic-bert", "t5", "t5encoder", "mamba", "mamba2",
                                  "rwkv7", "clip", "jamba"])
def test_gguf_of_a_non_decoder_is_refused(tmp_path, arch):
    ts = None
    if arch == "jamba":  # a hybrid with Mamba layers
        ts = [("token_embd.weight", (64, 32)), ("blk.0.ssm_in.weight", (64, 64)),
              ("blk.1.attn_q.weight", (64, 64))]
    r = explain(_arch_gguf(tmp_path / "x.gguf", arch, ts), "rtx-4090")
    one_line_error(r, f"general.architecture {arch}", "decoder-only")


@pytest.mark.parametrize("model_type", ["mamba", "rwkv", "whisper", "t5", "bart", "falcon_mamba",
                                        "siglip"])
def test_config_of_a_non_decoder_is_refused(tmp_path, model_type):
    r = explain(config_folder(tmp_path / model_type, model_type=model_type), "rtx-4090")
    one_line_error(r, f"model_type '{model_type}'", "decoder-only")


def test_hybrid_model_type_with_attention_layers_only_is_sized(tmp_path):
    """granite-4.0-micro: GraniteMoeHybridForCausalLM whose layer_types are all attention."""
    folder = config_folder(tmp_path / "micro", model_type="granitemoehybrid",
                           layer_types=["attention", "attention"])
    r = explain(folder, "rtx-4090")
    assert r.exit_code == 0, r.output
    mamba = config_folder(tmp_path / "h", model_type="granitemoehybrid",
                          layer_types=["mamba", "attention"])
    one_line_error(explain(mamba, "rtx-4090"), "hybrid", "decoder-only")


def test_llama_gguf_and_config_still_sized(tmp_path):
    assert explain(llama_gguf(tmp_path / "l.gguf"), "rtx-4090").exit_code == 0
    assert explain(config_folder(tmp_path / "c"), "rtx-4090").exit_code == 0


# --- 4. smaller ones ---------------------------------------------------------------------------

def test_unknown_nvidia_card_without_compute_cap_is_described(tmp_path, monkeypatch):
    """nvidia-smi before driver 510 has no compute_cap: the card is described with assumptions
    (architecture unknown), not refused with the validator's 'fact(s) without a source'."""
    folder = tmp_path / "bin"
    folder.mkdir()
    tool = folder / "nvidia-smi"
    tool.write_text('#!/bin/sh\ncase "$*" in *compute_cap*) echo "Field compute_cap is not valid" >&2; '
                    'exit 2;; esac\necho "NVIDIA GeForce GTX 1080 Ti, 11264"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("ADVISOR_NO_NVML", "1")
    r = CliRunner().invoke(main, ["explain", "llama-3.2-1b", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "without a source" not in r.output and "Value error" not in r.output
    doc = json.loads(r.output)
    assert not doc["hardware"]["gpu"]["known"]
    assert any("architecture unknown" in a for a in doc["hardware"]["assumed"])


def test_gguf_alignment_past_the_file_is_one_clear_line(tmp_path):
    path = llama_gguf(tmp_path / "a.gguf", extra=[("general.alignment", U32, 2**31)])
    r = explain(path, "rtx-4090")
    one_line_error(r, "general.alignment 2,147,483,648", "past the end")
    assert "-2" not in r.output.split("general.alignment", 1)[1].split("past")[0]


def _gpu_kb(tmp_path, old, new):
    from tests.file_helpers import REPO

    d = tmp_path / "kb"
    (d / "gpus").mkdir(parents=True)
    text = (REPO / "kb" / "gpus" / "rtx-4090.yaml").read_text()
    assert old in text
    (d / "gpus" / "rtx-4090.yaml").write_text(text.replace(old, new))
    return d


@pytest.mark.parametrize("price", ["1e-9", "1e-300", "1E-5"])
def test_kb_price_below_the_minimum_names_the_minimum(tmp_path, price):
    d = _gpu_kb(tmp_path, "usd_per_hour: 1.116", f"usd_per_hour: {price}")
    r = explain("llama-3.1-8b", "rtx-4090", "--kb", d)
    one_line_error(r, "usd_per_hour", "$0.01")
    assert "valid number" not in r.output


def test_kb_price_in_exponent_form_is_a_number(tmp_path):
    d = _gpu_kb(tmp_path, "usd_per_hour: 1.116", "usd_per_hour: 2e0")
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "--kb", str(d)])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("date, words", [("2026-13-45", "no calendar date"),
                                         ("2025-02-30", "no calendar date"),
                                         ("2026-00", "no calendar date"),
                                         ("9999-12-31", "in the future")])
def test_kb_impossible_dates_are_refused(tmp_path, date, words):
    d = _gpu_kb(tmp_path, 'date: "2026-11-30"', f'date: "{date}"')
    r = explain("llama-3.1-8b", "rtx-4090", "--kb", d)
    one_line_error(r, date, words)


def test_bitsandbytes_4_and_8_bits_at_once_is_refused(tmp_path):
    folder = config_folder(tmp_path / "bnb", quantization_config={
        "quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": True})
    one_line_error(explain(folder, "rtx-4090"), "load_in_4bit", "load_in_8bit")


@pytest.mark.parametrize("group", [0, -2, "128", True])
def test_gptq_group_size_that_is_no_group_is_refused(tmp_path, group):
    folder = config_folder(tmp_path / "gptq", quantization_config={
        "quant_method": "gptq", "bits": 4, "group_size": group})
    one_line_error(explain(folder, "rtx-4090"), "group_size")


@pytest.mark.parametrize("group", [128, -1, 32])
def test_gptq_group_sizes_that_are_groups_are_read(tmp_path, group):
    folder = config_folder(tmp_path / "gptq", quantization_config={
        "quant_method": "gptq", "bits": 4, "group_size": group})
    r = explain(folder, "rtx-4090")
    assert r.exit_code == 0, r.output


def test_a_users_path_in_a_command_is_one_shell_word_without_control_characters():
    """The file the user names goes into `llama-server -m PATH` as it is (issue 14, 13th pass):
    a name with a newline, an escape sequence, a quote or a bidi override is one word that bash
    reads back as the same name, and prints no control character."""
    import shutil
    import subprocess

    from advisor.plans.commands import shell_word

    names = ["/tmp/a b.gguf", "it's.gguf", "ev\x1b[2Jil\n# Heading <img src=x> \u202e.gguf",
             "tab\there\\back.gguf", "plain.gguf"]
    for name in names:
        word = shell_word(name)
        assert word.isprintable() and "\u202e" not in word
        if shutil.which("bash"):
            got = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True,
                                 text=True, check=True).stdout
            assert got == name, (name, word)


def test_a_rulebook_without_a_verdict_is_refused_by_rules_check_and_explain(tmp_path):
    """hostile pass 13: a --rules folder whose verdict-fits.yaml replaces the built-in with a rule
    that only recommends passed `rules check`, after which every explain that fits failed with
    "the rulebook gave 0 verdicts". Both now name the verdict no rule gives."""
    from tests.file_helpers import REPO

    text = (REPO / "rules" / "fit-headroom.yaml").read_text().replace("id: fit-headroom",
                                                                       "id: verdict-fits")
    (tmp_path / "verdict-fits.yaml").write_text(text)
    r = CliRunner().invoke(main, ["rules", "check", str(tmp_path)])
    assert r.exit_code == 2 and "no rule gives the verdict 'fits'" in r.output
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "h100-80gb", "--rules", str(tmp_path)])
    assert r.exit_code == 2 and "no rule gives the verdict 'fits'" in r.output
    assert "Traceback" not in r.output
