"""MLX (mlx-lm) on Apple silicon (issue 12, items 2 and 7): MLX's affine formats as mlx_lm.convert
writes them, its KV cache, the wired-memory limit, refusal elsewhere and its commands."""
from __future__ import annotations

import re
import shlex

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.kb.schema import mlx_repo_precision
from advisor.plans.flags import check_command
from advisor.plans.runtimes import cannot_run, runs_on
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.mlx import wired_limit_mb
from advisor.sizing.precision import parse_precision
from advisor.sizing.tensors import Tensor
from advisor.sizing.weights import mlx_tensor_bytes, weights_bytes
from tests.cli_helpers import one_line_error


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("bits", [3, 4, 6, 8])
def test_a_quantized_matrix_is_bits_plus_half_a_bit_a_weight(bits):
    # mx.quantize affine, group 64: B-bit values, a 16-bit scale and a 16-bit bias a group
    t = Tensor("ffn_up", 0, 4096, 14336)
    assert mlx_tensor_bytes(bits, t) * 8 / t.elements == bits + 0.5


def test_norms_and_rows_that_do_not_split_into_groups_stay_16_bit():
    assert mlx_tensor_bytes(4, Tensor("attn_norm", 0, 4096, 1)) == 4096 * 2
    odd = Tensor("ffn_down", 0, 100, 64)   # 100 is not a multiple of the group size
    assert mlx_tensor_bytes(4, odd) == odd.elements * 2


def test_the_router_keeps_8_bits():
    t = Tensor("ffn_gate_inp", 0, 2048, 128)
    assert mlx_tensor_bytes(4, t) == mlx_tensor_bytes(8, t)


def test_sizes_match_published_mlx_community_repos(kb):
    # the llm-mlx plugin's README: `llm mlx download-model` "downloads 1.8GB of model weights
    # from mlx-community/Llama-3.2-3B-Instruct-4bit" (embedding quantized too, tied lm_head)
    three = weights_bytes(kb.model("llama-3.2-3b").architecture, parse_precision("mlx-4bit"))
    assert abs(three / 1.8e9 - 1) < 0.03, three
    # 8B: 4.5 and 8.5 bits a weight over 8.03B parameters, below llama.cpp's Q4_K_M mix
    a = kb.model("llama-3.1-8b").architecture
    four = weights_bytes(a, parse_precision("mlx-4bit"))
    eight = weights_bytes(a, parse_precision("mlx-8bit"))
    assert 4.45e9 < four < 4.60e9 and 8.45e9 < eight < 8.60e9
    assert four < weights_bytes(a, parse_precision("Q4_K_M"))


def test_precision_names_and_repo_suffixes():
    assert parse_precision("MLX-4bit").name == "mlx-4bit"
    assert parse_precision("mlx-q8").name == "mlx-8bit"
    assert mlx_repo_precision("mlx-community/Qwen3-8B-4bit") == "mlx-4bit"
    assert mlx_repo_precision("mlx-community/Meta-Llama-3.1-8B-Instruct-bf16") == "bf16"
    assert mlx_repo_precision("mlx-community/whatever") is None


def test_kv_cache_grows_in_256_token_steps_and_quantizes_with_kv_bits(kb):
    a = kb.model("llama-3.1-8b").architecture
    fp16 = kv_cache_bytes(a, 1000, 1, "fp16", "mlx")
    assert fp16 == kv_cache_bytes(a, 1024, 1, "fp16", None)        # 1,000 -> 4 steps of 256
    eight = kv_cache_bytes(a, 1024, 1, "mlx-8bit", "mlx")
    four = kv_cache_bytes(a, 1024, 1, "mlx-4bit", "mlx")
    assert eight * 16 == fp16 * 8.5 and four * 16 == fp16 * 4.5


def test_mlx_runs_on_apple_only(kb):
    mac, nv, amd = kb.gpu("m2-16gb"), kb.gpu("rtx-4090"), kb.gpu("mi300x")
    assert runs_on("mlx", mac) and not runs_on("mlx", nv) and not runs_on("mlx", amd)
    q4 = parse_precision("mlx-4bit")
    assert cannot_run("mlx", q4, mac) is None
    assert "Apple silicon" in cannot_run("mlx", q4, nv)
    # MLX's formats are MLX's only; GGUF files are not MLX's
    for rt in ("llama.cpp", "ollama", "vllm", "transformers"):
        assert cannot_run(rt, q4, mac) is not None
    assert "GGUF" in cannot_run("mlx", parse_precision("Q4_K_M"), mac)


