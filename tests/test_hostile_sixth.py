"""Hostile-input findings, sixth round (issue 14; the findings in full: /work/notes/hostile6.md).
Each test is one kind of fault the fresh pass found, checked through the command line."""
from __future__ import annotations

import json
import shutil

import yaml
from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error
from tests.file_helpers import LLAMA_CONFIG, config_folder, llama_gguf


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


# -- a GGUF file is a GGUF by its magic, not its name --------------------------------------------

def test_a_gguf_file_without_the_gguf_suffix_is_read(tmp_path):
    """llama.cpp opens a GGUF whatever its name (model.bin, a blob without a suffix); advisor
    refused it as 'not a model file'. Now the magic decides, and a FIFO is still never opened."""
    import os

    good = llama_gguf(tmp_path / "ok.gguf")
    want = json.loads(run("explain", str(good), "rtx-4090", "--format", "json").output)
    for name in ("model.bin", "blob", "OK.GgUf"):
        shutil.copy(good, tmp_path / name)
        r = run("explain", str(tmp_path / name), "rtx-4090", "--format", "json")
        assert r.exit_code == 0, r.output
        got = json.loads(r.output)
        assert got["verdict"] == want["verdict"] and got["workload"] == {**want["workload"], **{
            k: v for k, v in got["workload"].items() if k in ("source",)}}
        assert run("gpus", str(tmp_path / name)).exit_code == 0
    (tmp_path / "text.bin").write_text("not a model")
    one_line_error(run("explain", str(tmp_path / "text.bin"), "rtx-4090"), "not a model file")
    os.mkfifo(tmp_path / "pipe")
    one_line_error(run("explain", str(tmp_path / "pipe"), "rtx-4090"), "not a model file")


