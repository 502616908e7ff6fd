"""advisor rules list | show | check | test | new, and explain --why."""
import json

from click.testing import CliRunner

from advisor.cli import main
from advisor.paths import data_dir


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_list_shows_every_rule_in_firing_order(advisor):
    r = run("rules", "list")
    assert r.exit_code == 0, r.output
    ids = [line.split()[0] for line in r.output.splitlines() if line and not line.startswith(" ")]
    assert ids == [s.id for s in sorted(advisor.rules.values(), key=lambda s: (s.priority, s.id))]


def test_show_prints_doc_conditions_and_cases():
    r = run("rules", "show", "plan-your-hardware")
    assert r.exit_code == 0, r.output
    for text in ("advises:", "why:", "example:", "owned == true", "recommend plan",
                 "plan-your-hardware::owned-and-usable"):
        assert text in r.output
    r = run("rules", "show", "fit-headroom")
    assert "max_context_tokens: fit_max_context_tokens" in r.output


def test_show_unknown_rule_exits_2_with_closest():
    r = run("rules", "show", "plan-your-hardwre")
    assert r.exit_code == 2 and "closest: plan-your-hardware" in r.output


def test_check_builtin_and_a_broken_folder(tmp_path):
    assert run("rules", "check").output.endswith("rules OK\n")
    (tmp_path / "a.yaml").write_text("id: a\nwhen: [headrom_bytes < 0]\nthen: {verdict: fits}\n")
    (tmp_path / "b.test.yaml").write_text("cases: []\n")
    r = run("rules", "check", tmp_path)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"{tmp_path / 'a.yaml'}:1: rule 'a': doc must give" in r.output
    assert f"{tmp_path / 'a.yaml'}:2: rule 'a': unknown fact 'headrom_bytes'" in r.output
    assert f"{tmp_path / 'b.test.yaml'}:1: rule 'b': a test file is" in r.output
    assert "b.test.yaml:1: rule 'b': test file without a rule file" in r.output


def test_builtin_cases_pass_through_the_cli():
    r = run("rules", "test")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1].endswith("passed, 0 failed")


def test_new_scaffold_passes_check_and_test_and_never_overwrites(tmp_path):
    r = run("rules", "new", "my-rule", "--dir", tmp_path)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "my-rule.yaml").is_file() and (tmp_path / "my-rule.test.yaml").is_file()
    assert run("rules", "check", tmp_path).exit_code == 0
    r = run("rules", "test", tmp_path)
    assert r.exit_code == 0 and "3 passed, 0 failed" in r.output, r.output
    before = (tmp_path / "my-rule.yaml").read_text()
    assert run("rules", "new", "my-rule", "--dir", tmp_path).exit_code == 2
    assert (tmp_path / "my-rule.yaml").read_text() == before
    assert run("rules", "new", "Bad_Id", "--dir", tmp_path).exit_code == 2


def test_a_failing_user_case_exits_1_and_says_why(tmp_path):
    run("rules", "new", "my-rule", "--dir", tmp_path)
    cases = tmp_path / "my-rule.test.yaml"
    cases.write_text(cases.read_text().replace("expect: silent", "expect: fires"))
    r = run("rules", "test", tmp_path)
    assert r.exit_code == 1
    assert "FAIL my-rule::silent-without-an-option" in r.output
    assert "expected it to fire, but it stayed silent" in r.output


def test_user_rule_that_derives_an_unregistered_fact_is_rejected(tmp_path):
    (tmp_path / "d.yaml").write_text(
        "id: d\ndoc: {advises: a, why: b, example: c}\nwhen: [headroom_bytes < 0]\n"
        "then:\n  derive: {needs_memory: true}\n")
    r = run("rules", "check", tmp_path)
    assert r.exit_code == 2 and "only facts registered in advisor/facts/derived.py" in r.output


def test_explain_why_lists_firings_with_facts_in_order(advisor):
    q = ("llama-3.1-8b", "rtx-4090", "-p", "fp16", "--context", "73728")
    r = run("explain", *q, "--why")
    assert r.exit_code == 0, r.output
    why = r.output.split("## Why: the rules that fired, in order")[1]
    fired = advisor.explain("llama-3.1-8b", "rtx-4090", "fp16", 73728).fired
    positions = [why.index(f"`{rid}`") for rid in fired]
    assert positions == sorted(positions)
    assert "needs_more_memory = true (derived by `needs-more-memory`)" in why
    plan = r.output.split("## Why this plan")[1]
    assert "- Chosen: your-hardware (plan-your-hardware)" in plan and "- Because " in plan


def test_explain_why_says_why_the_plan_beat_the_runner_up(advisor):
    r = run("explain", "llama-3.1-405b", "a100-40gb", "--why", "--format", "json")
    d = json.loads(r.output)
    choice = d["why_plan"]
    assert choice["chosen"]["path"] == d["plan"]["path"]
    assert choice["runner_up"]["path"] != choice["chosen"]["path"]
    assert "priority" in choice["reason"] or "objective" in choice["reason"]
    for k in ("decode_tokens_per_s", "quality_loss_pct", "precision", "gpu"):
        assert k in choice["chosen"] and k in choice["runner_up"]


def test_explain_why_json_adds_a_why_key_and_stays_json(advisor):
    r = run("explain", "llama-3.1-8b", "h100-80gb", "--why", "--format", "json")
    d = json.loads(r.output)
    assert [w["rule"] for w in d["why"]] == d["rules_fired"]
    verdict = next(w for w in d["why"] if w["rule"] == "verdict-fits")
    assert verdict["reads"]["runs"] == {"value": True}


def test_explain_without_why_is_unchanged():
    assert "## Why" not in run("explain", "llama-3.1-8b", "h100-80gb").output
    assert data_dir("rules").is_dir()
