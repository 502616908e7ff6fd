"""The model card's rope scaling (Model.rope_scaling, docs/kb.md): the KB field, its checks, and
the commands that carry it exactly when a plan's context is beyond the config's
max_position_embeddings (advisor.plans.commands.rope_scaling_for), per runtime."""
from __future__ import annotations

import json
import shlex

import pytest
import yaml

from advisor.errors import AdvisorError
from advisor.kb import load_kb
from advisor.paths import data_dir
from advisor.plans import commands as cmd
from advisor.plans.flags import check_command
from advisor.sizing.precision import parse_precision

# Every KB model whose card advertises more than its config's positions, and why it has no
# rope_scaling where it has none: a new model of that kind must be put in one or the other.
WITH_ROPE = {"qwen2-7b", "qwen2-72b", "qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b", "qwen2.5-72b",
             "qwen2.5-coder-7b", "qwen2.5-coder-14b", "qwen2.5-coder-32b", "qwen3-4b", "qwen3-8b",
             "qwen3-14b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b"}
WITHOUT_ROPE = {
    # the cards give the longer context with no scaling to turn on (the positions extend)
    "command-r", "command-r-plus", "command-a",
    # the cards read give the context but no rope scaling of their own
    "tongyi-deepresearch-30b-a3b", "openreasoning-nemotron-32b",
}


@pytest.fixture(scope="module")
def models(kb):
    return {m.id: m for m in kb.models.by_id.values()}


def _flags(command: str) -> list[str]:
    return [t for t in shlex.split(command) if t in ("--rope-scaling", "--rope-scale", "--yarn-orig-ctx",
                                                     "--hf-overrides")]


# --- the KB field ---------------------------------------------------------------------------

def test_the_models_with_rope_scaling_are_the_ones_whose_cards_give_it(models):
    have = {i for i, m in models.items() if m.rope_scaling is not None}
    assert have == WITH_ROPE
    beyond = {i for i, m in models.items() if m.context_limit > m.architecture.max_context}
    assert beyond == WITH_ROPE | WITHOUT_ROPE, sorted(beyond ^ (WITH_ROPE | WITHOUT_ROPE))


def test_each_rope_scaling_is_the_cards_yarn_and_reaches_the_advertised_context(models):
    for i in sorted(WITH_ROPE):
        m = models[i]
        r = m.rope_scaling
        assert r.type == "yarn" and r.factor == 4.0 and r.original_context == 32768, i
        assert r.original_context <= m.architecture.max_context < m.advertised_context, i
        assert r.original_context * r.factor >= m.advertised_context, i
        assert r.rope_theta == 1_000_000.0, i
        assert r.source.startswith("https://huggingface.co/Qwen/"), i
        assert r.note and "YaRN" in r.note, i


def test_llama_3_1_scales_in_its_config_and_needs_nothing(models):
    m = models["llama-3.1-8b"]
    assert m.rope_scaling is None and m.context_limit == m.architecture.max_context


def _my_model(tmp_path, edit):
    """A copy of the Qwen2.5 7B entry under another id, `edit` applied to its mapping."""
    entry = yaml.safe_load((data_dir("kb") / "models" / "qwen2.5-7b.yaml").read_text())
    entry["id"], entry["name"], entry["aliases"], entry["siblings"] = "my-model", "My Model", [], []
    edit(entry)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "my-model.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))


