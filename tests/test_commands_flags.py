"""Every launch command the tool prints parses against its runtime's flags (issue 12).

The flags, with the runtime version and source each list was read from, are
advisor/data/runtime_flags.yaml; advisor/plans/flags.py checks a command. The commands are
collected the way `advisor explain` prints them (the JSON's `plan` and `plans`, the same
commands the markdown shows) over the built-in KB: every model, each on a few questions drawn
deterministically from GPUs (NVIDIA consumer and datacenter, with and without bfloat16; AMD;
Apple), runtimes, precisions (GGUF types, AWQ, FP8, NF4, int8, the default), KV caches and GPU
counts, so the whole matrix is touched without sizing all of it. Also: no `--dtype float16` for a
model published in bf16 (vLLM's auto dtype picks a card's fallback itself, and refuses float16 for
Gemma 2/3), and no CUDA wording in an advisory for an Apple or AMD GPU.
"""
from __future__ import annotations

import json
import re

import pytest

from advisor.errors import AdvisorError
from advisor.kb import load_kb
from advisor.plans.flags import check_command
from advisor.render import render_json, render_markdown

KB = load_kb()
MODELS = [m.id for m in KB.all_models()]
GPUS = ["rtx-3060-12gb", "rtx-4090", "rtx-5090", "t4", "v100-sxm2-32gb", "a100-80gb",
        "h100-80gb", "mi300x", "m3-max-128gb", "m2-ultra-192gb"]
RUNTIMES = [None, "llama.cpp", "vllm", "transformers", "ollama"]
PRECISIONS = [None, "Q4_K_M", "awq", "fp8", "nf4", "Q8_0", "int8", "IQ4_XS", "bf16"]
KV = [None, "q8_0", "fp8", None, "q4_0"]
COUNTS = [1, 2, 4, 1, 8]
PER_MODEL = 3


def questions() -> list[tuple]:
    """(model, gpu, runtime, precision, kv, gpus): PER_MODEL a model, each axis stepping at its
    own stride so neighbouring models differ on every axis."""
    out = []
    for i, m in enumerate(MODELS):
        for k in range(PER_MODEL):
            j = i * PER_MODEL + k
            out.append((m, GPUS[(j * 3) % len(GPUS)], RUNTIMES[(j + i) % len(RUNTIMES)],
                        PRECISIONS[(j * 5 + k) % len(PRECISIONS)], KV[(j * 2) % len(KV)],
                        COUNTS[(j + 2 * k) % len(COUNTS)]))
    # the vendors where CUDA wording would be wrong, under each runtime that can be asked there
    for m in ("llama-3.1-8b", "gemma-3-27b", "qwen2.5-72b"):
        for g in ("mi300x", "m3-max-128gb"):
            for rt in RUNTIMES:
                out.append((m, g, rt, None, None, 1))
    # SGLang, asked by name (never planned otherwise): formats, an FP8 cache, TP, AMD, two nodes
    for m, g, p, kv, n in (("llama-3.1-8b", "h100-80gb", None, "fp8", 1),
                           ("qwen2.5-72b", "a100-80gb", "awq", None, 2),
                           ("llama-3.1-70b", "mi300x", "fp8", None, 1),
                           ("deepseek-v3", "h200", None, None, 8),
                           ("llama-3.1-405b", "h100-80gb", "fp8", None, 16)):
        out.append((m, g, "sglang", p, kv, n))
    # Ollama names (answered under Ollama) with its server settings: context, KV type, parallel
    for m, g, kv, n in (("llama3.1:70b", "rtx-4090", None, 1), ("llama3.1:8b", "rtx-3060-12gb", "q8_0", 1),
                        ("qwen2.5:32b-instruct-q4_K_M", "rtx-3090", "q4_0", 2), ("llama3.1:8b", "m3-max-128gb", None, 1)):
        out.append((m, g, None, None, kv, n))
    return out


@pytest.fixture(scope="module")
def advisories(advisor):
    """(question, advisory) for every question the tool answers (one it refuses, e.g. vLLM on a
    Mac, prints no command)."""
    out = []
    for q in questions():
        m, g, rt, p, kv, n = q
        try:
            out.append((q, advisor.explain(m, g, precision=p, gpus=n, runtime=rt, kv_cache=kv)))
        except AdvisorError:
            continue
    return out


def printed_commands(adv) -> list[str]:
    """The commands `advisor explain --format json` prints: What to do's and each path's, and
    the `ollama serve` lines its notes give (Ollama's server settings)."""
    doc = json.loads(render_json(adv))
    plans = ([doc["plan"]] if doc["plan"] else []) + doc["plans"]
    serve = [c for p in plans for n in p.get("notes") or () for c in re.findall(r"`([^`]*ollama serve)`", n)]
    return [p["command"] for p in plans if p.get("command")] + serve


