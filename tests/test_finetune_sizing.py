"""The fine-tuning sizing against the formulas and numbers of its sources."""
import pytest

from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture
from advisor.sizing import constants as c
from advisor.sizing.finetune import (FinetuneSpec, activations_bytes, explanation_numbers,
                                     finetune_memory, lora_parameters, nf4_tensor_bytes,
                                     optimizer_state_bytes, parse_lora_targets, validate)
from advisor.sizing.tensors import parameter_count


@pytest.fixture(scope="module")
def a8(kb):
    return kb.model("llama-3.1-8b").architecture


def states(m):
    p = m.parts
    return p["weights"] + p["gradients"] + p["optimizer_states"] + p["master_weights"]


def test_full_mixed_precision_adamw_is_16_bytes_a_parameter(a8):
    # ZeRO paper sec. 3.1 / Transformer Math 101: 2 + 2 + (4 + 4 + 4)
    m = finetune_memory(a8, FinetuneSpec(method="full"))
    assert states(m) == 16 * parameter_count(a8)


def test_zero_stages_divide_what_they_shard(a8):
    # ZeRO paper Figure 1: Pos+g = 2P + 14P/N, Pos+g+p = 16P/N
    p, n = parameter_count(a8), 8
    z2 = finetune_memory(a8, FinetuneSpec(method="full", sharding="zero2"), n)
    z3 = finetune_memory(a8, FinetuneSpec(method="full", sharding="zero3"), n)
    fsdp = finetune_memory(a8, FinetuneSpec(method="full", sharding="fsdp"), n)
    assert abs(states(z2) - (2 * p + 14 * p / n)) <= 4
    assert abs(states(z3) - 16 * p / n) <= 4
    assert states(z3) == states(fsdp)
    # activations are per GPU, never divided
    assert z3.parts["activations"] == finetune_memory(a8, FinetuneSpec(method="full")).parts["activations"]


def test_zero_paper_example_7_5b_on_64_gpus():
    # ZeRO paper Figure 1: 7.5B parameters, N=64: 120 GB, 16.6 GB (Pos+g), 1.9 GB (Pos+g+p)
    p, n = 7.5e9, 64
    assert 16 * p / 1e9 == 120
    assert round((2 * p + 14 * p / n) / 1e9, 1) == 16.6
    assert round(16 * p / n / 1e9, 1) == 1.9


def test_8bit_adamw_is_2_bytes_plus_block_scales():
    n = 4096 * 4096
    assert optimizer_state_bytes(n, "adamw") == 8 * n
    assert optimizer_state_bytes(n, "adamw-8bit") == 2 * n + 2 * 4 * (n // 2048)
    assert optimizer_state_bytes(n, "paged-adamw-8bit") == optimizer_state_bytes(n, "adamw-8bit")
    assert optimizer_state_bytes(4095, "adamw-8bit") == 8 * 4095   # min_8bit_size: fp32 states
    assert optimizer_state_bytes(n, "sgd") == 4 * n
    assert optimizer_state_bytes(n, "adamw", pure_bf16=True) == 4 * n


def test_nf4_double_quant_is_4_127_bits():
    # QLoRA paper sec. 3: constants cost 8/64 + 32/(64*256) = 0.127 bits instead of 0.5
    n = 64 * 256 * 1000
    assert nf4_tensor_bytes(n) * 8 / n == pytest.approx(4.127, abs=0.001)


def test_qlora_keeps_embedding_and_lm_head_in_bf16(a8):
    q = finetune_memory(a8, FinetuneSpec(method="qlora")).parts["weights"]
    embed_and_head = 2 * a8.vocab_size * a8.hidden_size * 2
    linears = parameter_count(a8) - 2 * a8.vocab_size * a8.hidden_size - (2 * a8.layers + 1) * a8.hidden_size
    assert q == pytest.approx(embed_and_head + linears * 4.127 / 8 + (2 * a8.layers + 1) * a8.hidden_size * 2,
                              rel=1e-3)


def test_lora_parameters_match_peft_for_llama_3_8b(a8):
    # PEFT print_trainable_parameters() for Llama-3(.1)-8B, r=16 on all 7 linear layers:
    # "trainable params: 41,943,040 || all params: 8,072,204,288"
    assert lora_parameters(a8, 16, c.FT_LORA_TARGETS) == 41_943_040
    assert parameter_count(a8) + 41_943_040 == 8_072_204_288
    # r=8 on q and v (PEFT's classic example): 8 x 32 x ((4096+4096) + (4096+1024))
    assert lora_parameters(a8, 8, ("q", "v")) == 8 * 32 * (8192 + 5120)


def test_lora_trains_adapters_only(a8):
    m = finetune_memory(a8, FinetuneSpec(method="lora"))
    assert m.trainable_parameters == 41_943_040
    assert m.parts["gradients"] == m.parts["adapters"] == 4 * 41_943_040
    assert m.parts["optimizer_states"] == 8 * 41_943_040
    assert m.parts["master_weights"] == 0
    assert m.parts["weights"] == 2 * parameter_count(a8)


def test_activations_grow_with_tokens_and_checkpointing_cuts_them(a8):
    on = activations_bytes(a8, 2048, 1, True)
    off = activations_bytes(a8, 2048, 1, False)
    assert off > 3 * on
    assert activations_bytes(a8, 4096, 1, True) == 2 * on
    assert activations_bytes(a8, 2048, 2, False) == 2 * off
    x = explanation_numbers(a8, FinetuneSpec())
    # per layer a token: norms 8h, q/k/v 2(q + 2kv), attention out 2q, lse 4a, SwiGLU 8f
    assert x["layer_bytes_per_token"] == 8 * 4096 + 2 * (4096 + 2048) + 2 * 4096 + 4 * 32 + 8 * 14336


def test_parse_lora_targets():
    assert parse_lora_targets("all") == c.FT_LORA_TARGETS
    assert parse_lora_targets("v_proj, q") == ("q", "v")
    with pytest.raises(AdvisorError, match="--lora-targets"):
        parse_lora_targets("q,attn")


@pytest.mark.parametrize("spec,gpus,message", [
    (FinetuneSpec(lora_rank=0), 1, "--lora-rank must be at least 1"),
    (FinetuneSpec(seq_len=0), 1, "--seq-len must be at least 1"),
    (FinetuneSpec(seq_len=10**7), 1, "longer than the model's context"),
    (FinetuneSpec(micro_batch=0), 1, "--micro-batch"),
    (FinetuneSpec(sharding="zero3"), 1, "--gpus 2"),
    (FinetuneSpec(method="lora", pure_bf16=True), 1, "--pure-bf16"),
    (FinetuneSpec(method="dpo"), 1, "unknown --method"),
    (FinetuneSpec(optimizer="lion"), 1, "unknown --optimizer"),
    (FinetuneSpec(lora_rank=5000), 1, "larger than the smallest"),
])
def test_bad_specs_are_one_line_errors(a8, spec, gpus, message):
    with pytest.raises(AdvisorError, match=message) as e:
        validate(spec, a8, gpus)
    assert "\n" not in str(e.value)


def test_moe_lora_counts_adapters_per_expert():
    a = Architecture(layers=2, hidden_size=64, attention_heads=4, kv_heads=2, head_dim=16,
                     ffn_size=128, vocab_size=100, tied_embeddings=False, max_context=256,
                     experts_total=4, experts_active=2)
    # down: 4 experts x r x (128 + 64), per layer
    assert lora_parameters(a, 2, ("down",)) == 2 * 4 * 2 * (128 + 64)
