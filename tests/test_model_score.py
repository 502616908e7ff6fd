"""The objective's model_score term (rules/objective.yaml `model_score`, issue 17): on the
another-model path the model with the higher published MMLU-Pro score (of the asked model's
variant) wins over a larger one with a lower score; scores within tie_points of the best tie
(then the larger model); a score counts only at the quality class and speed the objective names;
the other paths, which keep the model asked, are ranked as without the term."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from advisor.kb import load_kb
from advisor.paths import data_dir
from advisor.plans.evaluate import Ask, compared_score
from advisor.plans.objective import load_objective
from advisor.plans.planner import Planner
from advisor.sizing.tensors import parameter_count
from advisor.sizing.workload import Workload

KB = load_kb()
OBJECTIVE = data_dir("rules") / "objective.yaml"


def objective_with(tmp_path, old: str, new: str):
    text = OBJECTIVE.read_text()
    assert old in text
    (tmp_path / "objective.yaml").write_text(text.replace(old, new))
    return load_objective(tmp_path / "objective.yaml")


def another(objective, model: str, gpu: str, n: int = 1):
    ask = Ask.of(KB.model(model), KB.gpu(gpu), n, Workload())
    return Planner(KB, objective).plans(ask, paths=("another-model",)).best.get("another-model")


def test_the_higher_score_wins_over_a_larger_model():
    """Qwen2.5 72B on a 24 GB card: Qwen3 30B-A3B Instruct 2507 (78.4, tied with EXAONE 4.0 32B's
    77.6 and, unlike it, open to commercial use) rather than Qwen2.5 32B (69.0, and 2.3B
    parameters more), and the plan's changes quote both scores as published."""
    plan = another(load_objective(OBJECTIVE), "qwen2.5-72b", "rtx-4090")
    assert plan.model.id == "qwen3-30b-a3b-instruct-2507" and plan.usable
    assert plan.parameters < parameter_count(KB.model("qwen2.5-32b").architecture)
    assert plan.changes[0].startswith(
        "another model (Qwen3 30B-A3B Instruct 2507: MMLU-Pro 78.4 against 71.1, as each was "
        "published")


def test_between_tied_scores_a_licence_open_to_commercial_use_wins(tmp_path):
    """Without the restricted_licence term the tie (78.4 and 77.6) goes to the larger EXAONE 4.0
    32B, whose licence is non-commercial; with it, to Qwen3 30B-A3B Instruct 2507."""
    old = objective_with(tmp_path, "-model_score, restricted_licence, -parameters",
                         "-model_score, -parameters")
    assert another(old, "qwen2.5-72b", "rtx-4090").model.id == "exaone-4.0-32b"


def test_without_the_term_the_larger_model_wins(tmp_path):
    """The same question ranked by an objective without model_score: the larger Qwen2.5 32B, as
    before the term (so the test above is the term's doing)."""
    old = objective_with(tmp_path, "-context_tokens, -model_score, restricted_licence, -parameters",
                         "-context_tokens, -parameters")
    assert another(old, "qwen2.5-72b", "rtx-4090").model.id == "qwen2.5-32b"


def test_scores_within_tie_points_tie_and_the_larger_model_wins(tmp_path):
    """tie_points 10: 77.6 and 69.0 tie, so the larger model (Qwen2.5 32B, 32.8B against
    32.0B) wins; the default 2 does not tie them."""
    wide = objective_with(tmp_path, "tie_points: 2", "tie_points: 10")
    assert wide.score.tie_points == 10.0
    assert another(wide, "qwen2.5-72b", "rtx-4090").model.id == "qwen2.5-32b"
    obj = load_objective(OBJECTIVE)
    assert obj.tie_scores([77.6, 76.0, 74.4, None]) == [77.6, 77.6, 74.4, None]
    assert obj.tie_scores([None, None]) == [None, None]


@pytest.mark.parametrize("scores", [[70.0, 71.5, 80.0, None], [64.05, 56.3, 60.6], [84.6, 84.4, None]])
def test_ties_keep_the_order_of_scores(scores):
    """tie_scores is monotone: a higher score never ends below a lower one (so the path's
    winner is never dominated on score)."""
    tied = load_objective(OBJECTIVE).tie_scores(scores)
    low = float("-inf")
    for (a, ta) in zip(scores, tied):
        for (b, tb) in zip(scores, tied):
            if (a if a is not None else low) > (b if b is not None else low):
                assert (ta if ta is not None else low) >= (tb if tb is not None else low)


