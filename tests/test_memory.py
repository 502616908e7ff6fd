"""Memory sizing: GGUF mixes, checkpoint formats, KV precisions, sliding windows, MLA, runtimes,
the largest context that fits."""
from dataclasses import replace

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.context import max_context_tokens
from advisor.sizing.ggml_types import tensor_bytes
from advisor.sizing.gguf_mix import DEFAULT_TYPE, Q8_EMBED_OUTPUT, fused_layout, tensor_types
from advisor.sizing.kv_cache import kv_cache_bytes, kv_cache_bytes_per_token
from advisor.sizing.memory import memory_parts, memory_total_bytes
from advisor.sizing.precision import all_precisions, parse_precision
from advisor.sizing.tensors import Tensor, model_tensors
from advisor.sizing.vllm_memory import vllm_default_batch, vllm_rank_overhead
from advisor.sizing.weights import weights_bytes
from advisor.sizing.workload import Workload

GIB, MIB = c.GIB, c.MIB


def arch(**kw) -> Architecture:
    base = dict(layers=32, hidden_size=4096, attention_heads=32, kv_heads=8, head_dim=128,
                ffn_size=14336, vocab_size=128256, tied_embeddings=False, max_context=131072)
    base.update(kw)
    return Architecture(**base)


def gguf_bytes(a, ftype, imatrix=None, fused=False):
    ts = model_tensors(a)
    if fused:
        ts = fused_layout(ts, a)
    types = tensor_types(ftype, ts, a, imatrix=imatrix)
    return sum(tensor_bytes(ty, t.row_length, t.rows) for t, ty in zip(ts, types))


# Published sizes (../shared/reference/gguf_sizes.csv; bartowski and mradermacher i1 use an
# importance matrix, llama.cpp's quantize README lists llama-bench sizes in GiB).
QWEN25_32B = arch(layers=64, hidden_size=5120, attention_heads=40, kv_heads=8, ffn_size=27648,
                  vocab_size=152064, qkv_bias=True, max_context=32768)
MIXTRAL = arch(vocab_size=32000, max_context=32768, experts_total=8, experts_active=2)
PHI3 = arch(hidden_size=3072, attention_heads=32, kv_heads=32, head_dim=96, ffn_size=8192,
            vocab_size=32064, max_context=4096)
PUBLISHED = [
    (QWEN25_32B, "IQ4_XS", True, False, 17.69e9), (QWEN25_32B, "Q3_K_XL", True, False, 17.93e9),
    (QWEN25_32B, "IQ2_XXS", True, False, 9.03e9), (QWEN25_32B, "Q4_0", True, False, 18.71e9),
    (QWEN25_32B, "Q5_K_S", True, False, 22.64e9), (QWEN25_32B, "IQ3_M", True, False, 14.81e9),
    (arch(), "IQ1_S", None, False, 1.87 * GIB), (arch(), "IQ2_M", None, False, 2.74 * GIB),
    (arch(), "Q2_K_S", None, False, 2.78 * GIB), (arch(), "IQ4_NL", None, False, 4.38 * GIB),
    (arch(), "Q3_K_S", None, False, 3.41 * GIB), (arch(), "Q6_K_L", True, False, 6.85e9),
    (MIXTRAL, "Q4_K_M", False, False, 28.4e9), (MIXTRAL, "Q8_0", False, False, 49.6e9),
    (MIXTRAL, "IQ4_XS", False, False, 25.4e9),
    (PHI3, "Q4_K_M", False, True, 2.39e9), (PHI3, "IQ1_S", True, True, 0.842e9),
    (PHI3, "Q3_K_L", False, True, 2.09e9),
]


@pytest.mark.parametrize("a,ftype,imatrix,fused,published", PUBLISHED,
                         ids=[f"{p[1]}-{p[4]:.3g}" for p in PUBLISHED])
def test_gguf_mix_matches_published_files(a, ftype, imatrix, fused, published):
    assert gguf_bytes(a, ftype, imatrix, fused) == pytest.approx(published, rel=0.006)


def test_every_file_type_sizes_and_parses():
    a = arch()
    for ftype in list(DEFAULT_TYPE) + list(Q8_EMBED_OUTPUT):
        if ftype in ("TQ1_0", "TQ2_0", "F32"):
            continue
        p = parse_precision(ftype if ftype != "F16" else "fp16")
        assert weights_bytes(a, p) > 0


