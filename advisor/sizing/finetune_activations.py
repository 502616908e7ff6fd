"""Activation memory of a training step: what autograd keeps for the backward pass.

Counted tensor by tensor for a Llama-style block (constants.py, section fine-tuning, and
docs/finetune.md); with gradient checkpointing each layer keeps only its input and one layer is
rebuilt at a time. The loss's logits are counted separately: with large vocabularies they are
the biggest single activation.
"""
from __future__ import annotations

from advisor.kb.schema import Architecture
from advisor.sizing import constants as c

def activation_bytes_per_token_per_layer(a: Architecture) -> int:
    """What one block keeps for backward, a token (Korthikanti-style count; constants.py)."""
    h, q, kv = a.hidden_size, a.attention_heads * a.head_dim, a.kv_heads * a.head_dim
    # MoE: the experts a token goes through (routed and shared) act like one wider FFN
    f = ((a.expert_ffn_size or a.ffn_size) * (a.experts_active + a.experts_shared)
         if a.experts_total else a.ffn_size)
    elements = 2 * h + 2 * h + (q + 2 * kv) + q + 4 * f
    return c.FT_ACTIVATION_BYTES * elements + c.FT_ATTENTION_LSE_BYTES_PER_HEAD * a.attention_heads


def logits_bytes(a: Architecture, tokens: int) -> int:
    return tokens * a.vocab_size * c.FT_LOGITS_BYTES_PER_VOCAB_ENTRY


def activations_bytes(a: Architecture, seq_len: int, micro_batch: int, checkpointing: bool) -> int:
    tokens = seq_len * micro_batch
    layer = activation_bytes_per_token_per_layer(a)
    boundary = c.FT_ACTIVATION_BYTES * a.hidden_size          # the input each layer keeps
    outside = 2 * boundary                                    # embedding output, final norm input
    if checkpointing:
        kept = tokens * (a.layers * boundary + layer)         # inputs + one layer rebuilt
    else:
        kept = tokens * a.layers * layer
    return kept + tokens * outside + logits_bytes(a, tokens)
