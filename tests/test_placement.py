"""Placement: CPU offload, layer split against tensor parallel, nodes, serving, CLI options."""
import json
import subprocess
import sys

import pytest

from advisor.sizing.offload import plan_offload
from advisor.sizing.plan import place
from advisor.sizing.precision import parse_precision
from advisor.sizing.serving import serving_capacity
from advisor.sizing.workload import Workload


def test_70b_q4_on_one_4090_offloads_about_half_the_layers(kb):
    m, g, p = kb.model("llama-3.1-70b"), kb.gpu("rtx-4090"), parse_precision("Q4_K_M")
    off = plan_offload(m, g, p, Workload())
    assert off is not None
    assert off.gpu_layers + off.cpu_layers == 80
    assert 30 <= off.gpu_layers <= 45
    # the GPU part must fit in the card; the RAM part holds the offloaded layers + embedding
    assert off.gpu_bytes <= g.memory_bytes
    assert off.ram_bytes > off.cpu_layers * 400_000_000
    # the CPU layers dominate: slower than the RAM roofline of the offloaded part alone
    assert 0.5 < off.decode_tokens_per_s < 76.8e9 / (off.cpu_layers * 400_000_000)
    assert off.decode_tokens_per_s_full_context < off.decode_tokens_per_s


def test_offload_speed_follows_ram_bandwidth(kb):
    m, g, p = kb.model("llama-3.1-70b"), kb.gpu("rtx-4090"), parse_precision("Q4_K_M")
    desk = plan_offload(m, g, p, Workload())
    server = plan_offload(m, g, p, Workload(ram_bandwidth_gb_s=307.2))
    assert server.decode_tokens_per_s > 2 * desk.decode_tokens_per_s
    small = plan_offload(m, g, p, Workload(ram_bytes=8 * 10**9))
    assert not small.ram_fits and desk.ram_fits


def test_vllm_does_not_offload_and_unified_memory_runs_no_split_beyond_its_memory(kb):
    m, p = kb.model("llama-3.1-70b"), parse_precision("Q4_K_M")
    assert plan_offload(m, kb.gpu("rtx-4090"), p, Workload(runtime="vllm")) is None
    # a Mac splits layers between its GPU and CPU (tests/test_mac_offload.py), within its memory
    off = plan_offload(kb.model("llama-3.1-405b"), kb.gpu("m1-max-64gb"), p, Workload())
    assert off is not None and not off.ram_fits
    assert plan_offload(m, kb.gpu("m1-max-64gb"), p, Workload(runtime="mlx")) is None


def test_layer_split_adds_no_decode_speed_tensor_parallel_does(kb):
    m, g, p = kb.model("llama-3.1-70b"), kb.gpu("h100-80gb"), parse_precision("fp16")
    one = place(m, g, p, Workload(), 1).decode_seconds_per_token(0)
    layer = place(m, g, p, Workload(), 4)
    tp = place(m, g, p, Workload(runtime="vllm"), 4)
    assert layer.split.kind == "layer" and tp.split.kind == "tensor"
    assert layer.decode_seconds_per_token(0) >= one
    one_vllm = place(m, g, p, Workload(runtime="vllm"), 1).decode_seconds_per_token(0)
    assert tp.decode_seconds_per_token(0) < one_vllm / 2   # each runtime against itself


def test_tensor_parallel_kv_is_replicated_beyond_kv_heads(kb):
    m = kb.model("llama-3.1-70b")   # 8 KV heads
    p = parse_precision("fp16")
    tp8 = place(m, kb.gpu("h100-80gb"), p, Workload(runtime="vllm"), 8).split
    assert tp8.kv_replication == 1
    tp16 = place(m, kb.gpu("a100-40gb"), p, Workload(runtime="vllm"), 16).split
    assert tp16.tensor_parallel == 8 and tp16.pipeline_stages == 2 and tp16.nodes == 2