def test_gguf_sizes_fall_with_bits():
    a = arch()
    order = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "IQ4_XS", "Q3_K_L", "Q3_K_M",
             "Q3_K_S", "IQ3_XXS", "Q2_K", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S"]
    sizes = [gguf_bytes(a, f) for f in order]
    assert sizes == sorted(sizes, reverse=True)


def test_row_length_fallbacks():
    # 4160 = 130 x 32, not a multiple of 256: k-quants fall back to a 32-block type
    a = arch(hidden_size=4160, ffn_size=4160, attention_heads=32, head_dim=130)
    ts = model_tensors(a)
    types = dict((t.name, ty) for t, ty in zip(ts, tensor_types("Q4_K_M", ts, a)) if t.layer == 10)
    assert types["attn_q"] == "Q5_0"             # Q4_K -> Q5_0
    out = [ty for t, ty in zip(ts, tensor_types("Q4_K_M", ts, a)) if t.name == "output"]
    assert out == ["Q8_0"]                       # the output head: Q8_0
    types = tensor_types("IQ2_XXS", ts, a, imatrix=True)
    assert "IQ4_NL" in types and "IQ2_XXS" not in types
    odd = Tensor("attn_q", 0, 100, 100)          # not even a multiple of 32: F16
    assert tensor_types("Q4_K_M", [odd], arch(layers=1))[0] == "F16"


def test_tied_embeddings_and_moe_rules():
    a = arch(tied_embeddings=True)
    ts = model_tensors(a)
    assert dict(zip([t.name for t in ts], tensor_types("Q4_K_M", ts, a)))["token_embd"] == "Q6_K"
    ts = model_tensors(MIXTRAL)
    by = {(t.name, t.layer): ty for t, ty in zip(ts, tensor_types("Q4_K_M", ts, MIXTRAL))}
    assert by[("attn_v", 5)] == "Q8_0" and by[("attn_k", 5)] == "Q8_0"
    assert by[("attn_output", 5)] == "Q5_K" and by[("ffn_gate_inp", 5)] == "F32"
    by = {(t.name, t.layer): ty for t, ty in zip(ts, tensor_types("MXFP4_MOE", ts, MIXTRAL))}
    assert by[("ffn_up_exps", 3)] == "MXFP4" and by[("attn_q", 3)] == "Q8_0"


def test_70b_attn_v_gets_q5_k():
    a = arch(layers=80, hidden_size=8192, attention_heads=64, ffn_size=28672)
    ts = model_tensors(a)
    by = {(t.name, t.layer): ty for t, ty in zip(ts, tensor_types("Q4_K_S", ts, a))}
    assert by[("attn_v", 40)] == "Q5_K"


def test_checkpoint_formats():
    a = arch()
    linear = sum(t.elements for t in model_tensors(a) if t.layer is not None and t.is_matrix)
    rest16 = sum(t.elements for t in model_tensors(a)) - linear
    nf4 = weights_bytes(a, parse_precision("nf4"))
    bits = (nf4 - 2 * rest16) * 8 / linear
    assert 4.12 < bits < 4.14             # 4 + 8/64 + 32/(64*256), QLoRA's double quantization
    awq, gptq = weights_bytes(a, parse_precision("awq")), weights_bytes(a, parse_precision("gptq"))
    assert gptq > awq and (awq - 2 * rest16) * 8 / linear == pytest.approx(4.156, abs=0.01)
    g8, g3 = weights_bytes(a, parse_precision("gptq-int8")), weights_bytes(a, parse_precision("gptq-int3"))
    assert g8 > gptq > g3 and (g3 - 2 * rest16) * 8 / linear == pytest.approx(3.15, abs=0.03)
    int8 = weights_bytes(a, parse_precision("int8"))
    assert int8 - 2 * rest16 > linear
    assert weights_bytes(a, parse_precision("fp8-ffn")) > weights_bytes(a, parse_precision("fp8"))


def test_precision_aliases():
    assert parse_precision("mxfp4").name == "mxfp4"          # the checkpoint format gpt-oss ships
    assert parse_precision("mxfp4_moe").name == "MXFP4_MOE"  # the GGUF type
    assert parse_precision("f16").name == "fp16"
    assert parse_precision("iq2_xxs").name == "IQ2_XXS"
    with pytest.raises(AdvisorError):
        parse_precision("Q7_K")


