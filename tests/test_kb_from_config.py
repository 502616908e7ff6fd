"""advisor kb add --from config.json: each supported model_type maps to an entry that
validates and, for the real configs of KB models, to the same architecture as the KB."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from advisor.cli import main
from advisor.errors import AdvisorError
from advisor.kb.from_config import MAPPERS, architecture_from_config, model_from_config, model_yaml
from advisor.kb.schema import Model
from advisor.kb.validate import validate
from advisor.sizing.tensors import parameter_count

# Real config.json values (trimmed to the keys that matter) of models in the KB.
CONFIGS = {
    "llama-3.1-8b": {"model_type": "llama", "_name_or_path": "meta-llama/Llama-3.1-8B", "num_hidden_layers": 32,
                     "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
                     "intermediate_size": 14336, "vocab_size": 128256, "tie_word_embeddings": False,
                     "max_position_embeddings": 131072, "attention_bias": False, "mlp_bias": False},
    "mistral-7b-v0.1": {"model_type": "mistral", "num_hidden_layers": 32, "hidden_size": 4096,
                        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
                        "vocab_size": 32000, "max_position_embeddings": 32768, "sliding_window": 4096},
    "qwen2.5-7b": {"model_type": "qwen2", "num_hidden_layers": 28, "hidden_size": 3584, "num_attention_heads": 28,
                   "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
                   "tie_word_embeddings": False, "max_position_embeddings": 32768, "use_sliding_window": False,
                   "sliding_window": 131072},
    "qwen3-8b": {"model_type": "qwen3", "num_hidden_layers": 36, "hidden_size": 4096, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 12288, "vocab_size": 151936,
                 "tie_word_embeddings": False, "max_position_embeddings": 40960, "attention_bias": False},
    "qwen3-30b-a3b": {"model_type": "qwen3_moe", "num_hidden_layers": 48, "hidden_size": 2048,
                      "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
                      "intermediate_size": 6144, "moe_intermediate_size": 768, "num_experts": 128,
                      "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
                      "vocab_size": 151936, "tie_word_embeddings": False, "max_position_embeddings": 40960},
    "mixtral-8x7b": {"model_type": "mixtral", "num_hidden_layers": 32, "hidden_size": 4096,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
                     "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000,
                     "max_position_embeddings": 32768, "sliding_window": None},
    "gemma-2-9b": {"model_type": "gemma2", "num_hidden_layers": 42, "hidden_size": 3584, "num_attention_heads": 16,
                   "num_key_value_heads": 8, "head_dim": 256, "intermediate_size": 14336, "vocab_size": 256000,
                   "max_position_embeddings": 8192, "sliding_window": 4096},
    "gemma-3-1b": {"model_type": "gemma3_text", "num_hidden_layers": 26, "hidden_size": 1152,
                   "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 6912,
                   "vocab_size": 262144, "max_position_embeddings": 32768, "sliding_window": 512,
                   "sliding_window_pattern": 6},
    "phi-3-mini": {"model_type": "phi3", "num_hidden_layers": 32, "hidden_size": 3072, "num_attention_heads": 32,
                   "num_key_value_heads": 32, "intermediate_size": 8192, "vocab_size": 32064,
                   "tie_word_embeddings": False, "max_position_embeddings": 4096, "sliding_window": 2047},
    "deepseek-v3": {"model_type": "deepseek_v3", "num_hidden_layers": 61, "hidden_size": 7168,
                    "num_attention_heads": 128, "num_key_value_heads": 128, "intermediate_size": 18432,
                    "moe_intermediate_size": 2048, "n_routed_experts": 256, "n_shared_experts": 1,
                    "num_experts_per_tok": 8, "first_k_dense_replace": 3, "moe_layer_freq": 1,
                    "topk_method": "noaux_tc", "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
                    "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 129280, "tie_word_embeddings": False,
                    "max_position_embeddings": 163840},
    "gpt-oss-20b": {"model_type": "gpt_oss", "num_hidden_layers": 24, "hidden_size": 2880,
                    "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "intermediate_size": 2880,
                    "num_local_experts": 32, "num_experts_per_tok": 4, "vocab_size": 201088,
                    "tie_word_embeddings": False, "max_position_embeddings": 131072, "sliding_window": 128,
                    "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(24)],
                    "quantization_config": {"quant_method": "mxfp4"}},
    "deepseek-v3.2-exp": {"model_type": "deepseek_v32", "num_hidden_layers": 61, "hidden_size": 7168,
                          "num_attention_heads": 128, "num_key_value_heads": 128, "intermediate_size": 18432,
                          "moe_intermediate_size": 2048, "n_routed_experts": 256, "n_shared_experts": 1,
                          "num_experts_per_tok": 8, "first_k_dense_replace": 3, "moe_layer_freq": 1,
                          "topk_method": "noaux_tc", "q_lora_rank": 1536, "kv_lora_rank": 512,
                          "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
                          "index_n_heads": 64, "index_head_dim": 128, "index_topk": 2048,
                          "vocab_size": 129280, "tie_word_embeddings": False, "max_position_embeddings": 163840},
    "qwen3-next-80b-a3b-instruct": {
        "model_type": "qwen3_next", "num_hidden_layers": 48, "hidden_size": 2048, "num_attention_heads": 16,
        "num_key_value_heads": 2, "head_dim": 256, "intermediate_size": 5120, "moe_intermediate_size": 512,
        "shared_expert_intermediate_size": 512, "num_experts": 512, "num_experts_per_tok": 10,
        "decoder_sparse_step": 1, "mlp_only_layers": [], "full_attention_interval": 4,
        "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
        "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "vocab_size": 151936,
        "tie_word_embeddings": False, "max_position_embeddings": 262144},
    "command-r-plus": {"model_type": "cohere", "num_hidden_layers": 64, "hidden_size": 12288,
                       "num_attention_heads": 96, "num_key_value_heads": 8, "intermediate_size": 33792,
                       "vocab_size": 256000, "max_position_embeddings": 8192, "use_qk_norm": True},
}


def test_every_supported_type_has_a_case():
    assert {c["model_type"] for c in CONFIGS.values()} == set(MAPPERS)


@pytest.mark.parametrize("model_id", sorted(CONFIGS))
def test_config_maps_to_the_kb_architecture(kb, model_id):
    arch, _ = architecture_from_config(CONFIGS[model_id])
    expected = kb.model(model_id).architecture
    m = model_from_config(CONFIGS[model_id], "x-" + model_id, "config.json")
    for field in arch:
        assert getattr(m.architecture, field) == getattr(expected, field), (model_id, field)
    assert parameter_count(m.architecture) == parameter_count(expected)


def test_multimodal_gemma3_reads_text_config(kb):
    text = {k: v for k, v in CONFIGS["gemma-3-1b"].items() if k != "model_type"}
    m = model_from_config({"model_type": "gemma3", "text_config": text}, "g", "c.json")
    assert m.vision_tower_excluded and m.architecture.qk_norm


def test_yaml_round_trips_and_is_deterministic():
    m = model_from_config(CONFIGS["deepseek-v3"], "ds", "hf/config.json")
    text = model_yaml(m)
    assert text == model_yaml(model_from_config(CONFIGS["deepseek-v3"], "ds", "hf/config.json"))
    assert validate(Model, yaml.safe_load(text)) == m
    assert "experts_shared: 1" in text and "qkv_bias" not in text


def test_layer_types_other_than_every_nth_are_refused():
    c = dict(CONFIGS["gpt-oss-20b"], layer_types=["full_attention", "sliding_attention"] * 12)
    with pytest.raises(AdvisorError, match="every Nth layer global"):
        architecture_from_config(c)


@pytest.mark.parametrize("config,message", [
    ({"model_type": "bert"}, r"model_type 'bert' is not supported; supported: cohere, deepseek_v3, deepseek_v32, gemma2"),
    ({}, r"model_type None is not supported"),
    ({"model_type": "llama", "hidden_size": 64}, r"config.json \(llama\) has no 'num_attention_heads'"),
    (dict(CONFIGS["qwen2.5-7b"], use_sliding_window=True), "use_sliding_window"),
    (dict(CONFIGS["llama-3.1-8b"], vocab_size="big"), "'vocab_size' must be an integer"),
])
def test_bad_configs_are_one_line_errors(config, message):
    with pytest.raises(AdvisorError, match=message):
        architecture_from_config(config)


def _cli(*args):
    return CliRunner().invoke(main, ["kb", "add", *args])


def test_cli_writes_a_valid_entry_and_refuses_to_overwrite(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(CONFIGS["llama-3.1-8b"]))
    out = tmp_path / "kb"
    r = _cli("--from", str(cfg), "--out", str(out))
    assert r.exit_code == 0, r.output
    written = out / "models" / "llama-3.1-8b.yaml"  # id from _name_or_path; --kb's layout
    assert r.output.strip() == str(written)
    entry = validate(Model, yaml.safe_load(written.read_text()))
    assert entry.aliases == ["meta-llama/Llama-3.1-8B"] and entry.sources[0].source == str(cfg)
    before = written.read_text()
    r = _cli("--from", str(cfg), "--out", str(out))
    assert r.exit_code == 2 and "already exists; not overwriting it" in r.output
    assert written.read_text() == before


def test_cli_errors_exit_2(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(CONFIGS["mistral-7b-v0.1"]))  # no _name_or_path
    r = _cli("--from", str(cfg), "--out", str(tmp_path))
    assert r.exit_code == 2 and "give --id" in r.output
    r = _cli("--from", str(cfg), "--out", str(tmp_path), "--id", "Bad Id")
    assert r.exit_code == 2 and "is not a KB id" in r.output
    cfg.write_text("{not json")
    r = _cli("--from", str(cfg), "--out", str(tmp_path), "--id", "m")
    assert r.exit_code == 2 and "not valid JSON" in r.output
    r = _cli("--from", str(tmp_path / "missing.json"), "--id", "m")
    assert r.exit_code == 2 and "cannot read" in r.output
    assert "Traceback" not in r.output


def test_qwen3_next_layer_types_must_repeat_every_interval():
    c = dict(CONFIGS["qwen3-next-80b-a3b-instruct"])
    arch, _ = architecture_from_config({**c, "layer_types": (["linear_attention"] * 3 + ["full_attention"]) * 12})
    assert arch["full_attention_interval"] == 4 and arch["experts_shared"] == 1
    with pytest.raises(AdvisorError, match="layer_types"):
        architecture_from_config({**c, "layer_types": ["full_attention"] * 48})
    with pytest.raises(AdvisorError, match="shared_expert_intermediate_size"):
        architecture_from_config({**c, "shared_expert_intermediate_size": 700})