@pytest.mark.parametrize("edit,message", [
    (lambda e: e["rope_scaling"].update(type="linear"), "rope_scaling.type"),
    (lambda e: e["rope_scaling"].update(factor=2.0), "short of advertised_context"),
    (lambda e: e["rope_scaling"].update(factor=1.0), "rope_scaling.factor"),
    (lambda e: e["rope_scaling"].update(original_context=65536), "exceeds the config's"),
    (lambda e: e["rope_scaling"].pop("source"), "rope_scaling.source"),
    (lambda e: e["rope_scaling"].update(source="the card"), "rope_scaling.source"),
    (lambda e: e["rope_scaling"].update(colour="blue"), "rope_scaling.colour"),
    (lambda e: e.pop("advertised_context") and [s for s in e["sources"]
                                                if s["fields"] == ["advertised_context"]]
     and e.update(sources=[s for s in e["sources"] if s["fields"] != ["advertised_context"]]),
     "advertised_context exceeds"),
])
def test_a_bad_rope_scaling_is_refused_with_file_and_line(tmp_path, edit, message):
    _my_model(tmp_path, edit)
    with pytest.raises(AdvisorError) as e:
        load_kb(extra=[tmp_path])
    text = str(e.value)
    assert "my-model.yaml:" in text and message in text
    line = int(text.split("my-model.yaml:", 1)[1].split(":", 1)[0])
    assert line > 1   # the field's own line, not the file's first


def test_a_good_rope_scaling_in_a_user_entry_loads(tmp_path):
    _my_model(tmp_path, lambda e: None)
    kb = load_kb(extra=[tmp_path])
    assert kb.model("my-model").rope_scaling == kb.model("qwen2.5-7b").rope_scaling


# --- the commands ---------------------------------------------------------------------------

@pytest.mark.parametrize("model_id", sorted(WITH_ROPE))
def test_llama_server_adds_the_flags_exactly_beyond_the_config(models, model_id):
    m = models[model_id]
    p = parse_precision("Q4_K_M")
    n = m.architecture.max_context
    assert _flags(cmd.llama_server(m, p, n, 1, "fp16")) == []
    for ctx in (n + 1, m.context_limit):
        c = cmd.llama_server(m, p, ctx, 1, "fp16")
        assert c.endswith(" --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768") or \
            " --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768 " in c
        assert check_command(c).ok
    # the trigger is a sequence's context, not -c (which is context x parallel sequences)
    assert _flags(cmd.llama_server(m, p, n, 4, "fp16")) == []
    assert "--rope-scaling" in cmd.llama_server(m, p, n + 1, 4, "q8_0", flash_attn=True)


@pytest.mark.parametrize("model_id", sorted(WITH_ROPE))
def test_vllm_and_transformers_add_the_override_exactly_beyond_the_config(models, model_id):
    m = models[model_id]
    n = m.architecture.max_context
    assert cmd.rope_scaling_for(m, n) is None
    r = cmd.rope_scaling_for(m, n + 1)
    assert r is m.rope_scaling
    plain = cmd.vllm_serve(m.instruct_repo, n, 1, "auto", rope=cmd.rope_scaling_for(m, n))
    assert "--hf-overrides" not in plain
    long = cmd.vllm_serve(m.instruct_repo, m.context_limit, 1, "auto", rope=r)
    args = shlex.split(long)
    assert args[args.index("--max-model-len") + 1] == str(m.context_limit)
    override = json.loads(args[args.index("--hf-overrides") + 1])
    assert override == {"rope_parameters": {"rope_type": "yarn", "factor": 4.0,
                                            "original_max_position_embeddings": 32768,
                                            "rope_theta": 1_000_000.0}}
    assert check_command(long).ok
    bf16 = parse_precision("bf16")
    assert "rope" not in cmd.transformers_snippet(m.instruct_repo, bf16, "bfloat16")
    snippet = cmd.transformers_snippet(m.instruct_repo, bf16, "bfloat16", rope=r)
    assert ("rope_parameters={'rope_type': 'yarn', 'factor': 4.0, "
            "'original_max_position_embeddings': 32768, 'rope_theta': 1000000.0}") in snippet
    assert check_command(snippet).ok


@pytest.mark.parametrize("model_id", ["command-r", "llama-3.1-8b", "tongyi-deepresearch-30b-a3b",
                                      "qwen2.5-3b"])
