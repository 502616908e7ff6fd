"""The model entries of the KB: counts against what their publishers say, and the
architecture fields that sizing reads (sliding windows, MLA, MoE) in their sane ranges."""
from __future__ import annotations

import re
import textwrap

import pytest

from advisor.errors import AdvisorError
from advisor.kb import load_kb
from advisor.kb.schema import Architecture
from advisor.sizing.tensors import active_parameter_count, model_tensors, parameter_count

MIN_MODELS = 60
# A published total that also counts the vision encoder (Llama 4) must exceed the text count,
# by no more than this share: Llama 4's encoder and projector are under 2% of Scout.
VISION_SHARE_MAX = 0.03


def rounding_tolerance(published: int) -> float:
    """How far a rounded published figure may be from the truth: 1%, or half a unit in its
    last printed digit when that is wider ("1.7B" covers 1.65B to 1.75B)."""
    digits = str(published).rstrip("0")
    half_unit = 10 ** (len(str(published)) - len(digits)) / 2
    return max(0.01 * published, half_unit)


def _models(kb):
    return kb.all_models()


def test_enough_models(kb):
    assert len(kb.all_models()) >= MIN_MODELS


def test_rounding_tolerance():
    assert rounding_tolerance(1_700_000_000) == 50_000_000
    assert rounding_tolerance(671_000_000_000) == 6_710_000_000  # 1% is wider than 0.5B
    assert rounding_tolerance(3_610_000_000) == 36_100_000


def test_every_model_matches_its_published_count(kb):
    failures = []
    for m in kb.all_models():
        computed, published = parameter_count(m.architecture), m.published_parameters
        if m.published_parameters_exact:
            ok = computed == published
        elif m.published_parameters_include_vision:
            ok = published * (1 - VISION_SHARE_MAX) <= computed <= published + rounding_tolerance(published)
        else:
            ok = abs(computed - published) <= rounding_tolerance(published)
        if not ok:
            failures.append(f"{m.id}: computed {computed:,} vs published {published:,}")
    assert not failures, "\n".join(failures)


def test_exact_counts_are_most_of_the_kb(kb):
    exact = [m for m in kb.all_models() if m.published_parameters_exact]
    assert len(exact) >= 30


def test_rounded_counts_say_so_in_a_source_note(kb):
    for m in kb.all_models():
        notes = " ".join(s.note or "" for s in m.sources if "published_parameters" in s.fields)
        if m.published_parameters_exact:
            assert re.search(r"total_size|exact|bytes", notes), m.id
        else:
            assert "rounded" in notes, m.id


def test_moe_active_counts_match_published(kb):
    checked = 0
    for m in kb.all_models():
        if m.published_active_parameters is None:
            continue
        a = m.architecture
        active = active_parameter_count(a)
        if m.published_active_excludes_embedding:
            active -= a.vocab_size * a.hidden_size
        tol = rounding_tolerance(m.published_active_parameters)
        assert abs(active - m.published_active_parameters) <= tol, (m.id, active)
        checked += 1
    assert checked >= 7


@pytest.mark.parametrize("model_id,total,active", [
    # DeepSeek V3: 671B without the MTP layer, 37B activated (model card)
    ("deepseek-v3", 671_026_419_200, 37_552_297_472),
    # Mixtral 8x7B: 46.7B total, 12.9B active
    ("mixtral-8x7b", 46_702_792_704, 12_879_925_248),
    # gpt-oss-20b: the model card's 20.91B total and 3.61B active + the 0.58B embedding table
    ("gpt-oss-20b", 20_914_757_184, 4_187_440_704),
])
def test_moe_counts(kb, model_id, total, active):
    a = kb.model(model_id).architecture
    assert parameter_count(a) == total
    assert active_parameter_count(a) == active


def test_dense_models_are_all_active(kb):
    for m in kb.all_models():
        if not m.architecture.experts_total:
            assert active_parameter_count(m.architecture) == parameter_count(m.architecture), m.id


def test_sliding_windows_are_sane(kb):
    windowed = [m for m in kb.all_models() if m.architecture.sliding_window]
    assert {"gemma-2-9b", "gemma-3-27b", "gpt-oss-120b", "mistral-7b-v0.1"} <= {m.id for m in windowed}
    for m in windowed:
        a = m.architecture
        assert a.sliding_window < a.max_context, m.id
    assert kb.model("gemma-2-27b").architecture.sliding_window_pattern == 2
    assert kb.model("gemma-3-4b").architecture.sliding_window_pattern == 6
    assert kb.model("gemma-3-1b").architecture.sliding_window == 512