def test_every_printed_command_parses(advisories):
    seen: dict[str, int] = {}
    bad = []
    for q, adv in advisories:
        for command in printed_commands(adv):
            result = check_command(command)
            seen[result.runtime] = seen.get(result.runtime, 0) + 1
            if not result.ok:
                bad.append((q, command, [str(p) for p in result.problems]))
    assert not bad, "\n".join(f"{q}: {c}\n  {p}" for q, c, p in bad[:20])
    # the matrix reached every runtime and the flags with a fixed value set
    # (mlx_lm.server: plans on Apple GPUs may choose MLX)
    assert set(seen) == {"llama-server", "vllm", "transformers", "ollama", "ollama-serve",
                         "mlx_lm.server", "sglang"}, seen
    text = "\n".join(c for _, adv in advisories for c in printed_commands(adv))
    for flag in ("-fa on", "-ctk q8_0", "-ctk q4_0", "-sm layer -ts", "--n-cpu-moe", "-hf ", "-m ",
                 "--tensor-parallel-size", "--kv-cache-dtype fp8", "--quantization fp8",
                 "--max-model-len", "--tp-size", "--kv-cache-dtype fp8_e4m3", "--nnodes",
                 "BitsAndBytesConfig(load_in_4bit=True", "BitsAndBytesConfig(load_in_8bit=True",
                 "ollama run hf.co/", "ollama run llama3.1:70b", "OLLAMA_CONTEXT_LENGTH=",
                 "OLLAMA_KV_CACHE_TYPE=q8_0", "OLLAMA_KV_CACHE_TYPE=q4_0"):
        assert flag in text, f"no printed command has {flag!r}: widen the matrix"


def test_no_float16_dtype_for_bf16_models(advisories):
    bad = [(q, c) for q, adv in advisories for p in (([adv.plan] if adv.plan else []) + list(adv.path_plans))
           if p.model.native_precision == "bf16" and p.command and "--dtype float16" in (c := p.command)]
    assert not bad, bad[:10]


def test_no_cuda_wording_on_apple_or_amd(advisories):
    shown = 0
    for q, adv in advisories:
        if adv.situation.gpu.vendor not in ("apple", "amd"):
            continue
        text = render_markdown(adv)
        shown += 1
        # a plan on NVIDIA hardware (a rented NVIDIA card) rightly speaks of CUDA: its line names it
        lines = [line for line in text.splitlines() if "CUDA" in line and "NVIDIA" not in line]
        assert not lines, (q, lines)
    assert shown >= 20, shown


@pytest.mark.parametrize("command, problem", [
    ("llama-server -m x.gguf -ngl 33 -c 8192 -fa -ctk q8_0 -ctv q8_0", "-fa '-ctk'"),
    ("llama-server -m x.gguf -ngl 33 --flash-attention on", "unknown flag '--flash-attention'"),
    ("llama-server -m x.gguf -ctk q3_k -ctv q8_0", "-ctk 'q3_k'"),
    ("llama-server -m x.gguf -sm tensor", "-sm 'tensor'"),
    ("llama-server -m x.gguf -ngl", "-ngl needs a value"),
    ("vllm serve a/b --max-model-len 8192 --dtype fp16", "--dtype 'fp16'"),
    ("vllm serve a/b --kv-cache-dtype q8_0", "--kv-cache-dtype 'q8_0'"),
    ("vllm serve a/b --quantization nf4", "--quantization 'nf4'"),
    ("vllm serve a/b --tp 2", "unknown flag '--tp'"),
    ("vllm serve a/b --gpu-memory-utilization 1.5", "must be <= 1"),
    ("vllm serve a/b --max-num-seqs --max-model-len 8192", "--max-num-seqs needs a value"),
    ("python -c \"import torch; from transformers import AutoModelForCausalLM; "
     "m = AutoModelForCausalLM.from_pretrained('a/b', device_map='gpu', torch_dtype=torch.bfloat16)\"",
     "device_map='gpu'"),
    ("ollama run llama3.1:70b --num-ctx 8192", "unknown flag '--num-ctx'"),
    ("ollama run hf.co/bartowski", "is not a model name"),
    ("OLLAMA_KV_CACHE_TYPE=q5_1 ollama serve", "OLLAMA_KV_CACHE_TYPE='q5_1'"),
    ("OLLAMA_CTX=8192 ollama serve", "unknown environment variable 'OLLAMA_CTX'"),
    ("OLLAMA_CONTEXT_LENGTH=8k ollama serve", "not an int"),
    ("ollama serve --ctx 8192", "unknown flag '--ctx'"),
    ("python -c \"import torch; from transformers import AutoModelForCausalLM, BitsAndBytesConfig; "
     "m = AutoModelForCausalLM.from_pretrained('a/b', quantization_config=BitsAndBytesConfig("
     "load_in_4bit=True, bnb_4bit_quant_type='int4'))\"", "bnb_4bit_quant_type='int4'"),
    ("python -c \"from transformers import AutoModelForCausalLM; "
     "m = AutoModelForCausalLM.from_pretrained('a/b', quantization_config=BitsAndBytesConfig(load_in_4bit=True))\"",
     "BitsAndBytesConfig is used but not imported"),
])
def test_a_wrong_flag_is_caught(command, problem):
    result = check_command(command)
    assert not result.ok and any(problem in str(p) for p in result.problems), result


