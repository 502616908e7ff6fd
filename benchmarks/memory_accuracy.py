"""Predicted memory against published sizes and runtime logs.

    python benchmarks/memory_accuracy.py [--rows]

Weights: every usable row of ../shared/reference/gguf_sizes.csv (published GGUF file sizes) and
the weight rows of memory_measurements.csv (vLLM load logs); KV cache: the KV rows of
memory_measurements.csv (llama.cpp and vLLM/SGLang logs, the Hugging Face KV table). Prints the
median and worst error per category (and every row with --rows). Architectures come from
../shared/reference/model_configs.csv; nothing is fitted per row.
"""
from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.kv_cache import kv_cache_bytes
from advisor.sizing.precision import parse_precision
from advisor.sizing.vllm_memory import VllmBatch, vllm_rank_overhead
from advisor.sizing.weights import weights_bytes

REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
GIB, MIB = c.GIB, c.MIB

# Models published under another name whose tensor shapes are those of a model_configs.csv row:
# Llama 3 8B and Llama 3.1 8B differ only in RoPE scaling and context; Qwen2-7B and Qwen2.5-7B
# have the same layers, widths, heads and vocabulary (both config.json files).
SAME_SHAPES = {"Llama-3-8B": "Llama-3.1-8B", "Qwen2-7B": "Qwen2.5-7B"}

# KV-only shapes of the models in the runtime logs that model_configs.csv lacks, from their
# Hugging Face config.json: (layers, kv_heads, head_dim).
KV_ONLY = {
    "granite-3.3-2b": (40, 8, 64),  # ibm-granite/granite-3.3-2b-instruct: 40 layers, 8 KV heads, 2048/32
    "Qwen3-235B-A22B": (94, 4, 128),  # Qwen/Qwen3-235B-A22B: 94 layers, 4 KV heads, head_dim 128
}