def test_mla_fields_are_sane(kb):
    mla = [m for m in kb.all_models() if m.architecture.kv_lora_rank]
    assert {"deepseek-v3", "deepseek-r1", "deepseek-v2", "deepseek-v2-lite", "kimi-k2"} <= {m.id for m in mla}
    for m in mla:
        a = m.architecture
        assert a.kv_lora_rank < a.hidden_size, m.id
        assert a.head_dim == a.qk_nope_head_dim + a.qk_rope_head_dim, m.id
        names = {t.name for t in model_tensors(a) if t.layer == 0}
        assert {"attn_kv_a_mqa", "attn_kv_b", "attn_output"} <= names, m.id
        assert "attn_k" not in names and "attn_v" not in names, m.id
        if a.q_lora_rank:  # the query is compressed too (DeepSeek V2/V3, Kimi K2)
            assert a.q_lora_rank < a.hidden_size, m.id
            assert {"attn_q_a", "attn_q_b"} <= names and "attn_q" not in names, m.id
        else:  # DeepSeek-V2-Lite: one full query projection
            assert "attn_q" in names and "attn_q_a" not in names, m.id
    assert kb.model("deepseek-v2-lite").architecture.q_lora_rank is None


def test_moe_layouts_are_sane(kb):
    for m in kb.all_models():
        a = m.architecture
        if not a.experts_total:
            assert not any(t.name.endswith("_exps") for t in model_tensors(a)), m.id
            continue
        moe_layers = [i for i in range(a.layers) if a.is_moe_layer(i)]
        assert moe_layers, m.id
        assert a.experts_active < a.experts_total, m.id
        assert (a.expert_ffn_size or a.ffn_size) <= a.ffn_size, m.id
    ds = kb.model("deepseek-v3").architecture
    assert [ds.is_moe_layer(i) for i in range(4)] == [False, False, False, True]
    mav = kb.model("llama-4-maverick").architecture
    assert sum(mav.is_moe_layer(i) for i in range(mav.layers)) == 24
    assert not mav.is_moe_layer(0) and mav.is_moe_layer(1)
    scout = kb.model("llama-4-scout").architecture
    assert all(scout.is_moe_layer(i) for i in range(scout.layers))


def test_siblings_and_distills_resolve(kb):
    for m in kb.all_models():
        assert len(set(m.siblings)) == len(m.siblings), m.id
        for s in m.siblings:
            assert kb.model(s).id == s
        if m.distilled_from:
            assert kb.model(m.distilled_from).id == m.distilled_from
    distills = [m for m in kb.all_models() if m.distilled_from == "deepseek-r1"]
    assert len(distills) == 7  # the six R1 distills and R1-0528-Qwen3-8B
    assert set(kb.model("deepseek-r1").siblings) == {m.id for m in distills}


def test_every_model_is_found_by_its_hf_repo(kb):
    for m in kb.all_models():
        repos = [a for a in m.aliases if re.fullmatch(r"[\w.\-]+/[\w.\-]+", a)]
        assert repos, m.id
        for r in repos:
            assert kb.model(r).id == m.id


def test_vision_flags(kb):
    for m in kb.all_models():
        if m.published_parameters_include_vision:
            assert m.vision_tower_excluded
    assert kb.model("gemma-3-27b").vision_tower_excluded
    assert not kb.model("gemma-3-1b").vision_tower_excluded


# ---- the tensor inventory on small made-up architectures: each feature adds what it should

def _arch(**kw) -> Architecture:
    base = dict(layers=2, hidden_size=64, attention_heads=4, kv_heads=2, head_dim=16, ffn_size=128,
                vocab_size=100, tied_embeddings=False, max_context=256)
    return Architecture(**{**base, **kw})