def test_what_advisor_prints_today_parses():
    """The forms commands.py builds, one of each, parse clean (and torch_dtype only warns)."""
    for command in (
            "llama-server -hf bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M -ngl 33 -c 16384 "
            "--n-cpu-moe 4 -np 2 -sm layer -ts 1,1 -fa on -ctk q8_0 -ctv q8_0",
            "vllm serve Qwen/Qwen2.5-72B-Instruct-AWQ --tensor-parallel-size 2 --pipeline-parallel-size 2 "
            "--max-model-len 8192 --quantization fp8 --kv-cache-dtype fp8 --max-num-seqs 4 "
            "--gpu-memory-utilization 0.95"):
        assert check_command(command).ok, check_command(command)
    r = check_command("python -c \"import torch; from transformers import AutoModelForCausalLM; "
                      "m = AutoModelForCausalLM.from_pretrained('a/b', device_map='auto', "
                      "torch_dtype=torch.bfloat16)\"")
    assert r.ok and [w.flag for w in r.warnings] == ["torch_dtype"], r


def _commands(model: str, gpu: str, *args: str) -> list[str]:
    from click.testing import CliRunner

    from advisor.cli import main
    r = CliRunner().invoke(main, ["explain", model, gpu, "--format", "json", *args])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    return [p["command"] for p in d["plans"] if p.get("command") and p["model_id"] == model]


@pytest.mark.parametrize("model", [m.id for m in KB.all_models() if m.vision_tower_excluded])
def test_vision_checkpoints_load_through_their_conditional_generation_class(model):
    """A checkpoint with a vision encoder is a ConditionalGeneration model: transformers 5.24.0
    maps mistral3, qwen2_5_vl and qwen3_vl only in AutoModelForImageTextToText (not in the
    causal-LM mapping), so AutoModelForCausalLM fails on them; repos with their own code
    (Phi-3.5-vision) load through AutoModelForCausalLM with trust_remote_code."""
    m = KB.model(model)
    snippets = [c for c in _commands(model, "h100-80gb", "--runtime", "transformers")
                if "from_pretrained" in c]
    assert snippets
    for s in snippets:
        assert check_command(s).problems == ()
        if m.trust_remote_code:
            assert "AutoModelForCausalLM.from_pretrained(" in s and "trust_remote_code=True" in s
        else:
            assert "AutoModelForImageTextToText.from_pretrained(" in s
            assert "AutoModelForCausalLM" not in s


def test_text_models_keep_the_causal_lm_class():
    for s in _commands("llama-3.1-8b", "h100-80gb", "--runtime", "transformers"):
        assert "AutoModelForCausalLM.from_pretrained('meta-llama/Llama-3.1-8B-Instruct'" in s


def test_a_mistral_format_repo_gets_its_tokenizer_mode_and_transformers_its_own_copy():
    """mistralai/Pixtral-12B-2409 has no config.json (Mistral's format only): vLLM needs
    --tokenizer-mode mistral; transformers and TRL load mistral-community/pixtral-12b."""
    vllm = [c for c in _commands("pixtral-12b", "h100-80gb", "--runtime", "vllm") if "vllm serve" in c]
    assert vllm and all("vllm serve mistralai/Pixtral-12B-2409 --tokenizer-mode mistral" in c for c in vllm)
    assert all(check_command(c).problems == () for c in vllm)
    tf = _commands("pixtral-12b", "h100-80gb", "--runtime", "transformers")
    assert tf and all("'mistral-community/pixtral-12b'" in c for c in tf)
    ft = _commands("pixtral-12b", "h100-80gb", "--task", "finetune")
    assert ft and all("--model_name_or_path mistral-community/pixtral-12b" in c for c in ft)
    ft = _commands("phi-3.5-vision", "h100-80gb", "--task", "finetune")
    assert ft and all("--trust_remote_code" in c for c in ft)


def test_a_text_model_snippet_answers_one_chat_turn_and_checks_clean():
    """The transformers snippet of a text model runs the model (expert review 2: it only loaded
    it): chat template, generate, the answer printed; every call it makes is in the flag list."""
    from advisor.plans.commands import transformers_snippet
    from advisor.sizing.precision import parse_precision

    s = transformers_snippet("meta-llama/Llama-3.1-8B-Instruct", parse_precision("bf16"), "bfloat16")
    assert "apply_chat_template(" in s and ".generate(**x, max_new_tokens=" in s and "print(" in s
    assert check_command(s).problems == ()
    bad = check_command(s.replace("max_new_tokens", "max_tokens"))
    assert [f.flag for f in bad.problems] == ["max_tokens"]
    vision = transformers_snippet("google/gemma-3-27b-it", parse_precision("bf16"), "bfloat16",
                                  auto_class="AutoModelForImageTextToText")
    assert "generate" not in vision and check_command(vision).problems == ()
