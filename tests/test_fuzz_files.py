"""Property tests (hypothesis) over the files a user hands advisor: config.json contents, GGUF
header metadata and KB model entries. Whatever the numbers and types, `advisor` answers (exit 0)
or refuses in one line (exit 2): never a traceback, never a hang (each run is bounded by
time_limit). Examples are few and derandomized, so the module runs in well under a minute."""
from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.cli import main
from tests.file_helpers import (ARRAY, BOOL, F32, F64, I32, I64, LLAMA_CONFIG, STRING, U32, U64,
                                config_folder, kb_model_dir, llama_gguf, time_limit)

SECONDS = 20  # one run; a real model file answers in well under a second
FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
FUZZ_KB = settings(FUZZ, max_examples=8)  # a KB run validates the built-in KB too: slower

# numbers around every boundary: zero, negatives, the limits, 2**31, 2**63, floats, NaN
NUMBERS = st.one_of(
    st.integers(-3, 300),
    st.sampled_from([0, 1, 2, 3, 7, 64, 4095, 4096, 4097, 1 << 17, (1 << 17) + 1, 1 << 28,
                     (1 << 28) + 1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 10**9, 10**18, -1, -2**31]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
)
ANY_JSON = st.one_of(NUMBERS, st.booleans(), st.none(), st.text(max_size=4),
                     st.lists(NUMBERS, max_size=4), st.dictionaries(st.text(max_size=3), NUMBERS, max_size=2))
CONFIG_KEYS = ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
               "intermediate_size", "vocab_size", "max_position_embeddings", "head_dim",
               "sliding_window", "sliding_window_pattern", "num_local_experts",
               "num_experts_per_tok", "n_shared_experts", "first_k_dense_replace",
               "moe_intermediate_size", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim",
               "qk_nope_head_dim", "v_head_dim", "tie_word_embeddings", "torch_dtype",
               "quantization_config", "layer_types", "model_type"]


def _check(args, tmp_path=None):
    """Run the CLI: exit 0 or 2, a one-line error when 2, no exception, within SECONDS."""
    with time_limit(SECONDS):
        r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code in (0, 2), (r.exit_code, r.output[-2000:], repr(r.exception))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    if r.exit_code == 2:  # one line a fault (kb validate lists each, then a count), short ones
        assert r.output.strip() and all(len(line) < 600 for line in r.output.splitlines()), r.output[:2000]
    return r


@FUZZ
@given(over=st.dictionaries(st.sampled_from(CONFIG_KEYS), ANY_JSON, min_size=1, max_size=5))
def test_config_json_answers_or_refuses(tmp_path_factory, over):
    folder = config_folder(tmp_path_factory.mktemp("cfg"), text=json.dumps({**LLAMA_CONFIG, **over}))
    _check(["explain", folder, "rtx-4090"])


@FUZZ
@given(text=st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1"))))
def test_config_json_garbage_text(tmp_path_factory, text):
    folder = config_folder(tmp_path_factory.mktemp("cfg"), text=text)
    _check(["explain", folder, "rtx-4090"])


GGUF_KEYS = ["block_count", "embedding_length", "attention.head_count", "attention.head_count_kv",
             "feed_forward_length", "context_length", "attention.key_length", "expert_count",
             "expert_used_count", "expert_shared_count", "expert_feed_forward_length",
             "leading_dense_block_count", "attention.sliding_window", "attention.kv_lora_rank",
             "rope.dimension_count", "vocab_size"]
_INT_RANGES = {U32: (0, 2**32 - 1), I32: (-2**31, 2**31 - 1), U64: (0, 2**64 - 1),
               I64: (-2**63, 2**63 - 1)}


@st.composite
def gguf_value(draw):
    vtype = draw(st.sampled_from([U32, I32, U64, I64, F32, F64, BOOL, STRING, ARRAY]))
    if vtype in _INT_RANGES:
        lo, hi = _INT_RANGES[vtype]
        n = draw(NUMBERS.filter(lambda x: isinstance(x, int)))
        return vtype, min(max(n, lo), hi)
    if vtype in (F32, F64):
        return vtype, draw(st.floats(allow_nan=True, allow_infinity=True, width=32))
    if vtype == BOOL:
        return vtype, draw(st.booleans())
    if vtype == STRING:
        return vtype, draw(st.text(max_size=5))
    items = draw(st.lists(st.integers(0, 2**32 - 1), max_size=6))
    return ARRAY, (U32, items)


@FUZZ
@given(meta=st.dictionaries(st.sampled_from(GGUF_KEYS), gguf_value(), min_size=1, max_size=5),
       blocks=st.sampled_from([None, 0, 1, 2]), tensors=st.booleans())
def test_gguf_header_answers_or_refuses(tmp_path_factory, meta, blocks, tensors):
    base = {"block_count": "layers", "embedding_length": "hidden", "attention.head_count": "heads",
            "attention.head_count_kv": "kv_heads", "feed_forward_length": "ffn",
            "context_length": "context"}
    kwargs = {base[k]: None for k in meta if k in base}  # the fuzzed value replaces the default
    extra = [(f"llama.{k}", vtype, value) for k, (vtype, value) in meta.items()]
    p = llama_gguf(tmp_path_factory.mktemp("gguf") / "m.gguf", extra=extra, blocks=blocks,
                   tensors=tensors, **kwargs)
    _check(["explain", p, "rtx-4090"])


ARCH_FIELDS = ["layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "ffn_size",
               "vocab_size", "max_context", "norms_per_layer", "sliding_window",
               "sliding_window_pattern", "experts_total", "experts_active", "experts_shared",
               "dense_layers", "moe_layer_step", "kv_lora_rank"]


@FUZZ_KB
@given(arch=st.dictionaries(st.sampled_from(ARCH_FIELDS),
                            st.one_of(NUMBERS, st.text(max_size=3), st.booleans(), st.none()),
                            min_size=1, max_size=4))
def test_kb_entry_validates_or_refuses(tmp_path_factory, arch):
    kb = kb_model_dir(tmp_path_factory.mktemp("kb"), **arch)
    _check(["kb", "validate", kb])
    _check(["explain", "hostile-model", "rtx-4090", "--kb", kb])


@FUZZ_KB
@given(text=st.lists(st.sampled_from(list("ab:&*[]{}-, \n'\"!|>#0.9") + ["!!int ", "<<: ", "\n  "]),
                    max_size=40).map("".join))
def test_kb_entry_yaml_garbage(tmp_path_factory, text):
    kb = kb_model_dir(tmp_path_factory.mktemp("kb"), text="id: hostile-model\n" + text)
    _check(["kb", "validate", kb])