# --- KV cache


def test_kv_quantized_block_overheads():
    a = arch()
    f16 = kv_cache_bytes(a, 4096, kv_dtype="fp16")
    assert kv_cache_bytes(a, 4096, kv_dtype="q8_0") * 32 == f16 // 2 * 34
    assert kv_cache_bytes(a, 4096, kv_dtype="q4_0") * 32 == f16 // 2 * 18
    assert kv_cache_bytes(a, 4096, kv_dtype="fp8") * 2 == f16


def test_kv_llamacpp_logs_exact():
    # llama.cpp load logs (memory_measurements.csv): Llama-3.2-3B 16384 ctx -> 1792 MiB;
    # granite-3.3-2b 4096 ctx -> 320 MiB
    l32 = arch(layers=28, hidden_size=3072, attention_heads=24, ffn_size=8192, tied_embeddings=True)
    assert kv_cache_bytes(l32, 16384, 1, "fp16", "llama.cpp") == 1792 * MIB
    granite = arch(layers=40, hidden_size=2048, head_dim=64, ffn_size=8192, vocab_size=49159)
    assert kv_cache_bytes(granite, 4096, 1, "fp16", "llama.cpp") == 320 * MIB


def test_llamacpp_pads_to_256():
    a = arch()
    assert kv_cache_bytes(a, 1000, 1, "fp16", "llama.cpp") == kv_cache_bytes(a, 1024)
    assert kv_cache_bytes(a, 1000, 1, "fp16", "vllm") == kv_cache_bytes(a, 1008)


def test_sliding_window_gemma2_and_mistral():
    g2 = arch(layers=42, hidden_size=3584, attention_heads=16, head_dim=256, vocab_size=256000,
              tied_embeddings=True, sliding_window=4096, sliding_window_pattern=2, max_context=8192)
    full = kv_cache_bytes_per_token(g2) // 42
    # 21 global layers hold 8192 tokens; 21 sliding layers hold 4096 (+512 micro-batch in llama.cpp)
    assert kv_cache_bytes(g2, 8192) == 21 * full * 8192 + 21 * full * 4096
    assert kv_cache_bytes(g2, 8192, 1, "fp16", "llama.cpp") == 21 * full * 8192 + 21 * full * 4608
    # llama.cpp logs "creating SWA KV cache, size = 1536 cells" for a 1024-token window
    g3 = arch(sliding_window=1024, sliding_window_pattern=6, layers=48)
    per_layer = kv_cache_bytes_per_token(g3) // 48
    assert kv_cache_bytes(g3, 16384, 1, "fp16", "llama.cpp") == per_layer * (8 * 16384 + 40 * 1536)
    assert kv_cache_bytes(g3, 16384, 2, "fp16", "llama.cpp") == 2 * per_layer * (8 * 16384 + 40 * 1536)
    mistral = arch(sliding_window=4096, max_context=32768)
    assert kv_cache_bytes(mistral, 32768) == kv_cache_bytes(mistral, 4096)
    assert kv_cache_bytes(mistral, 2000) == kv_cache_bytes(arch(), 2000)


def test_mla_deepseek_v3():
    ds = arch(layers=61, hidden_size=7168, attention_heads=128, kv_heads=128, head_dim=192,
              kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128,
              q_lora_rank=1536, vocab_size=129280)
    assert kv_cache_bytes_per_token(ds) == 61 * 576 * 2
    # vLLM replicates the latent cache on every tensor-parallel GPU
    assert kv_cache_bytes(ds, 1024, 1, "fp16", "vllm", gpus=8) == 8 * kv_cache_bytes(ds, 1024)


def test_vllm_tp_replicates_kv_heads_beyond_their_count():
    a = arch()  # 8 KV heads
    one = kv_cache_bytes(a, 1024, 1, "fp16", "vllm")
    assert kv_cache_bytes(a, 1024, 1, "fp16", "vllm", gpus=8) == one
    assert kv_cache_bytes(a, 1024, 1, "fp16", "vllm", gpus=16) == 2 * one


