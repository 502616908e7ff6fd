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
  with no q_lora_rank), attn_kv_a_mqa, attn_kv_a_norm, attn_kv_b, attn_output; with DeepSeek
  V3.2's lightning indexer also indexer_attn_q_b, indexer_attn_k, indexer_k_norm and its bias,
  indexer_proj (llama.cpp's blk.N.indexer.* tensors, src/models/deepseek32.cpp: the query from
  the q latent, one key with a LayerNorm, per-head weights).
- gated attention (Qwen3-Next, attn_output_gate): attn_q holds the query and the output gate,
  twice attention_heads x head_dim rows, as llama.cpp's qwen3next stores it.
- Gated DeltaNet linear attention (Qwen3-Next's linear layers), in llama.cpp's qwen3next names
  (convert_hf_to_gguf.py Qwen3NextModel; GGUF files of late 2025): ssm_in (q|k|v|z), ssm_ba
  (beta|alpha), ssm_conv1d (kernel x conv_dim, kept F32 by the quantizer), ssm_dt (dt bias),
  ssm_a, ssm_norm (the gated RMSNorm, linear_value_head_dim), ssm_out.
- cross-attention layers (Llama 3.2 Vision): cross_attn_q, cross_attn_k, cross_attn_v,
  cross_attn_output, cross_attn_q_norm, cross_attn_k_norm (head_dim), cross_attn_attn_gate and
  cross_attn_mlp_gate (one value each), as transformers' MllamaCrossAttentionDecoderLayer has
  them (llama.cpp has no mllama architecture to name them).
- dense FFN: ffn_gate, ffn_up, ffn_down; ffn_up alone holds gate|up when fused (Phi-3, as in
  llama.cpp); ffn_gate_bias, ffn_up_bias, ffn_down_bias with ffn_bias.
- mixture of experts: ffn_gate_inp (router) and ffn_gate_inp_bias (gpt-oss's router bias;
  DeepSeek V3's expert-score correction bias, llama.cpp's exp_probs_b); routed experts
  ffn_gate_exps, ffn_up_exps, ffn_down_exps (+ _bias with ffn_bias); shared experts
  ffn_gate_shexp, ffn_up_shexp, ffn_down_shexp, and ffn_gate_inp_shexp (the shared experts'
  sigmoid gate, hidden_size x 1, 1-D in llama.cpp) with shared_expert_gate.
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
    if a.attn_output_gate:  # q_proj yields the query and its output gate: twice the rows
        out[0] = Tensor(out[0].name, i, h, out[0].rows + q_dim)
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
    out += [
        Tensor("attn_kv_a_mqa", i, h, a.kv_lora_rank + a.qk_rope_head_dim),
        Tensor("attn_kv_a_norm", i, a.kv_lora_rank, 1),
        Tensor("attn_kv_b", i, a.kv_lora_rank, heads * (a.qk_nope_head_dim + a.v_head_dim)),
        Tensor("attn_output", i, heads * a.v_head_dim, h),
    ]
    if a.index_heads:
        d = a.index_head_dim
        out += [Tensor("indexer_attn_q_b", i, a.q_lora_rank, a.index_heads * d),
                Tensor("indexer_attn_k", i, h, d), Tensor("indexer_k_norm", i, d, 1),
                Tensor("indexer_k_norm_bias", i, d, 1), Tensor("indexer_proj", i, h, a.index_heads)]
    return out


def linear_conv_dim(a: Architecture) -> int:
    """Channels of a Gated DeltaNet layer's causal convolution: q and k (linear_key_heads x
    linear_key_head_dim each) and v (linear_value_heads x linear_value_head_dim)."""
    return (2 * a.linear_key_heads * a.linear_key_head_dim
            + a.linear_value_heads * a.linear_value_head_dim)


def _linear_attention(a: Architecture, i: int) -> list[Tensor]:
    """A Gated DeltaNet layer (Qwen3-Next): in_proj_qkvz, in_proj_ba, conv1d, dt_bias, A_log,
    the gated norm and out_proj of transformers' Qwen3NextGatedDeltaNet."""
    h, nv = a.hidden_size, a.linear_value_heads
    key_dim = a.linear_key_heads * a.linear_key_head_dim
    value_dim = nv * a.linear_value_head_dim
    return [Tensor("ssm_in", i, h, 2 * key_dim + 2 * value_dim), Tensor("ssm_ba", i, h, 2 * nv),
            Tensor("ssm_conv1d", i, a.linear_conv_kernel, linear_conv_dim(a)),
            Tensor("ssm_dt", i, nv, 1), Tensor("ssm_a", i, nv, 1),
            Tensor("ssm_norm", i, a.linear_value_head_dim, 1), Tensor("ssm_out", i, value_dim, h)]


def _cross_attention(a: Architecture, i: int) -> list[Tensor]:
    """A cross-attention layer's attention (Llama 3.2 Vision): projections of the self-attention
    shape (K and V read the projected image features, hidden_size wide), q/k norms, two gates."""
    h, d = a.hidden_size, a.head_dim
    q_dim, kv_dim = a.attention_heads * d, a.kv_heads * d
    return [Tensor("cross_attn_q", i, h, q_dim), Tensor("cross_attn_k", i, h, kv_dim),
            Tensor("cross_attn_v", i, h, kv_dim), Tensor("cross_attn_q_norm", i, d, 1),
            Tensor("cross_attn_k_norm", i, d, 1), Tensor("cross_attn_output", i, q_dim, h),
            Tensor("cross_attn_attn_gate", i, 1, 1), Tensor("cross_attn_mlp_gate", i, 1, 1)]


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
        if a.shared_expert_gate:
            out.append(Tensor("ffn_gate_inp_shexp", i, h, 1))
    return out


@lru_cache(maxsize=256)  # pure; architectures are immutable (frozen) and hashable
def model_tensors(a: Architecture) -> tuple[Tensor, ...]:
    """Every tensor, in llama.cpp's order (a tuple: the cached list is shared)."""
    h = a.hidden_size
    out = [Tensor("token_embd", None, h, a.vocab_size + a.embedding_extra_rows),
           Tensor("output_norm", None, h, 1)]
    if not a.tied_embeddings:
        out.append(Tensor("output", None, h, a.vocab_size))
    for i in range(a.layers):
        if a.is_linear_layer(i):
            out += _linear_attention(a, i)
        elif a.is_cross_attention_layer(i):
            out += _cross_attention(a, i)
        else:
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