def test_tensor_features_add_their_parameters():
    base = parameter_count(_arch())
    L, h, q, kv = 2, 64, 64, 32
    assert parameter_count(_arch(qkv_bias=True)) - base == L * (q + 2 * kv)
    assert parameter_count(_arch(attn_output_bias=True)) - base == L * h
    assert parameter_count(_arch(qk_norm=True)) - base == L * 2 * 16
    assert parameter_count(_arch(qk_norm=True, qk_norm_per_head=True)) - base == L * (q + kv)
    assert parameter_count(_arch(attention_sinks=True)) - base == L * 4
    assert parameter_count(_arch(norms_per_layer=4)) - base == L * 2 * h
    assert parameter_count(_arch(tied_embeddings=True)) - base == -100 * h
    assert parameter_count(_arch(ffn_bias=True)) - base == L * (128 + 128 + h)
    # fusing changes the tensors, not the count
    fused = _arch(fused_qkv=True, fused_gate_up=True)
    assert parameter_count(fused) == base
    assert {t.name for t in model_tensors(fused) if t.layer == 0} >= {"attn_qkv", "ffn_up"}
    assert not {"attn_q", "ffn_gate"} & {t.name for t in model_tensors(fused)}


def test_moe_inventory_on_a_small_model():
    a = _arch(layers=4, experts_total=4, experts_active=2, experts_shared=1, expert_ffn_size=32,
              dense_layers=1, moe_layer_step=1, router_bias=True)
    per_expert = 3 * 64 * 32
    dense_ffn = 3 * 64 * 128
    moe_ffn = 64 * 4 + 4 + 4 * per_expert + per_expert
    attn = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 2 * 64
    outside = 2 * 100 * 64 + 64
    assert parameter_count(a) == outside + 4 * attn + dense_ffn + 3 * moe_ffn
    assert active_parameter_count(a) == parameter_count(a) - 3 * 2 * per_expert


def test_latent_attention_inventory():
    a = _arch(attention_heads=4, kv_heads=4, head_dim=24, kv_lora_rank=16, q_lora_rank=32,
              qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=16, layers=1)
    per_layer = (64 * 32 + 32 + 32 * 4 * 24          # q_a, q_a_norm, q_b
                 + 64 * (16 + 8) + 16 + 16 * 4 * 32  # kv_a_mqa, kv_a_norm, kv_b
                 + 4 * 16 * 64                       # output
                 + 3 * 64 * 128 + 2 * 64)            # ffn and norms
    assert parameter_count(a) == 2 * 100 * 64 + 64 + per_layer


@pytest.mark.parametrize("kw,message", [
    (dict(kv_lora_rank=16, qk_rope_head_dim=8), "qk_nope_head_dim and v_head_dim"),
    (dict(q_lora_rank=16), "set kv_lora_rank"),
    (dict(experts_shared=1), r"need\(s\) experts_total"),
    (dict(moe_layer_step=2), r"need\(s\) experts_total"),
    (dict(experts_total=4, experts_active=2, dense_layers=2), "no mixture-of-experts layer"),
    (dict(qk_norm_per_head=True), "needs qk_norm"),
])
def test_inconsistent_architectures_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        _arch(**kw)


def _write_model(d, id, extra=""):
    (d / f"{id}.yaml").write_text(textwrap.dedent(f"""\
        id: {id}
        name: {id.upper()}
        family: x
        {extra}
        architecture:
          layers: 2
          hidden_size: 64
          attention_heads: 4
          kv_heads: 4
          head_dim: 16
          ffn_size: 128
          vocab_size: 100
          tied_embeddings: false
          max_context: 128
        sources:
          - fields: [architecture]
            source: made up for a test
        """))