def _plan(score, quality_class, loss, decode, parameters):
    obj = load_objective(OBJECTIVE)
    return SimpleNamespace(usable=True, context_tokens=8192,
                           model_score=obj.scored(score, quality_class, decode),
                           parameters=parameters, good_quality=quality_class <= obj.good_class,
                           speed_band=obj.speed_band(decode), fast_band=obj.fast_band(decode),
                           quality_class=quality_class, nodes=1,
                           usd_per_million_tokens=0.0, levers=2, quality_loss_pct=loss,
                           decode_tokens_per_s=decode, gpu_count=1, offload=False,
                           restricted_licence=False, added_gpus=0)


def test_a_score_counts_only_at_the_quality_and_speed_named():
    """A higher-scoring model at Q2_K (class "large": +39% perplexity on an 8B) does not beat a
    lower-scoring one at Q4_K_M ("small"); nor does one crawling below the speed named (an
    objective that let such plans be usable would otherwise rank them by their score)."""
    obj = load_objective(OBJECTIVE)
    large, small = obj.class_names.index("large"), obj.class_names.index("small")
    assert obj.score.quality_class == obj.class_names.index("noticeable")
    assert obj.score.decode_tokens_per_s == 1.5
    q2 = _plan(80.0, large, 39.0, 40.0, 9e9)
    q4 = _plan(70.0, small, 2.4, 40.0, 8e9)
    crawl = _plan(80.0, small, 1.2, 1.0, 30e9)
    assert q2.model_score is None and crawl.model_score is None and q4.model_score == 70.0
    for prefer in ("quality", "speed", "cost"):
        assert obj.key(q4, prefer) < obj.key(q2, prefer)
        assert obj.key(q4, prefer) < obj.key(crawl, prefer)
    # at the same class, the higher score wins over the larger model
    big = _plan(66.0, small, 1.2, 20.0, 70e9)
    assert obj.key(q4, "quality") < obj.key(big, "quality")


def test_scores_compare_within_the_asked_models_variant():
    """compared_score takes the other model's score of the variant of the asked model's
    preferred score: a reasoning model asked (DeepSeek-R1, thinking) compares EXAONE's thinking
    score (81.8), an instruct model its instruct score (77.6); none where the asked model has no
    score or the other none of that variant."""
    exaone = KB.model("exaone-4.0-32b")
    assert compared_score(exaone, KB.model("deepseek-r1")).score == 81.8
    assert compared_score(exaone, KB.model("qwen2.5-72b")).score == 77.6
    assert compared_score(KB.model("qwen2.5-32b"), KB.model("deepseek-r1")) is None
    unscored = [m for m in KB.all_models() if m.quality_score() is None]
    if unscored:
        assert compared_score(exaone, unscored[0]) is None


QUESTIONS = [("qwen2.5-72b", "rtx-4090", 1), ("llama-3.1-70b", "rtx-3090", 2),
             ("llama-3.1-8b", "t4", 1), ("deepseek-r1", "h200", 1), ("mixtral-8x7b", "rtx-4080", 1)]


@pytest.mark.parametrize("model,gpu,n", QUESTIONS)
def test_paths_that_keep_the_model_are_ranked_as_without_the_term(tmp_path, model, gpu, n):
    """as-asked, your-hardware, your-gpus, more-cards and rent run the model asked: the term is
    the same for all their plans, so their best plans are those of an objective without it."""
    new = load_objective(OBJECTIVE)
    old = objective_with(tmp_path, "-context_tokens, -model_score, restricted_licence, -parameters",
                         "-context_tokens, -parameters")
    ask = Ask.of(KB.model(model), KB.gpu(gpu), n, Workload())
    a, b = Planner(KB, old).plans(ask).best, Planner(KB, new).plans(ask).best
    for path in set(a) | set(b):
        if path != "another-model":
            assert a[path].identity == b[path].identity, path
            assert a[path].model_score == b[path].model_score
            assert b[path].model.id == model


