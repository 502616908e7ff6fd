"""The tensors of a decoder-only transformer, from its architecture.

Names follow llama.cpp's GGUF names, because its quantizer picks a type per tensor by name.
Shapes are given as (row_length, rows): row_length is the input dimension (ggml's ne0), along
which quantization blocks run.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from advisor.kb.schema import Architecture


@dataclass(frozen=True)
class Tensor:
    name: str          # llama.cpp name without the "blk.N." prefix
    layer: int | None  # None for tensors outside the repeating blocks
    row_length: int
    rows: int

    @property
    def elements(self) -> int:
        return self.row_length * self.rows

    @property
    def is_matrix(self) -> bool:
        return self.rows > 1


def model_tensors(a: Architecture) -> list[Tensor]:
    h, q_dim, kv_dim = a.hidden_size, a.attention_heads * a.head_dim, a.kv_heads * a.head_dim
    out = [Tensor("token_embd", None, h, a.vocab_size), Tensor("output_norm", None, h, 1)]
    if not a.tied_embeddings:
        out.append(Tensor("output", None, h, a.vocab_size))
    experts = a.experts_total or 1
    for i in range(a.layers):
        out += [
            Tensor("attn_q", i, h, q_dim),
            Tensor("attn_k", i, h, kv_dim),
            Tensor("attn_v", i, h, kv_dim),
            Tensor("attn_output", i, q_dim, h),
        ]
        if a.qkv_bias:
            out += [Tensor("attn_q_bias", i, q_dim, 1), Tensor("attn_k_bias", i, kv_dim, 1),
                    Tensor("attn_v_bias", i, kv_dim, 1)]
        if a.experts_total:
            out += [
                Tensor("ffn_gate_inp", i, h, experts),
                Tensor("ffn_gate_exps", i, h, a.ffn_size * experts),
                Tensor("ffn_up_exps", i, h, a.ffn_size * experts),
                Tensor("ffn_down_exps", i, a.ffn_size, h * experts),
            ]
        else:
            out += [
                Tensor("ffn_gate", i, h, a.ffn_size),
                Tensor("ffn_up", i, h, a.ffn_size),
                Tensor("ffn_down", i, a.ffn_size, h),
            ]
        out += [Tensor(f"norm_{k}", i, h, 1) for k in range(a.norms_per_layer)]
    return out


@lru_cache(maxsize=4096)  # pure; architectures are immutable (frozen) and hashable
def parameter_count(a: Architecture) -> int:
    return sum(t.elements for t in model_tensors(a))


def active_parameter_count(a: Architecture) -> int:
    """Parameters used for one token: MoE reads only experts_active of experts_total."""
    if not a.experts_total:
        return parameter_count(a)
    total = 0
    for t in model_tensors(a):
        if t.name.endswith("_exps"):
            total += t.elements * a.experts_active // a.experts_total
        else:
            total += t.elements
    return total