def test_runtime_kv_dtypes_checked(kb):
    m = kb.model("llama-3.1-8b")
    p = parse_precision("fp16")
    with pytest.raises(AdvisorError, match="llama.cpp has no fp8"):
        memory_parts(m, p, Workload(kv_cache_dtype="fp8"))
    with pytest.raises(AdvisorError, match="vllm has no q4_0"):
        memory_parts(m, p, Workload(kv_cache_dtype="q4_0", runtime="vllm"))
    with pytest.raises(AdvisorError, match="unknown runtime"):
        memory_parts(m, p, Workload(runtime="tgi"))  # ollama is a runtime now


# --- runtime profiles


def test_vllm_reproduces_its_kv_budget(kb):
    """llm-d-benchmark V1 log (config_explorer/empirical-vllm-memory-results.md): Llama-3.1-8B
    BF16 on an H100 (79.18 GiB): KV gets 51.38 GiB = total x 0.9 - weights - non-torch -
    activation peak, at vllm serve's H100 defaults (8192 tokens, 1024 sequences)."""
    m, h100 = kb.model("llama-3.1-8b"), kb.gpu("h100-80gb")
    total = int(79.18 * GIB)
    p = parse_precision("bf16")
    rank = vllm_rank_overhead(m.architecture, 1, vllm_default_batch(h100))
    kv_budget = 0.9 * total - weights_bytes(m.architecture, p) - sum(rank.values())
    assert kv_budget / GIB == pytest.approx(51.38, abs=0.05)
    tokens = max_context_tokens(m, p, Workload(runtime="vllm"), 1, total, 0, gpu=h100)
    assert tokens == 131072  # 51 GiB hold 131072 x 128 KiB = 16 GiB: capped at the model limit


def test_overhead_by_runtime(kb):
    m, p = kb.model("llama-3.1-8b"), parse_precision("Q4_K_M")
    l = memory_parts(m, p, Workload())
    v = memory_parts(m, p, Workload(runtime="vllm"))
    t = memory_parts(m, p, Workload(runtime="transformers"))
    # llama.cpp compute buffer at n_ubatch 512: the output phase, f32 logits + hidden = 258.5 MiB,
    # as llama.cpp 0c1e570 logs for Llama 3.1 8B at 8K (the f16 mask is freed before it:
    # benchmarks/measured/h200-llamacpp-2026-11-30/memory_logs.txt)
    assert l.breakdown["overhead_compute_buffer"] == int(258.5 * MIB)
    # vLLM's total is exactly (weights + kv + non-torch + activations) / 0.9, rounded up
    rank = vllm_rank_overhead(m.architecture, 1, vllm_default_batch(None))
    used = v.weights_bytes + v.kv_cache_bytes + sum(rank.values())
    assert v.total_bytes == pytest.approx(used / 0.9, abs=2)
    assert t.overhead_bytes > c.RUNTIME_RESERVED_BYTES_PER_GPU
    assert "assumptions" in v.breakdown and any("gpu_memory_utilization" in n for n in v.assumptions)


# --- largest context


@pytest.mark.parametrize("gpu", ["rtx-4090", "a100-40gb"])
def test_max_context_is_the_edge(kb, gpu):
    m, g, p = kb.model("llama-3.1-8b"), kb.gpu(gpu), parse_precision("fp16")
    avail, margin = g.memory_bytes, c.FIT_MARGIN_BYTES_PER_GPU
    work = Workload()
    mc = {d: max_context_tokens(m, p, work, 1, avail, margin, d) for d in ("fp16", "q8_0", "q4_0")}
    assert mc["fp16"] <= mc["q8_0"] <= mc["q4_0"] <= m.context_limit
    for d, n in mc.items():
        w = replace(work, kv_cache_dtype=d)
        assert avail - memory_parts(m, p, replace(w, context_tokens=n), 1).total_bytes >= margin
        if n < m.context_limit:
            assert avail - memory_parts(m, p, replace(w, context_tokens=n + 1), 1).total_bytes < margin