def read_csv(name: str) -> list[dict]:
    with (REF / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def architectures() -> dict[str, Architecture]:
    out = {}
    for r in read_csv("model_configs.csv"):
        experts = int(r["num_local_experts"]) if r["num_local_experts"] not in ("", "null") else None
        sw = int(r["sliding_window"]) if r["sliding_window"] not in ("", "null") else None
        gemma2 = r["model"].startswith("Gemma-2")
        out[r["model"]] = Architecture(
            layers=int(r["num_hidden_layers"]), hidden_size=int(r["hidden_size"]),
            attention_heads=int(r["num_attention_heads"]), kv_heads=int(r["num_key_value_heads"]),
            head_dim=int(r["head_dim"]), ffn_size=int(r["intermediate_size"]),
            vocab_size=int(r["vocab_size"]), tied_embeddings=r["tie_word_embeddings"] == "True",
            max_context=int(r["max_position_embeddings"]), qkv_bias=r["qkv_bias"] == "True",
            norms_per_layer=4 if gemma2 else 2,
            sliding_window=sw if gemma2 else None, sliding_window_pattern=2 if gemma2 else None,
            experts_total=experts,
            experts_active=int(r["num_experts_per_tok"]) if experts else None,
        )
    return out


def category(quant: str) -> str:
    q = quant.upper()
    if q.endswith("_L") and q.startswith("Q") and q not in ("Q3_K_L",) or q.endswith("_XL"):
        return "k-quant with Q8_0 embed/output (_L/_XL)"
    if q.startswith("IQ"):
        return "i-quant (IQ*)"
    if q in ("F16", "BF16", "Q8_0", "F32"):
        return "float and Q8_0"
    if "_K" in q:
        return "k-quant"
    return "legacy (Q4_0/Q4_1/Q5_0/Q5_1)"


def imatrix_of(row: dict) -> bool | None:
    """Whether the publisher used an importance matrix: bartowski's cards say all his quants do;
    mradermacher's 'i1' repos do, his static ones do not; otherwise llama.cpp's own requirement."""
    pub, notes = row["publisher_or_source"], row["notes"]
    if pub.startswith("bartowski") or "imatrix" in notes or "i1" in notes:
        return True
    if "static" in notes:
        return False
    return None


def weights_rows(archs):
    from advisor.sizing.gguf_mix import fused_layout, tensor_types
    from advisor.sizing.ggml_types import tensor_bytes
    from advisor.sizing.tensors import model_tensors

    rows, skipped = [], []
    for r in read_csv("gguf_sizes.csv"):
        name, quant = r["model"], r["quant_type"]
        label = f"{name} {quant} ({r['publisher_or_source'][:28]})"
        if "DO NOT" in r["notes"] or "EARLY" in r["notes"]:
            skipped.append((label, "early Mixtral quants: experts not k-quantized then"))
            continue
        key = SAME_SHAPES.get(name, name)
        if key not in archs:
            skipped.append((label, "model not in model_configs.csv"))
            continue
        try:
            p = parse_precision(quant)
        except Exception:
            skipped.append((label, f"'{quant}' is not a llama.cpp file type the sizing knows "
                                   "(original-size column, ARM repack or unnamed)"))
            continue
        a = archs[key]
        if p.family == "gguf":
            ts = model_tensors(a)
            if name.startswith("Phi-3"):
                ts = fused_layout(ts, a)  # llama.cpp's phi3 tensors: attn_qkv, fused ffn_up
            types = tensor_types(p.name, ts, a, imatrix=imatrix_of(r))
            pred = sum(tensor_bytes(ty, t.row_length, t.rows) for t, ty in zip(ts, types))
        else:
            pred = weights_bytes(a, p)
        pub = float(r["size_bytes_approx"])
        rows.append((category(quant), label, pred, pub))
    return rows, skipped


def measurement_rows(archs):
    rows, skipped = [], []
    bf16 = parse_precision("bf16")
    for r in read_csv("memory_measurements.csv"):
        metric, model, val = r["metric"], r["model"], r["value"]
        label = f"{r['framework'][:22]} {model[:30]} {metric[:40]}"
        if metric.startswith("model weights take"):
            tp = int(r["tp"])
            pred = weights_bytes(archs["Llama-3.1-8B"], bf16) // tp  # Llama 3 = 3.1 shapes
            rows.append(("weights: vLLM load log", label, pred, float(val) * GIB))
        elif metric.startswith("Loading model weights took"):
            pred = weights_bytes(archs["Llama-3.1-405B"], parse_precision("fp8-ffn")) // 8
            rows.append(("weights: vLLM load log", label, pred, float(val) * GIB))
        elif metric == "KV cache size (load log)":
            ctx = int(r["context_tokens"])
            if model.startswith("Llama-3.2-3B"):
                a = archs["Llama-3.2-3B"]
            else:
                layers, kv, hd = KV_ONLY["granite-3.3-2b"]
                a = Architecture(layers=layers, hidden_size=2048, attention_heads=32, kv_heads=kv,
                                 head_dim=hd, ffn_size=8192, vocab_size=49159,
                                 tied_embeddings=True, max_context=131072)
            pred = kv_cache_bytes(a, ctx, 1, "fp16", "llama.cpp")
            rows.append(("KV cache: llama.cpp log", label, pred, float(val) * MIB))
        elif metric.startswith("Available KV cache memory") or metric == "GPU KV cache size":
            if metric == "GPU KV cache size":
                continue  # checked with the 'Available' row
            layers, kv, hd = KV_ONLY["Qwen3-235B-A22B"]
            per_token_gpu = layers * max(kv // int(r["tp"]), 1) * hd * 2 * 2
            avail = float(val) * GIB
            pred_tokens = int(avail // per_token_gpu) // c.VLLM_BLOCK_TOKENS * c.VLLM_BLOCK_TOKENS
            rows.append(("KV cache: vLLM/SGLang log", f"{label} -> tokens", pred_tokens, 178880.0))
        elif metric == "KV cache tokens allocated":
            layers, kv, hd = KV_ONLY["Qwen3-235B-A22B"]
            k_bytes = int(val) * layers * max(kv // 4, 1) * hd * 2
            rows.append(("KV cache: vLLM/SGLang log", f"{label} -> K bytes", k_bytes, 8.23 * GIB))
        elif metric == "KV cache memory":
            ctx = int(r["context_tokens"])
            key = model
            if model == "Llama-3.1-405B":
                skipped.append((label + f" {ctx}", "the published table's 405B row assumes 16 KV heads "
                                                  "(reference/README.md); the model has 8"))
                continue
            pred = kv_cache_bytes(archs[key], ctx, 1, "fp16")
            rows.append(("KV cache: HF blog table (GiB, 2-4 digits)", label + f" {ctx}", pred,
                         float(val) * GIB))
        elif metric == "available_kv_cache_memory":
            a = archs["Llama-3.1-8B"]
            total = 79.22 * GIB
            # vLLM v0.6 (V0 engine) at max_model_len 8192 (no chunked prefill: 8192 batched
            # tokens) and 256 sequences; the per-rank model is advisor/sizing/vllm_memory.py
            rank = vllm_rank_overhead(a, 1, VllmBatch(8192, 256))
            pred = c.VLLM_GPU_MEMORY_UTILIZATION * total - weights_bytes(a, bf16) - sum(rank.values())
            rows.append(("vLLM KV budget (V0 log; non-torch measured differently)", label, pred,
                         float(val) * GIB))
        else:
            skipped.append((label, "not a weights or KV measurement (calibration input, estimate "
                                   "or out-of-memory observation)"))
    return rows, skipped


MEASURED = Path(__file__).resolve().parent / "measured" / "h200-llamacpp-2026-11-30" / "memory_logs.txt"


def measured_llamacpp_rows():
    """The memory breakdowns llama.cpp 0c1e570 printed on an H200 (Llama 3.1 8B shapes, Q4_K_M,
    all layers on the GPU; benchmarks/measured/h200-llamacpp-2026-11-30/memory_logs.txt): GPU
    weights, KV cache, compute buffer and the total with the unaccounted CUDA context, each
    against memory_parts for that context and -fa."""
    import re

    from advisor.kb import load_kb
    from advisor.sizing.memory import memory_parts
    from advisor.sizing.workload import Workload

    kb = load_kb()
    m, g, q4 = kb.model("llama-3.1-8b"), kb.gpu("h200"), parse_precision("Q4_K_M")
    rows, seen = [], set()
    ctx = fa = None
    for line in MEASURED.read_text(encoding="utf-8").splitlines():
        head = re.search(r"-c (\d+) -fa (on|off)", line)
        if line.startswith("==") and head:
            ctx, fa = int(head.group(1)), head.group(2) == "on"
            continue
        cells = re.search(r"CUDA0 \(H200\)\s*\|\s*\d+ = \d+ \+ \(\s*(\d+) =\s*(\d+) \+\s*(\d+) \+\s*(\d+)\) \+\s*(\d+)", line)
        if not cells or (ctx, fa) in seen:
            continue
        seen.add((ctx, fa))
        _self, model, kv, compute, unacc = (int(x) for x in cells.groups())
        p = memory_parts(m, q4, Workload(context_tokens=ctx, flash_attn=fa), 1, "nvidia", True, g)
        tag = f"8B Q4_K_M -c {ctx} -fa {'on' if fa else 'off'}"
        rows.append(("llama.cpp 0c1e570 H200: GPU weights", tag, p.weights_bytes, model * MIB))
        rows.append(("llama.cpp 0c1e570 H200: KV cache", tag, p.kv_cache_bytes, kv * MIB))
        rows.append(("llama.cpp 0c1e570 H200: compute buffer", tag,
                     p.breakdown["overhead_compute_buffer"], compute * MIB))
        rows.append(("llama.cpp 0c1e570 H200: total + context", tag, p.total_bytes,
                     (_self + unacc) * MIB))
    return rows


def main(argv: list[str]) -> int:
    archs = architectures()
    w, s1 = weights_rows(archs)
    m, s2 = measurement_rows(archs)
    rows = w + m + measured_llamacpp_rows()
    if "--rows" in argv:
        for cat, label, pred, pub in rows:
            print(f"{cat[:34]:34} {label[:70]:70} pred {pred:>16,.0f} pub {pub:>16,.0f} "
                  f"{100 * (pred - pub) / pub:+7.2f}%")
        for label, why in s1 + s2:
            print(f"skipped: {label}: {why}")
        print()
    cats: dict[str, list[float]] = {}
    for cat, _, pred, pub in rows:
        cats.setdefault(cat, []).append(100 * (pred - pub) / pub)
    std = [e for cat, es in cats.items() for e in es
           if cat in ("float and Q8_0", "k-quant", "legacy (Q4_0/Q4_1/Q5_0/Q5_1)")]
    print(f"{'category':55} {'rows':>4} {'median |err|':>13} {'worst |err|':>12} {'mean err':>9}")
    for cat, es in list(cats.items()) + [("ALL standard llama.cpp types", std)]:
        ab = [abs(e) for e in es]
        print(f"{cat:55} {len(es):4} {statistics.median(ab):12.2f}% {max(ab):11.2f}% "
              f"{statistics.mean(es):+8.2f}%")
    print(f"skipped rows: {len(s1) + len(s2)} (--rows lists each with its reason)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