def test_kb_add_from_a_gguf_file_says_what_kb_add_reads(tmp_path):
    """`kb add --from model.gguf` said 'not UTF-8 text (byte 308)'; a folder with a config.json
    was refused as a folder. Now a GGUF is named as one, and a snapshot folder gives its config."""
    g = llama_gguf(tmp_path / "m.gguf")
    shutil.copy(g, tmp_path / "m.bin")
    for f in (g, tmp_path / "m.bin"):
        one_line_error(run("kb", "add", "--from", str(f), "--id", "x", "--out", str(tmp_path / "kb")),
                       "is a GGUF file", "config.json")
    folder = config_folder(tmp_path / "snap")
    r = run("kb", "add", "--from", str(folder), "--id", "from-folder", "--out", str(tmp_path / "kb"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "kb" / "models" / "from-folder.yaml").is_file()


# -- kb add records the precision config.json names -------------------------------------------------

def test_kb_add_records_the_checkpoints_precision(tmp_path):
    """kb add wrote no native_precision, so an FP8 checkpoint's entry was sized at bf16 ('assumed:
    the knowledge base does not record the format'), while explain on the same config.json said
    fp8. The entry now carries what config.json names, with its source; nothing when it names none."""
    kb = tmp_path / "kb"
    cases = {"fp8": {"quantization_config": {"quant_method": "fp8"}},
             "fp16": {"torch_dtype": "float16"}, "nf4": {"quantization_config": {
                 "quant_method": "bitsandbytes", "load_in_4bit": True}}}
    for want, over in cases.items():
        cfg = config_folder(tmp_path / want, **over) / "config.json"
        r = run("kb", "add", "--from", str(cfg), "--id", f"m-{want}", "--out", str(kb))
        assert r.exit_code == 0, r.output
        entry = yaml.safe_load((kb / "models" / f"m-{want}.yaml").read_text())
        assert entry["native_precision"] == want
        assert "native_precision" in entry["sources"][0]["fields"]
        adv = json.loads(run("explain", f"m-{want}", "h100-80gb", "--kb", str(kb), "--format", "json").output)
        assert adv["workload"]["precision"] == want, adv["workload"]
    bare = dict(LLAMA_CONFIG)
    bare.pop("torch_dtype")
    cfg = config_folder(tmp_path / "bare", text=json.dumps(bare)) / "config.json"
    assert run("kb", "add", "--from", str(cfg), "--id", "m-bare", "--out", str(kb)).exit_code == 0
    assert "native_precision" not in yaml.safe_load((kb / "models" / "m-bare.yaml").read_text())
    cfg = config_folder(tmp_path / "auto", torch_dtype="auto") / "config.json"
    one_line_error(run("kb", "add", "--from", str(cfg), "--id", "m-auto", "--out", str(kb)), "torch_dtype")


# -- fine-tuning on a Mac: the GPU's share of unified memory ---------------------------------------

def test_fine_tuning_on_a_mac_uses_the_gpus_share_of_memory():
    """Fine-tuning on a 64 GiB M4 Max was sized against all 68.7 GB, while inference on the same
    machine uses the 51.5 GB macOS lets the GPU wire (gpu_memory_share). A run between the two
    'fit' and then fails. Every fine-tuning number now uses the share."""
    r = run("explain", "llama-3.1-8b", "m4-max-64gb", "--task", "finetune", "--format", "json")
    adv = json.loads(r.output)
    inf = json.loads(run("explain", "llama-3.1-8b", "m4-max-64gb", "--format", "json").output)
    share = adv["facts"]["available_bytes"] if "facts" in adv else None
    md = run("explain", "llama-3.1-8b", "m4-max-64gb", "--task", "finetune").output
    assert "68.7 GB" not in md and "51.5 GB" in md, md
    assert "of the 64.0 GiB of unified memory" in md
    if share is not None:
        assert share == inf["facts"]["available_bytes"]
    # a model whose LoRA total lies between the share and the whole memory: no longer 'fits'
    fit = run("fit", "m4-max-64gb", "--task", "finetune", "--format", "json")
    rows = json.loads(fit.output)
    rows = rows["models"] if isinstance(rows, dict) else rows
    assert rows and all(r["per_gpu_bytes"] <= 0.75 * 64 * 2**30 for r in rows)
    # a discrete card is unchanged: all of its memory
    md = run("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune").output
    assert "the card has 25.8 GB" in md


# -- counts read as English --------------------------------------------------------------------------

def test_one_token_and_one_layer_are_singular():
    """--context 1 printed 'a context of 1 tokens', --seq-len 1 'sequences of 1 tokens', -ngl 1
    'the GPU's 1 layers'; fit's heading '1 tokens of context'."""
    texts = [run("explain", "llama-3.1-8b", "rtx-4090", "-c", "1", "--why").output,
             run("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", "--seq-len", "1").output,
             run("explain", "llama-3.1-8b", "rtx-4090", "-ngl", "1").output,
             run("gpus", "llama-3.1-8b", "-c", "1").output]
    for t in texts:
        assert " 1 tokens" not in t and " 1 layers" not in t and "(1 tokens" not in t, t
    assert "a context of 1 token and" in texts[0]
    assert "sequences of 1 token," in texts[1]
    assert "8,192 tokens" in run("explain", "llama-3.1-8b", "rtx-4090").output


# -- -ngl given where it is not an option -------------------------------------------------------------

def test_ngl_on_a_command_without_it_is_named():
    """`fit rtx-4090 -ngl 10` was read by click as `-n gl`: "Invalid value for '--gpus' / '-n':
    'gl' is not a valid integer". fit, gpus and generate now name the option they do not take."""
    for args in (("fit", "rtx-4090"), ("gpus", "llama-3.1-8b"),
                 ("generate", "--out", "/nonexistent/never", "-m", "llama-3.1-8b", "-g", "rtx-4090")):
        r = run(*args, "-ngl", "10")
        one_line_error(r, "--n-gpu-layers", "does not take it")
        assert "'gl'" not in r.output
    assert run("fit", "rtx-4090", "-n", "2", "--format", "json").exit_code == 0


# -- an empty model name is not the working folder ----------------------------------------------------

def test_an_empty_model_is_not_the_working_folder(tmp_path, monkeypatch):
    """`gpus ''` read Path('') -- the working folder -- and answered for the GGUF found there."""
    llama_gguf(tmp_path / "only.gguf")
    monkeypatch.chdir(tmp_path)
    for args in (("gpus", ""), ("gpus", "  "), ("explain", "", "rtx-4090")):
        one_line_error(run(*args), "the model is empty")


# -- config.json fields that describe another model ---------------------------------------------------

def test_layer_types_must_name_every_layer(tmp_path):
    """A gemma3_text config whose layer_types named 1 layer for 2 was sized (explain) and mapped
    (kb add) as if the short list were the model's pattern. One kind a layer, or one line."""
    for bad, word in ((["sliding_attention"], "names 1 layer, but"), ("sliding", "not a list"),
                      ([1, 2], "not a list")):
        folder = config_folder(tmp_path / f"c{len(str(bad))}", model_type="gemma3_text",
                               sliding_window=512, layer_types=bad)
        one_line_error(run("explain", str(folder), "rtx-4090"), "layer_types", word)
        one_line_error(run("kb", "add", "--from", str(folder / "config.json"), "--id", "x",
                           "--out", str(tmp_path / "kb")), "layer_types")
    good = config_folder(tmp_path / "good", model_type="gemma3_text", sliding_window=512,
                         layer_types=["sliding_attention", "full_attention"])
    assert run("explain", str(good), "rtx-4090").exit_code == 0


def test_awq_at_other_than_four_bits_is_refused(tmp_path):
    """quantization_config {quant_method: awq, bits: 99} was sized as 4-bit AWQ without a word."""
    folder = config_folder(tmp_path / "awq", quantization_config={"quant_method": "awq", "bits": 8})
    one_line_error(run("explain", str(folder), "rtx-4090"), "AWQ at 8 bits")
    folder = config_folder(tmp_path / "awq4", quantization_config={"quant_method": "awq", "bits": 4})
    assert run("explain", str(folder), "rtx-4090").exit_code == 0


def test_a_config_json_that_is_no_file_is_named(tmp_path):
    """A folder whose config.json is a link to /dev/zero (or a folder) said 'no config.json or
    .gguf file in this folder'; it names what config.json is instead."""
    import os

    (tmp_path / "dev").mkdir()
    os.symlink("/dev/zero", tmp_path / "dev" / "config.json")
    one_line_error(run("explain", str(tmp_path / "dev"), "rtx-4090"), "config.json: a device")
    (tmp_path / "dir" / "config.json").mkdir(parents=True)
    one_line_error(run("explain", str(tmp_path / "dir"), "rtx-4090"), "config.json: a folder")


# -- KB folders and entries that contradict themselves ------------------------------------------------

def test_a_kb_kind_folder_that_is_a_file_is_an_error(tmp_path):
    """--kb DIR whose models is a file was read as a KB without models: 'kb validate' said ok and
    explain said 'unknown model'."""
    kb = tmp_path / "kb"
    (kb / "gpus").mkdir(parents=True)
    (kb / "models").write_text("x")
    one_line_error(run("explain", "llama-3.1-8b", "rtx-4090", "--kb", str(kb)), "models:1: not a folder")
    assert run("kb", "validate", str(kb)).exit_code == 2


def test_a_gpu_may_not_claim_a_format_its_architecture_lacks(tmp_path):
    """A GPU entry of architecture turing with fp8_tflops passed kb validate, and explain then ran
    FP8 under vLLM on it ('fits'), which the built-in T4 (Turing) refuses."""
    from tests.file_helpers import REPO

    entry = yaml.safe_load((REPO / "kb" / "gpus" / "rtx-4090.yaml").read_text())
    entry.update(id="hg", name="Hostile G", aliases=[], architecture="turing")
    entry.pop("bf16_tflops")
    (tmp_path / "kb" / "gpus").mkdir(parents=True)
    (tmp_path / "kb" / "gpus" / "hg.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    r = run("explain", "llama-3.1-8b", "hg", "--kb", str(tmp_path / "kb"), "-p", "fp8", "--runtime", "vllm")
    one_line_error(r, "fp8_tflops is given", "turing")


def test_kb_list_prints_names_as_markdown_text(tmp_path):
    """kb list is a markdown table; a name with a link, a code fence or an HTML comment was
    printed raw (only '|' was escaped)."""
    from tests.file_helpers import kb_model_dir

    root = kb_model_dir(tmp_path / "kb")
    p = root / "models" / "hostile-model.yaml"
    entry = yaml.safe_load(p.read_text())
    entry["name"] = "M ``` <!-- [a](javascript:x) | y"
    p.write_text(yaml.safe_dump(entry, sort_keys=False))
    out = run("kb", "list", "models", env={"ADVISOR_KB": str(root)}).output
    row = next(line for line in out.splitlines() if line.startswith("| hostile-model"))
    import re

    # every markdown-special character is escaped: no link, fence or comment survives
    assert not re.search(r"(?<!\\)[\[\]`<|]", row.strip("| ").replace(" | ", "")), row
    assert "\\[a\\](javascript:x)" in row and "\\`\\`\\`" in row and "\\<!--" in row


def test_kb_add_from_a_repo_quant_says_what_kb_add_reads(tmp_path):
    """`kb add --from org/repo:Q8_0` said 'cannot read: No such file or directory'."""
    one_line_error(run("kb", "add", "--from", "org/repo:Q8_0", "--out", str(tmp_path / "kb")),
                   "REPO:QUANT", "config.json")


# -- --data-parallel-size kept by every plan, rented counts included ----------------------------------

def test_data_parallel_on_a_model_that_needs_renting_is_an_answer():
    """`explain llama-3.1-70b rtx-4090 --gpus 2 --data-parallel-size 2` crashed with
    ZeroDivisionError: the rent path's speed bound tried 1 rented card with DP 2 (tensor parallel
    0). Counts that cannot keep the data-parallel size give no plan there, as they give none
    when sized."""
    r = run("explain", "llama-3.1-70b", "rtx-4090", "--gpus", "2", "--data-parallel-size", "2",
            "--format", "json")
    assert r.exit_code == 0, r.output
    adv = json.loads(r.output)
    for plan in adv["plans"]:
        if plan.get("gpu_count") and plan["runtime"] == "vllm":
            assert plan["gpu_count"] % 2 == 0, plan