@pytest.mark.parametrize("model,runtime,kv,batch,gpus", [
    ("gemma-3-27b", "llama.cpp", "q8_0", 1, 1),      # sliding-window layers: KV stops growing
    ("deepseek-v2-lite", "llama.cpp", "fp16", 4, 1),  # MLA latent cache
    ("qwen3-30b-a3b", "vllm", "fp8", 8, 2),          # vLLM: activation peak and graphs
    ("llama-3.1-70b", "llama.cpp", "q4_0", 1, 3),
    ("mistral-7b-v0.3", "vllm", "fp16", 64, 1),
])
@pytest.mark.parametrize("gpu", ["rtx-3060-12gb", "rtx-4090", "h100-80gb"])
def test_max_context_is_the_edge_everywhere(kb, model, runtime, kv, batch, gpus, gpu):
    """The interpolating search lands on the same edge a plain bisection would: the answer
    fits and one token more does not (or it is 0, or the model's maximum)."""
    m, g = kb.model(model), kb.gpu(gpu)
    work = Workload(runtime=runtime, kv_cache_dtype=kv, batch=batch)
    for prec in ("Q4_K_M", "bf16") if runtime == "llama.cpp" else ("awq", "bf16"):
        p = parse_precision(prec)
        avail, margin = g.usable_memory_bytes * gpus, c.FIT_MARGIN_BYTES_PER_GPU * gpus
        n = max_context_tokens(m, p, work, gpus, avail, margin, kv, g)

        def fits(ctx):
            return avail - memory_total_bytes(m, p, work, gpus, ctx, kv, g) >= margin
        assert 0 <= n <= m.context_limit
        if n == 0:
            assert not fits(1)
        else:
            assert fits(n)
            assert n == m.context_limit or not fits(n + 1)


def test_max_context_zero_when_weights_do_not_fit(kb):
    m, g = kb.model("llama-3.1-70b"), kb.gpu("rtx-4090")
    assert max_context_tokens(m, parse_precision("fp16"), Workload(), 1, g.memory_bytes,
                              c.FIT_MARGIN_BYTES_PER_GPU) == 0


def test_memory_facts_and_json(advisor):
    adv = advisor.explain("llama-3.1-8b", "rtx-4090", "Q4_K_M", 8192, kv_cache="q8_0")
    f = adv.situation.facts
    for k in ("max_context_tokens", "max_context_tokens_fp16", "max_context_tokens_q8_0",
              "max_context_tokens_q4_0", "kv_cache_dtype", "runtime"):
        assert k in f
    assert f["max_context_tokens"] == f["max_context_tokens_q8_0"]
    d = adv.to_json()
    assert d["workload"]["kv_cache_dtype"] == "q8_0"
    assert d["memory"]["max_context_tokens"]["q4_0"] == f["max_context_tokens_q4_0"]
    v = advisor.explain("llama-3.1-8b", "rtx-4090", "fp16", 8192, runtime="vllm").situation.facts
    assert "max_context_tokens_q8_0" not in v and v["runtime"] == "vllm"


def test_cli_kv_and_runtime_errors_exit_2():
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", "fp8",
                                  "--runtime", "llama.cpp"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "llama.cpp has no fp8 KV cache" in r.output
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "--runtime", "tgi"])
    assert r.exit_code == 2 and "unknown runtime 'tgi'" in r.output
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "--kv-cache", "q4_0",
                                  "--format", "json"])
    assert r.exit_code == 0


def test_every_precision_has_assumptions(kb):
    m = kb.model("llama-3.1-8b")
    for p in all_precisions():
        parts = memory_parts(m, p, Workload())
        assert parts.assumptions and parts.weights_bytes > 0


def test_mxfp4_checkpoint_matches_published_gpt_oss_sizes(kb):
    """gpt-oss ships experts in MXFP4 and the rest in BF16: the safetensors totals are 65.25 GB
    (120b) and 13.76 GB (20b) (huggingface.co/openai/gpt-oss-120b, -20b file listings)."""
    p = parse_precision("mxfp4")
    assert weights_bytes(kb.model("gpt-oss-120b").architecture, p) / 1e9 == pytest.approx(65.25, rel=0.01)
    assert weights_bytes(kb.model("gpt-oss-20b").architecture, p) / 1e9 == pytest.approx(13.76, rel=0.01)


# --- llama.cpp flash attention off