def test_a_model_without_rope_scaling_never_gets_flags(models, model_id):
    m = models[model_id]
    p = parse_precision("Q4_K_M")
    for ctx in (m.architecture.max_context, m.context_limit):
        assert cmd.rope_scaling_for(m, ctx) is None
        assert _flags(cmd.llama_server(m, p, ctx, 1, "fp16")) == []


def _commands(adv):
    """(runtime, context, command) of the plans of the model asked (plans of another model have
    their own positions)."""
    return [(p.runtime, p.context_tokens, p.command) for p in adv.path_plans
            if p.model.id == adv.situation.model.id]


@pytest.mark.parametrize("runtime", ["llama.cpp", "vllm", "transformers"])
def test_advisories_beyond_the_config_carry_the_cards_yarn(advisor, runtime):
    adv = advisor.explain("qwen2.5-72b", "mi300x", None, 131072, runtime=runtime)
    long = [(rt, c) for rt, ctx, c in _commands(adv) if ctx > 32768 and rt == runtime and c]
    assert long
    for rt, c in long:
        if rt == "llama.cpp":
            assert "--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768" in c
        elif rt == "vllm":
            assert '"rope_type": "yarn"' in c and "--max-model-len 131072" in c
        else:
            assert "rope_parameters={'rope_type': 'yarn'" in c
        assert check_command(c).ok


@pytest.mark.parametrize("runtime", ["llama.cpp", "vllm", "transformers", "ollama"])
def test_advisories_within_the_config_carry_no_rope_flags(advisor, runtime):
    adv = advisor.explain("qwen2.5-72b", "mi300x", None, 32768, runtime=runtime)
    cmds = [c for _, ctx, c in _commands(adv) if c]
    assert cmds
    assert not any("rope" in c or "--hf-overrides" in c for c in cmds)


def test_qwen3_within_its_40960_positions_needs_no_yarn(advisor):
    """Qwen3's config has 40,960 positions (32,768 native plus room to generate): the card
    advises no YaRN within them."""
    adv = advisor.explain("qwen3-8b", "rtx-4090", None, 40960, runtime="llama.cpp")
    assert all("--rope-scaling" not in (p.command or "") for p in adv.path_plans)
    adv = advisor.explain("qwen3-8b", "rtx-4090", None, 65536, runtime="llama.cpp")
    long = [p for p in adv.path_plans if p.command and p.context_tokens > 40960]
    assert long and all("--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768" in p.command
                        for p in long)


def test_ollama_says_it_cannot_rather_than_print_a_command(advisor):
    """Ollama clamps the context to the GGUF's trained context and has no rope scaling: no
    Ollama plan holds more than the config's positions (each has a command), and the advisory
    says why, with llama-server's YaRN flags."""
    from advisor.render import render_markdown

    adv = advisor.explain("qwen2.5-7b", "h100", None, 131072, runtime="ollama")
    mine = [p for p in adv.path_plans if p.runtime == "ollama" and p.model.id == "qwen2.5-7b"]
    assert mine
    for p in mine:
        assert p.context_tokens <= 32768 and p.command and p.command.startswith("ollama run")
    text = render_markdown(adv)
    assert "Ollama cannot run Qwen2.5 7B at 131,072 tokens" in text
    assert "--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768" in text
    short = advisor.explain("qwen2.5-7b", "h100", None, 32768, runtime="ollama")
    assert any(p.command and p.command.startswith("ollama run") for p in short.path_plans)
    assert "Ollama cannot run" not in render_markdown(short)


def test_vllm_note_for_a_card_without_rope_scaling_keeps_the_env_var(advisor):
    adv = advisor.explain("command-r", "h100-80gb", None, 65536, runtime="vllm")
    long = [p for p in adv.path_plans if p.runtime == "vllm" and p.context_tokens > 8192]
    assert long
    for p in long:
        assert "--hf-overrides" not in p.command
        assert any("VLLM_ALLOW_LONG_MAX_MODEL_LEN=1" in n for n in p.notes)