def test_an_objective_without_model_score_loads_with_the_defaults(tmp_path):
    text = OBJECTIVE.read_text()
    start = text.index("model_score:\n")
    end = text.index("\n\n", start)
    (tmp_path / "objective.yaml").write_text(text[:start] + text[end + 2:])
    obj = load_objective(tmp_path / "objective.yaml")
    assert obj.score == load_objective(OBJECTIVE).score


@pytest.mark.parametrize("old,new,message", [
    ("tie_points: 2", "tie_points: -1", "model_score.tie_points must be a number of points"),
    ("tie_points: 2", "tie_points: yes", "model_score.tie_points must be a number of points"),
    ("  quality_class: noticeable\n  decode", "  quality_class: superb\n  decode",
     "model_score.quality_class 'superb' is not one of"),
    ("decode_tokens_per_s: 1.5\n\n", "decode_tokens_per_s: fast\n\n",
     "model_score.decode_tokens_per_s must be a number"),
    ("tie_points: 2", "tie: 2", "model_score needs decode_tokens_per_s, quality_class, tie_points"),
])
def test_a_broken_model_score_names_file_and_line(tmp_path, old, new, message):
    from advisor.errors import AdvisorError

    text = OBJECTIVE.read_text()
    assert old in text
    (tmp_path / "objective.yaml").write_text(text.replace(old, new, 1))
    line = text[:text.index("model_score:\n")].count("\n") + 1
    with pytest.raises(AdvisorError) as e:
        load_objective(tmp_path / "objective.yaml")
    assert f"objective.yaml:{line}: objective: {message}" in str(e.value)


def test_a_non_commercial_model_says_so_on_the_another_model_path(tmp_path):
    """EXAONE 4.0 32B's licence (EXAONE AI Model License Agreement 1.2 - NC) is marked
    non-commercial in the KB, and the plan that runs it instead says so (chosen here by an
    objective without the restricted_licence term); a model without a non-commercial licence
    says nothing."""
    lic = KB.model("exaone-4.0-32b").licence
    assert lic is not None and not lic.commercial and lic.source.startswith("https://")
    plan = another(objective_with(tmp_path, "-model_score, restricted_licence, -parameters",
                                  "-model_score, -parameters"), "qwen2.5-72b", "rtx-4090")
    assert plan.model.id == "exaone-4.0-32b"
    assert plan.changes[0].endswith(
        "; licence EXAONE AI Model License Agreement 1.2 - NC: not for commercial use)")
    qwen = another(load_objective(OBJECTIVE), "llama-3.1-8b", "rtx-4090")
    assert KB.model(qwen.model.id).licence is None and "licence" not in qwen.changes[0]


@pytest.mark.parametrize("licence,message", [
    ({"id": "CC-BY-NC-4.0", "commercial": False}, "source"),
    ({"id": "CC-BY-NC-4.0", "commercial": "no", "source": "https://example.org/x"}, "commercial"),
    ({"id": "**bold** | x", "commercial": False, "source": "https://example.org/x"}, "id"),
    ({"id": "MIT", "commercial": True, "source": "not a url"}, "source"),
])
def test_a_bad_licence_is_refused(tmp_path, licence, message):
    import yaml

    from advisor.errors import AdvisorError
    from advisor.kb import load_kb as load

    entry = yaml.safe_load((data_dir("kb") / "models" / "exaone-4.0-32b.yaml").read_text())
    entry["id"], entry["aliases"], entry["licence"] = "my-model", [], licence
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "my-model.yaml").write_text(yaml.safe_dump(entry))
    with pytest.raises(AdvisorError) as e:
        load(extra=[tmp_path])
    assert "licence" in str(e.value) and message in str(e.value)


