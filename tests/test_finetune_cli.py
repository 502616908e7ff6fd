"""`advisor explain --task finetune`: options, defaults stated, bad input exits 2 in one line."""
import json

import pytest
from click.testing import CliRunner

from advisor.cli import main


def run(*args):
    return CliRunner().invoke(main, ["explain", *args])


def test_finetune_markdown_states_defaults():
    r = run("llama-3.1-8b", "rtx-4090", "--task", "finetune")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("# LoRA fine-tuning of Llama 3.1 8B on NVIDIA GeForce RTX 4090")
    for d in ("LoRA fine-tuning (the default)", "2,048 tokens (the default)",
              "gradient checkpointing on (the default)", "AdamW (the default)",
              "LoRA rank 16 (the default)"):
        assert d in r.output
    assert "| activations |" in r.output and "| optimizer states |" in r.output


def test_finetune_options_reach_the_sizing():
    r = run("llama-3.1-70b", "h100-80gb", "--task", "finetune", "--method", "qlora",
            "--seq-len", "1024", "--micro-batch", "2", "--no-gradient-checkpointing",
            "--optimizer", "paged-adamw-8bit", "--lora-rank", "8", "--lora-targets", "q,v",
            "--gpus", "2", "--sharding", "fsdp", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    w = d["workload"]
    assert (w["task"], w["method"], w["seq_len"], w["micro_batch"], w["gradient_checkpointing"],
            w["optimizer"], w["lora_rank"], w["lora_targets"], w["sharding"]) == \
        ("finetune", "qlora", 1024, 2, False, "paged-adamw-8bit", 8, ["q", "v"], "fsdp")
    assert d["gpu"]["count"] == 2
    assert d["memory"]["total_bytes"] == 2 * d["memory"]["per_gpu_bytes"]
    assert d["memory"]["trainable_parameters"] == 8 * 80 * ((8192 + 8192) + (8192 + 1024))


def test_inference_json_unchanged_by_finetune_options():
    d = json.loads(run("llama-3.1-8b", "rtx-4090", "--format", "json").output)
    assert d["workload"]["task"] == "inference"
    assert not any(r.startswith("finetune-") for r in d["rules_fired"])


def test_finetune_never_fires_inference_options():
    d = json.loads(run("llama-3.1-70b", "a100-40gb", "--task", "finetune", "--method", "full",
                       "--format", "json").output)
    assert not d["recommendations"]  # inference's notes (headroom, native format) stay out
    assert d["plan"] and all("method" in p and p["runtime"] == "transformers" for p in d["plans"])
    assert d["verdict"] == "does-not-fit"


@pytest.mark.parametrize("args,message", [
    (["--method", "qlora"], "--method applies to --task finetune"),
    (["--task", "finetune", "--lora-rank", "0"], "--lora-rank must be at least 1"),
    (["--task", "finetune", "--method", "qlora", "--sharding", "zero3"], "--gpus 2 or more"),
    (["--task", "finetune", "--context", "4096"], "use --seq-len"),
    (["--task", "finetune", "--batch", "4"], "use --micro-batch"),
    (["--task", "finetune", "--precision", "Q4_K_M"], "--precision applies to inference"),
    (["--task", "finetune", "--method", "full", "--lora-targets", "q"], "not full"),
    (["--task", "finetune", "--lora-targets", "q,attn"], "unknown --lora-targets entry 'attn'"),
    (["--task", "finetune", "--seq-len", "0"], "--seq-len must be at least 1"),
    (["--task", "finetune", "--method", "lora", "--pure-bf16"], "--pure-bf16 applies"),
])
def test_bad_finetune_input_exits_2_in_one_line(args, message):
    r = run("llama-3.1-8b", "rtx-4090", *args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.output