def test_405b_fp16_on_h100_needs_two_nodes(kb):
    m, g, p = kb.model("llama-3.1-405b"), kb.gpu("h100-80gb"), parse_precision("fp16")
    w = Workload(runtime="vllm")
    assert not place(m, g, p, w, 8).fits
    pl = place(m, g, p, w, 16)
    assert pl.fits and pl.split.nodes == 2 and pl.split.per_gpu_bytes <= g.memory_bytes


def test_serving_fits_more_short_sequences(kb):
    m, g, p = kb.model("llama-3.1-8b"), kb.gpu("h100-80gb"), parse_precision("fp16")
    long = serving_capacity(place(m, g, p, Workload(context_tokens=32768), 1))
    short = serving_capacity(place(m, g, p, Workload(context_tokens=2048), 1))
    assert short.sequences > long.sequences >= 1
    one = place(m, g, p, Workload(context_tokens=2048), 1).decode_tokens_per_s()
    assert one < short.total_tokens_per_s < short.sequences * one


def _explain(*args):
    return subprocess.run([sys.executable, "-m", "advisor", "explain", *args],
                          capture_output=True, text=True)


def test_cli_json_has_throughput_and_placement():
    r = _explain("llama-3.1-70b", "rtx-4090", "-p", "Q4_K_M", "--format", "json",
                 "--ram-gb", "128", "--ram-bandwidth", "100", "--prompt-tokens", "1024")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    pl = j["placement"]
    assert pl["gpu_layers"] + pl["cpu_layers"] == 80 and pl["cpu_layers"] > 0
    assert j["throughput"]["prompt_tokens"] == 1024
    r8 = json.loads(_explain("llama-3.1-8b", "rtx-4090", "--format", "json").stdout)
    t = r8["throughput"]
    assert t["decode_tokens_per_s"] <= t["decode_roofline_tokens_per_s"]
    assert t["prefill_tokens_per_s"] > t["decode_tokens_per_s"] and t["time_to_first_token_s"] > 0


@pytest.mark.parametrize("args", [["--prompt-tokens", "0"], ["--ram-bandwidth", "0"],
                                  ["--ram-gb", "-1"]])
def test_cli_bad_speed_options_exit_2(args):
    r = _explain("llama-3.1-8b", "rtx-4090", *args)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr


def _moe_model():
    from advisor.kb.schema import Model
    from advisor.kb.validate import validate
    return validate(Model, dict(id="toy-moe", name="Toy MoE", family="toy", architecture=dict(
        layers=24, hidden_size=4096, attention_heads=32, kv_heads=8, head_dim=128,
        ffn_size=8192, vocab_size=32000, tied_embeddings=False, max_context=32768,
        experts_total=16, experts_active=2), sources=[{"fields": ["architecture"], "source": "test fixture"}]))


def test_moe_expert_offload_keeps_dense_on_gpu_and_beats_layer_offload(kb):
    from advisor.sizing.offload import plan_expert_offload
    m, g, p = _moe_model(), kb.gpu("rtx-4090"), parse_precision("Q4_K_M")
    work = Workload(context_tokens=4096)
    moe = plan_expert_offload(m, g, p, work)
    layers = plan_offload(m, g, p, work)
    assert moe is not None and layers is not None
    assert 0 < moe.cpu_moe_layers < moe.moe_layers == 24
    assert moe.gpu_bytes <= g.memory_bytes
    assert moe.decode_tokens_per_s > layers.decode_tokens_per_s
    assert plan_expert_offload(kb.model("llama-3.1-70b"), g, p, work) is None  # dense model


def test_vllm_uses_valid_tensor_parallel_sizes_and_pipelines_the_rest(kb):
    m = kb.model("llama-3.1-70b")   # 64 heads, 8 KV heads
    p = parse_precision("fp16")
    s6 = place(m, kb.gpu("a100-80gb"), p, Workload(runtime="vllm"), 6).split
    assert (s6.tensor_parallel, s6.pipeline_stages) == (2, 3)
    s3 = place(m, kb.gpu("a100-80gb"), p, Workload(runtime="vllm"), 3).split
    assert (s3.tensor_parallel, s3.pipeline_stages) == (1, 3)