@pytest.mark.parametrize("args, words", [
    (("llama-3.1-8b", "rtx-4090", "--runtime", "mlx"), ("--runtime mlx", "Apple silicon", "RTX 4090")),
    (("llama-3.1-8b", "mi300x", "-p", "mlx-4bit"), ("mlx-4bit", "Apple silicon", "MI300X")),
])
def test_mlx_on_nvidia_or_amd_is_refused_with_exit_2(args, words):
    one_line_error(run("explain", *args), *words)


def _command(out: str) -> str:
    return re.search(r"## What to do\n.*?```\n(.*?)\n```", out, re.S).group(1)


def test_published_repo_is_served_and_every_printed_command_parses():
    r = run("explain", "llama-3.1-8b", "m2-16gb", "--runtime", "mlx", "-p", "mlx-4bit")
    assert r.exit_code == 0, r.output
    cmd = _command(r.output)
    assert cmd == "mlx_lm.server --model mlx-community/Meta-Llama-3.1-8B-Instruct-4bit"
    for line in re.findall(r"`(mlx_lm\.[^`]+)`", r.output):
        assert not check_command(line).problems, line
    assert "CUDA" not in r.output


def test_a_published_repo_of_the_chosen_precision_is_downloaded_not_converted(kb):
    """Review 4 item 12: Qwen3-30B-A3B at mlx-8bit on a 64 GB M1 Max serves mlx-community's
    8-bit repo (the KB lists it) instead of asking for mlx_lm.convert."""
    r = run("explain", "qwen3-30b-a3b", "m1-max-64gb", "--runtime", "mlx", "-p", "mlx-8bit")
    assert r.exit_code == 0, r.output
    assert _command(r.output) == "mlx_lm.server --model mlx-community/Qwen3-30B-A3B-8bit"
    todo = r.output.split("## What to do", 1)[1].split("\n## ", 1)[0]
    assert "mlx_lm.convert" not in todo and "no MLX repo" not in todo
    # every listed repo holds the precision its suffix names, and is of the entry's own model
    for m in kb.models.by_id.values():
        for repo in m.mlx_repos:
            assert repo.startswith("mlx-community/") and mlx_repo_precision(repo), repo
            assert any(s.source == f"https://huggingface.co/{repo}" and "mlx_repos" in s.fields
                       for s in m.sources), f"{m.id}: {repo} has no source"


def test_without_a_published_repo_the_plan_converts_first():
    r = run("explain", "llama-3.1-nemotron-70b", "m3-max-64gb", "--runtime", "mlx", "-p", "mlx-4bit")
    assert r.exit_code == 0, r.output
    convert = re.search(r"`(mlx_lm\.convert [^`]+)`", r.output).group(1)
    assert not check_command(convert).problems
    words = shlex.split(convert)
    assert words[words.index("--hf-path") + 1] == "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF"
    assert "-q" in words and words[words.index("--q-bits") + 1] == "4"
    folder = words[words.index("--mlx-path") + 1]
    assert _command(r.output) == f"mlx_lm.server --model {folder}"


def test_a_quantized_kv_cache_is_mlx_lm_generate_with_kv_bits():
    r = run("explain", "llama-3.1-8b", "m2-16gb", "--runtime", "mlx", "-p", "mlx-4bit",
            "--kv-cache", "mlx-8bit")
    assert r.exit_code == 0, r.output
    cmd = _command(r.output)
    assert cmd.startswith("mlx_lm.generate --model mlx-community/") and "--kv-bits 8" in cmd
    assert not check_command(cmd).problems


def test_wired_limit_is_advised_only_between_the_default_and_the_memory(kb):
    mac = kb.gpu("m2-max-32gb")
    assert wired_limit_mb(mac.usable_memory_bytes, mac) is None          # fits by default
    mb = wired_limit_mb(mac.usable_memory_bytes + c.GIB, mac)
    assert mb is not None and mac.usable_memory_bytes < mb * c.MIB < mac.memory_bytes
    assert wired_limit_mb(mac.memory_bytes, mac) is None                  # no limit helps
    assert wired_limit_mb(10 * c.GIB, kb.gpu("rtx-4090")) is None


