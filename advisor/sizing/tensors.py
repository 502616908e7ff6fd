"""The tensors of a decoder-only transformer, from its architecture.

Names follow llama.cpp's GGUF names, because its quantizer picks a type per tensor by name.
Shapes are given as (row_length, rows): row_length is the input dimension (ggml's ne0), along
which quantization blocks run. 1-D tensors (norms, biases, sinks) have rows == 1.

Names, outside the layers: token_embd, output_norm, output (absent with tied embeddings).
Names in every layer (the "blk.N." prefix and ".weight" left out; "_bias" stands for ".bias"):
- attention: attn_q, attn_k, attn_v, attn_output; attn_qkv when the checkpoint fuses q|k|v
  (Phi-3); attn_q_bias, attn_k_bias, attn_v_bias (or attn_qkv_bias) and attn_output_bias;
  attn_q_norm, attn_k_norm (q/k norms: head_dim shared by the heads in Qwen3 and Gemma 3,
  one per head in Command R+, kept 1-D as llama.cpp leaves norms unquantized); attn_sinks
  (gpt-oss).
- multi-head latent attention (DeepSeek V2/V3): attn_q_a, attn_q_a_norm, attn_q_b (or attn_q
  with no q_lora_rank), attn_kv_a_mqa, attn_kv_a_norm, attn_kv_b, attn_output.
- dense FFN: ffn_gate, ffn_up, ffn_down; ffn_up alone holds gate|up when fused (Phi-3, as in
  llama.cpp); ffn_gate_bias, ffn_up_bias, ffn_down_bias with ffn_bias.
- mixture of experts: ffn_gate_inp (router) and ffn_gate_inp_bias (gpt-oss's router bias;
  DeepSeek V3's expert-score correction bias, llama.cpp's exp_probs_b); routed experts
  ffn_gate_exps, ffn_up_exps, ffn_down_exps (+ _bias with ffn_bias); shared experts
  ffn_gate_shexp, ffn_up_shexp, ffn_down_shexp.
- norm_0 .. norm_{norms_per_layer - 1}: the per-layer norms (attn_norm, ffn_norm, and Gemma's
  post-attention and post-FFN norms), all of hidden_size.
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

    @property
    def is_routed_expert(self) -> bool:
        """Weights (or biases) of the routed experts: a token reads experts_active of them."""
        return "_exps" in self.name


def _attention(a: Architecture, i: int) -> list[Tensor]:
    h = a.hidden_size
    if a.kv_lora_rank:
        return _latent_attention(a, i)
    q_dim, kv_dim = a.attention_heads * a.head_dim, a.kv_heads * a.head_dim
    if a.fused_qkv:
        out = [Tensor("attn_qkv", i, h, q_dim + 2 * kv_dim)]
        if a.qkv_bias:
            out.append(Tensor("attn_qkv_bias", i, q_dim + 2 * kv_dim, 1))
    else:
        out = [Tensor("attn_q", i, h, q_dim), Tensor("attn_k", i, h, kv_dim),
               Tensor("attn_v", i, h, kv_dim)]
        if a.qkv_bias:
            out += [Tensor("attn_q_bias", i, q_dim, 1), Tensor("attn_k_bias", i, kv_dim, 1),
                    Tensor("attn_v_bias", i, kv_dim, 1)]
    if a.qk_norm:
        q_norm, k_norm = (q_dim, kv_dim) if a.qk_norm_per_head else (a.head_dim, a.head_dim)
        out += [Tensor("attn_q_norm", i, q_norm, 1), Tensor("attn_k_norm", i, k_norm, 1)]
    out.append(Tensor("attn_output", i, q_dim, h))
    if a.attn_output_bias:
        out.append(Tensor("attn_output_bias", i, h, 1))
    if a.attention_sinks:
        out.append(Tensor("attn_sinks", i, a.attention_heads, 1))
    return out


def _latent_attention(a: Architecture, i: int) -> list[Tensor]:
    h, heads = a.hidden_size, a.attention_heads
    qk_head = a.qk_nope_head_dim + a.qk_rope_head_dim
    if a.q_lora_rank:
        out = [Tensor("attn_q_a", i, h, a.q_lora_rank), Tensor("attn_q_a_norm", i, a.q_lora_rank, 1),
               Tensor("attn_q_b", i, a.q_lora_rank, heads * qk_head)]
    else:
        out = [Tensor("attn_q", i, h, heads * qk_head)]
    return out + [
        Tensor("attn_kv_a_mqa", i, h, a.kv_lora_rank + a.qk_rope_head_dim),
        Tensor("attn_kv_a_norm", i, a.kv_lora_rank, 1),
        Tensor("attn_kv_b", i, a.kv_lora_rank, heads * (a.qk_nope_head_dim + a.v_head_dim)),
        Tensor("attn_output", i, heads * a.v_head_dim, h),
    ]


def _dense_ffn(a: Architecture, i: int) -> list[Tensor]:
    h, f = a.hidden_size, a.ffn_size
    if a.fused_gate_up:
        out = [Tensor("ffn_up", i, h, 2 * f)]
        biases = [Tensor("ffn_up_bias", i, 2 * f, 1)]
    else:
        out = [Tensor("ffn_gate", i, h, f), Tensor("ffn_up", i, h, f)]
        biases = [Tensor("ffn_gate_bias", i, f, 1), Tensor("ffn_up_bias", i, f, 1)]
    out.append(Tensor("ffn_down", i, f, h))
    if a.ffn_bias:
        out += biases + [Tensor("ffn_down_bias", i, h, 1)]
    return out


def _moe_ffn(a: Architecture, i: int) -> list[Tensor]:
    h, n = a.hidden_size, a.experts_total
    f = a.expert_ffn_size or a.ffn_size
    out = [Tensor("ffn_gate_inp", i, h, n)]
    if a.router_bias:
        out.append(Tensor("ffn_gate_inp_bias", i, n, 1))
    out += [Tensor("ffn_gate_exps", i, h, f * n), Tensor("ffn_up_exps", i, h, f * n),
            Tensor("ffn_down_exps", i, f, h * n)]
    if a.ffn_bias:
        out += [Tensor("ffn_gate_exps_bias", i, f * n, 1), Tensor("ffn_up_exps_bias", i, f * n, 1),
                Tensor("ffn_down_exps_bias", i, h * n, 1)]
    if a.experts_shared:
        s = f * a.experts_shared
        out += [Tensor("ffn_gate_shexp", i, h, s), Tensor("ffn_up_shexp", i, h, s),
                Tensor("ffn_down_shexp", i, s, h)]
    return out


@lru_cache(maxsize=256)  # pure; architectures are immutable (frozen) and hashable
def model_tensors(a: Architecture) -> tuple[Tensor, ...]:
    """Every tensor, in llama.cpp's order (a tuple: the cached list is shared)."""
    h = a.hidden_size
    out = [Tensor("token_embd", None, h, a.vocab_size), Tensor("output_norm", None, h, 1)]
    if not a.tied_embeddings:
        out.append(Tensor("output", None, h, a.vocab_size))
    for i in range(a.layers):
        out += _attention(a, i)
        out += _moe_ffn(a, i) if a.is_moe_layer(i) else _dense_ffn(a, i)
        out += [Tensor(f"norm_{k}", i, h, 1) for k in range(a.norms_per_layer)]
    return tuple(out)


@lru_cache(maxsize=4096)  # pure; architectures are immutable (frozen) and hashable
def parameter_count(a: Architecture) -> int:
    return sum(t.elements for t in model_tensors(a))


def active_parameter_count(a: Architecture) -> int:
    """Parameters used for one token: of the routed experts only experts_active of
    experts_total; shared experts, router, attention, embeddings and norms all count."""
    if not a.experts_total:
        return parameter_count(a)
    total = 0
    for t in model_tensors(a):
        if t.is_routed_expert:
            total += t.elements * a.experts_active // a.experts_total
        else:
            total += t.elements
    return total