def test_compute_buffer_without_flash_attention_as_issue_9352_reported(kb):
    """https://github.com/ggml-org/llama.cpp/issues/9352: Llama 3.1 70B (Q4_K_L) at -c 131072
    with flash attention off (the default then), ROCm: "failed to allocate ... buffer of size"
    for a 16.80 GiB compute buffer. With flash attention on it is a few hundred MiB."""
    from advisor.sizing.runtime import llamacpp_compute_buffer_bytes

    a = kb.model("llama-3.1-70b").architecture
    off = llamacpp_compute_buffer_bytes(a, 131072, flash_attn=False)
    on = llamacpp_compute_buffer_bytes(a, 131072, flash_attn=True)
    assert off / c.GIB == pytest.approx(16.80, rel=0.15)
    assert on < 0.5 * c.GIB
    work = Workload(context_tokens=131072, flash_attn=False)
    parts = memory_parts(kb.model("llama-3.1-70b"), parse_precision("Q4_K_M"), work)
    assert parts.breakdown["overhead_compute_buffer"] == off
    assert any("flash attention off" in n for n in parts.assumptions)


def test_flash_attention_off_refuses_a_quantized_v_cache():
    r = CliRunner().invoke(main, ["explain", "llama-3.1-8b", "rtx-4090", "--flash-attn", "off",
                                  "--kv-cache", "q8_0"])
    assert r.exit_code == 2
    assert "--flash-attn on" in r.output and "Traceback" not in r.output


def test_flash_attention_off_is_kept_as_asked_and_turned_on_by_plans(advisor):
    from advisor.sizing.workload import Workload as W

    adv = advisor.explain("llama-3.1-70b", "rtx-4090", "Q4_K_M", 131072,
                          work=W(flash_attn=False, ram_bytes=128 * c.GIB))
    assert adv.situation.facts["flash_attn"] is False
    for plan in adv.path_plans:
        if plan.path == "as-asked":
            assert plan.command.endswith("-fa off") and not plan.flash_attn
        elif plan.runtime == "llama.cpp":
            assert plan.flash_attn and "flash attention on" in plan.changes
            assert "-fa off" not in (plan.command or "")
    assert adv.to_json()["plan"]["flash_attn"] is True


# --- the context a publisher advertises beyond config.json


def test_command_r_at_32k_as_ollama_issue_4790_ran_it(advisor):
    """https://github.com/ollama/ollama/issues/4790: Command R (Q4_0) at 32k on an RTX 4070 ran,
    its RAM growing with a KV cache of about 1.31 MB a token. config.json says 8,192 positions;
    the card advertises 128k, so 32,768 is answered, with a note, not refused."""
    adv = advisor.explain("command-r", "rtx-4070", "Q4_0", 32768)
    assert adv.situation.work.context_tokens == 32768
    assert adv.situation.facts["kv_cache_bytes"] == 32768 * 1_310_720
    assert adv.situation.facts["model_max_context_tokens"] == 131072
    assert any("max_position_embeddings (8,192)" in n for n in adv.situation.placement.parts.assumptions)
    assert adv.plan.context_tokens == 32768   # plans keep the context asked, not the config's


def test_vllm_plans_beyond_the_config_context_say_what_vllm_needs(advisor):
    adv = advisor.explain("command-r", "h100-80gb", None, 65536, runtime="vllm")
    long = [p for p in adv.path_plans if p.runtime == "vllm" and p.context_tokens > 8192]
    assert long and all(any("VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in n for n in p.notes) for p in long)


def test_vllm_beyond_the_config_context_carries_the_cards_rope_scaling(advisor):
    """Qwen2.5's card extends 32,768 positions to 131,072 with YaRN: the vLLM command carries it
    as --hf-overrides (advisor.plans.commands.rope_scaling_for), which also lifts vLLM's length
    check, and the note says so rather than suggest VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, which
    would leave positions past the config unscaled (docs.vllm.ai features/context_extension)."""
    adv = advisor.explain("qwen2.5-72b", "mi300x", None, 131072, runtime="vllm")
    long = [p for p in adv.path_plans
            if p.runtime == "vllm" and p.model.id == "qwen2.5-72b" and p.context_tokens > 32768]
    assert long
    for p in long:
        assert "--hf-overrides" in p.command and '"rope_type": "yarn"' in p.command
        note = next(n for n in p.notes if "beyond the config's 32,768 positions" in n)
        assert "YaRN" in note and "VLLM_ALLOW_LONG_MAX_MODEL_LEN" not in note


def test_context_beyond_the_advertised_limit_is_refused():
    r = CliRunner().invoke(main, ["explain", "command-r", "rtx-4070", "--context", "262144"])
    assert r.exit_code == 2 and "131,072" in r.output and "8,192" in r.output