def test_a_model_without_a_score_is_not_ranked_below_its_smaller_siblings():
    """Qwen3 14B has no MMLU-Pro score in the KB, Qwen3 4B has Qwen's own 70.4 (thinking): for
    Qwen3 235B, a reasoning model compared on its thinking score (82.8), the 14B ranks by that
    lower bound (ranking_score), not below the 4B; Qwen3 1.7B's only figure is LG's run, which
    is not set against Qwen's own figure for the 235B, so it ranks as unscored. On a 12 GB card
    (--prefer speed, where the 32B is too slow) Qwen3 30B-A3B is offered, with Qwen's own 78.5
    against 82.8, both thinking."""
    from advisor.plans.candidates import ranking_score

    a = KB.model("qwen3-235b-a22b")
    assert compared_score(KB.model("qwen3-14b"), a) is None
    assert ranking_score(KB.model("qwen3-14b"), a, KB) == compared_score(KB.model("qwen3-4b"), a).score
    assert compared_score(KB.model("qwen3-1.7b"), a) is None
    ask = Ask.of(a, KB.gpu("rtx-3060-12gb"), 1, Workload(), prefer="speed")
    best = Planner(KB, load_objective(OBJECTIVE)).plans(ask, paths=("another-model",)).best
    assert best["another-model"].model.id == "qwen3-30b-a3b"
    assert "MMLU-Pro 78.5 against 82.8 (thinking mode), as each was published" in best["another-model"].changes[0]


def test_a_third_party_run_is_compared_only_with_the_same_evaluators_run():
    """Model.comparable_score: mlx-lm's 72.62 for Qwen3-30B-A3B-Instruct-2507 is never set
    against a publisher's own figure (the model's own card gives 78.4, which is what is
    compared); a model whose only figure is TIGER-Lab's run (Mixtral 8x7B, 40.4) is compared
    with TIGER-Lab's runs of the others (Phi-3 Medium 53.48), not with publishers' figures
    (EXAONE 4.0 32B's own 77.6)."""
    qwen = KB.model("qwen3-30b-a3b-instruct-2507")
    exaone, mixtral = KB.model("exaone-4.0-32b"), KB.model("mixtral-8x7b")
    assert qwen.quality_score().self_reported and qwen.quality_score().score == 78.4
    assert compared_score(qwen, exaone).score == 78.4
    mlx = qwen.quality_score(evaluator="mlx-lm")
    assert exaone.comparable_score(mlx) is None
    assert compared_score(exaone, mixtral) is None
    assert compared_score(KB.model("phi-3-medium"), mixtral).score == 53.48
    for m in KB.all_models():
        q = compared_score(m, mixtral)
        assert q is None or (q.evaluator, q.self_reported) == ("tiger-lab", False), m.id
    from advisor.plans.candidates import better_models
    assert [m.id for m in better_models(mixtral, KB)][:1] == ["phi-3-medium"]


@pytest.mark.parametrize("asked", ["qwen3-235b-a22b", "qwen2.5-72b", "llama-3.1-405b", "deepseek-r1"])
def test_ranking_scores_keep_a_family_in_size_order_where_a_score_is_missing(asked):
    """Over the KB: a model without its own comparable score never ranks below a smaller
    sibling that has one."""
    from advisor.plans.candidates import ranking_score
    from advisor.sizing.tensors import parameter_count as n

    a = KB.model(asked)
    for big in KB.all_models():
        if compared_score(big, a) is not None:
            continue
        for sid in big.siblings:
            small = KB.model(sid)
            own = compared_score(small, a)
            if own is not None and n(small.architecture) < n(big.architecture):
                assert ranking_score(big, a, KB) >= own.score, (big.id, sid)


def test_a_reasoning_model_is_compared_on_its_thinking_score():
    """score_basis: a reasoning model asked (Qwen3 32B: recommended_output_tokens, so its
    questions are sized for thinking) is compared on its thinking mode's score (Qwen's 79.1),
    not its non-thinking 71.9; so are the others (EXAONE 4.0 32B: 81.8, not 77.6); a chat
    model asked is compared on its preferred score (Llama 3.3 70B: 68.9 instruct). For a
    reasoning model, better_models names only models that think."""
    from advisor.plans.candidates import better_models
    from advisor.plans.evaluate import score_basis
    from advisor.sizing.workload import can_reason

    q32 = KB.model("qwen3-32b")
    assert (score_basis(q32).score, score_basis(q32).variant) == (79.1, "thinking")
    assert compared_score(KB.model("exaone-4.0-32b"), q32).score == 81.8
    assert score_basis(KB.model("llama-3.3-70b")).score == 68.9
    better = better_models(q32, KB)
    assert better and all(can_reason(m) for m in better)