def test_unknown_teacher_is_an_error_naming_the_closest(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (tmp_path / "gpus").mkdir()
    _write_model(models, "teacher-big")
    _write_model(models, "student", "distilled_from: teacher-bigg")
    with pytest.raises(AdvisorError, match=r"student.yaml:\d+: field 'distilled_from': 'teacher-bigg' is not "
                                           r"a known model; closest known: teacher-big"):
        load_kb(tmp_path)


# -- published quality (issue 13) --------------------------------------------------------------

# Models with an MMLU-Pro figure when the field was filled (docs/kb.md, "Quality"): a floor, so
# that an edit that drops scores fails here.
MIN_MODELS_WITH_MMLU_PRO = 61


def test_enough_models_have_a_published_mmlu_pro(kb):
    scored = [m.id for m in _models(kb) if m.quality_score("mmlu-pro") is not None]
    assert len(scored) >= MIN_MODELS_WITH_MMLU_PRO, sorted(scored)


def test_every_quality_entry_says_where_it_was_read(kb):
    for m in _models(kb):
        for q in m.quality:
            assert q.note and len(q.note) > 20, f"{m.id}: {q.benchmark} {q.score} has no note"


def test_one_setting_per_evaluator_page_and_variant(kb):
    """Scores read from one page for one variant were run one way: their setting strings agree,
    so that their comparability keys group them (a typo would split a comparable set)."""
    seen = {}
    for m in _models(kb):
        for q in m.quality:
            key = (q.benchmark, q.evaluator, q.source, q.variant)
            seen.setdefault(key, set()).add(q.setting)
    split = {k: v for k, v in seen.items() if len(v) > 1}
    assert not split, split


def test_preferred_quality_score_on_real_entries(kb):
    q = kb.models.get("llama-3.1-8b").quality_score()
    assert (q.score, q.variant, q.evaluator, q.self_reported) == (48.3, "instruct", "meta", True)
    assert kb.models.get("llama-3.1-8b").quality_score(variant="base").score == 37.1
    # the publisher's own figure before TIGER-Lab's run of the same checkpoint
    assert kb.models.get("deepseek-v2").quality_score().evaluator == "deepseek"
    assert kb.models.get("deepseek-v2").quality_score(evaluator="tiger-lab").score == 54.81
    # a hybrid model: its publisher's non-thinking figure (Qwen's 2507 card) before LG's run
    q = kb.models.get("qwen3-235b-a22b").quality_score()
    assert (q.score, q.variant, q.evaluator, q.self_reported) == (75.2, "instruct", "qwen", True)
    assert kb.models.get("qwen3-235b-a22b").quality_score(evaluator="lg-ai").score == 77.4
    # the publisher's card figure before mlx-lm's run of the same checkpoint
    q = kb.models.get("qwen3-30b-a3b-instruct-2507").quality_score()
    assert (q.score, q.evaluator) == (78.4, "qwen")


def test_a_publishers_runs_of_other_models_compare_with_its_own(kb):
    """DeepSeek's V3 README runs Qwen2.5 72B under its own harness: the two share a key."""
    own = kb.models.get("deepseek-v3").quality_score(variant="base")
    other = kb.models.get("qwen2.5-72b").quality_score(variant="base", evaluator="deepseek")
    assert own.self_reported and not other.self_reported
    assert own.comparability == other.comparability


def test_one_self_reporting_evaluator_per_family(kb):
    """A family has one publisher: its self-reported scores all name the same evaluator (a slip
    would mark a third party's run, DeepSeek's of Qwen say, as the publisher's own)."""
    evaluators = {}
    for m in _models(kb):
        for q in m.quality:
            if q.self_reported:
                evaluators.setdefault(m.family, set()).add(q.evaluator)
    mixed = {f: e for f, e in evaluators.items() if len(e) > 1}
    assert not mixed, mixed
    assert evaluators["llama-3.1"] == {"meta"} and evaluators["qwen3"] == {"qwen"}


def test_tiger_lab_runs_compare_with_each_other(kb):
    """TIGER-Lab's own runs share one comparability key, so they rank models on one harness."""
    keys = {q.comparability for m in _models(kb) for q in m.quality if q.evaluator == "tiger-lab"}
    assert keys == {("mmlu-pro", "tiger-lab", "5-shot cot")}


def _unnamed_gguf_repos(model) -> list[str]:
    """The model's gguf_repos whose id appears in the URL or note of no source for gguf_repos
    (or gguf_repos_per_head_cache, whose commit-history pages name the repo)."""
    texts = [f"{s.source} {s.note or ''}".lower() for s in model.sources
             if {"gguf_repos", "gguf_repos_per_head_cache"} & set(s.fields)]
    return [r for r in model.gguf_repos if not any(r.lower() in t for t in texts)]


def test_every_gguf_repo_is_named_by_its_source(kb):
    """A plan may tell the user to download from any of a model's gguf_repos, so a source
    must name each repo: one that names another repo, or none, does not vouch for it."""
    missing = [f"{m.id}: {r}" for m in kb.all_models() for r in _unnamed_gguf_repos(m)]
    assert not missing, missing


def test_an_unnamed_gguf_repo_is_caught(kb):
    """A repo whose only gguf_repos source names a different repo is reported."""
    from dataclasses import replace

    m = kb.model("qwq-32b")
    other = replace(next(s for s in m.sources if "gguf_repos" in s.fields),
                    source="https://huggingface.co/someone/Other-GGUF", note="another repo")
    bad = replace(m, sources=[s for s in m.sources if "gguf_repos" not in s.fields] + [other])
    assert _unnamed_gguf_repos(bad) == list(m.gguf_repos)
    assert _unnamed_gguf_repos(m) == []
