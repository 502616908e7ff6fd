import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from advisor.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_explain_markdown_states_defaults():
    r = run("explain", "llama-3.1-405b", "a100-40gb")
    assert r.exit_code == 0, r.output
    assert "bf16 (the checkpoint as published) with llama.cpp (the runtime for that format)" in r.output
    assert "8,192 tokens (the default)" in r.output


def test_unknown_model_exits_2_with_closest_ids():
    r = CliRunner().invoke(main, ["explain", "llama-3.1-7b", "a100-40gb"])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "unknown model 'llama-3.1-7b'; closest known:" in lines[0]
    assert "Traceback" not in r.output


def test_unknown_gpu_and_precision_exit_2():
    assert run("explain", "llama-3.1-8b", "a100").exit_code == 2
    r = run("explain", "llama-3.1-8b", "a100-40gb", "--precision", "q4km")
    assert r.exit_code == 2 and "unknown precision 'q4km'" in r.output


def test_bad_numbers_exit_2():
    assert run("explain", "llama-3.1-8b", "a100-40gb", "--context", "0").exit_code == 2
    assert run("explain", "llama-3.1-8b", "a100-40gb", "--gpus", "0").exit_code == 2


@pytest.mark.parametrize("args,says", [
    (["--gpus", "1000"], "--gpus must be at most 512"),
    (["--gpus", "400"], "fewer than one layer a node"),
    (["--batch", "10000000"], "--batch must be at most 100,000"),
    (["--precision", ""], "--precision is empty"),
    (["--ram-gb", "nan"], "--ram-gb must be a size in GiB"),
    (["--ram-gb", "-1"], "--ram-gb must be a size in GiB"),
    (["--ram-bandwidth", "inf"], "--ram-bandwidth must be in GB/s"),
    (["--prompt-tokens", "1000000000000000000"], "--prompt-tokens must be at most 10,485,760"),
])
def test_out_of_range_numbers_exit_2_with_one_line(args, says):
    r = run("explain", "llama-3.1-8b", "h100-80gb", *args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in r.output


def test_same_input_same_bytes():
    a = run("explain", "llama-3.1-70b", "rtx-4090", "-p", "q4_k_m", "--format", "json").output
    b = run("explain", "llama-3.1-70b", "rtx-4090", "-p", "Q4_K_M", "--format", "json").output
    assert a == b and json.loads(a)["workload"]["precision"] == "Q4_K_M"


def test_gpus_option_adds_memory():
    d = json.loads(run("explain", "llama-3.1-70b", "a100-40gb", "--gpus", "4", "--format", "json").output)
    assert d["gpu"]["count"] == 4 and d["verdict"] == "fits"


def test_bad_user_rules_exit_2(tmp_path):
    (tmp_path / "broken.yaml").write_text("id: broken\nwhen: [nope]\n")
    r = run("explain", "llama-3.1-8b", "h100-80gb", "--rules", str(tmp_path))
    assert r.exit_code == 2 and "broken.yaml" in r.output and "rule 'broken'" in r.output
    assert "Traceback" not in r.output


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "advisor", "explain", "llama-3.1-8b", "h100-80gb"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("# Llama 3.1 8B on NVIDIA H100 80GB SXM")