def test_the_advisory_names_the_sysctl_when_only_the_default_limit_is_short():
    r = run("explain", "qwen2.5-32b", "m2-max-32gb", "--runtime", "mlx", "-p", "mlx-6bit")
    assert r.exit_code == 0, r.output
    assert "does not fit" in r.output
    m = re.search(r"sudo sysctl iogpu\.wired_limit_mb=(\d+)", r.output)
    assert m and 21_845 < int(m.group(1)) < 32_768
    # too big for the machine: no sysctl can help, and the advisory says so
    r = run("explain", "llama-3.1-70b", "m3-max-64gb", "--runtime", "mlx", "-p", "mlx-8bit")
    assert "sudo sysctl" not in r.output and "no wired limit" in r.output


def test_mlx_plans_are_deterministic():
    a = run("explain", "qwen3-30b-a3b", "m4-pro-24gb", "--runtime", "mlx", "--format", "json")
    b = run("explain", "qwen3-30b-a3b", "m4-pro-24gb", "--runtime", "mlx", "--format", "json")
    assert a.exit_code == 0 and a.output == b.output


def test_decode_against_published_mlx_lm_runs(kb):
    """benchmarks/data/mlx_decode.csv: three published mlx_lm runs (too few for a measured band:
    the advisory keeps calling MLX speeds uncalibrated). Timed with current Metal builds'
    bandwidth share (advisor.sizing.mlx), the rows come out -11%, +1% and +2%: within 15% each,
    and their median within 5%."""
    import csv
    from pathlib import Path

    from advisor.sizing.plan import place
    from advisor.sizing.workload import Workload

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "mlx_decode.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 3
    ratios = []
    for r in rows:
        pl = place(kb.model(r["model"]), kb.gpu(r["gpu"]), parse_precision(r["precision"]),
                   Workload(runtime="mlx", context_tokens=8192))
        # the cache holds the prompt and, on average, half the generated tokens
        ctx = int(r["n_prompt"]) + int(r["n_gen"]) // 2
        ratio = 1 / pl.decode_seconds_per_token(ctx) / float(r["tokens_per_sec"])
        assert 0.85 <= ratio <= 1.15, (r["model"], r["gpu"], ratio)
        ratios.append(ratio)
    assert abs(sorted(ratios)[len(ratios) // 2] - 1) <= 0.05


def test_peak_memory_of_a_long_prompt_matches_mlx_lm(kb):
    """ml-explore/mlx-lm PR 40 (2025-03-20): 4-bit Mistral 7B, a 33,898-token prompt on an M2
    Ultra, "Peak memory: 9.111 GB" (mx.get_peak_memory: MLX's arrays, no Metal context). The
    model's limit is 32,768 tokens here; sized at 32,768 the arrays (weights, KV cache, one
    prefill chunk) are within 10% of the measured peak scaled to that length."""
    from advisor.sizing.plan import place
    from advisor.sizing.workload import Workload

    m = kb.model("mistral-7b-v0.3")
    pl = place(m, kb.gpu("m2-ultra-192gb"), parse_precision("mlx-4bit"),
               Workload(runtime="mlx", context_tokens=32768, prompt_tokens=32768))
    arrays = pl.total_bytes - pl.parts.breakdown["overhead_device_context"]
    kv_token = kv_cache_bytes(m.architecture, 1, 1, "fp16", None)
    measured = 9.111e9 - (33898 - 32768) * kv_token
    assert abs(arrays / measured - 1) < 0.10, arrays / measured


def test_generate_leaves_mlx_formats_to_apple_gpus(kb):
    from advisor.bulk.select import Filters, select
    from advisor.errors import AdvisorError

    star = select(kb, Filters(models=("llama-3.1-8b",), gpus=("rtx-4090", "m2-16gb"), precisions=("*",)))
    assert star.precisions and not any(p.family == "mlx" for p in star.precisions)
    apple = select(kb, Filters(models=("llama-3.1-8b",), vendors=("apple",), precisions=("mlx-*",)))
    assert {p.name for p in apple.precisions} == {"mlx-8bit", "mlx-6bit", "mlx-4bit", "mlx-3bit"}
    with pytest.raises(AdvisorError, match="Apple GPUs only"):
        select(kb, Filters(models=("llama-3.1-8b",), gpus=("rtx-4090",), precisions=("mlx-4bit",)))
