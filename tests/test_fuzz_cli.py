"""Fuzz the command line and rule files (issue 14): whatever the options and the rule files hold,
a command exits 0 or 2, with one line `advisor: error: ...` when it refuses, never a traceback,
and in bounded time. Examples are drawn deterministically (derandomize) and few, so the module
runs in well under a minute; a crash in the rules engine's C core would end the test process,
which fails the run just as loudly.
"""
from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.cli import main
from advisor.facts import FACTS

SECONDS_A_COMMAND = 20
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

junk = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
numbers = st.one_of(st.integers(-10, 10), st.integers(-2**70, 2**70),
                    st.sampled_from(["0", "-1", "1e18", "nan", "inf", "2.5", "", "0x10", "9" * 40]))


def _invoke(args: list[str]):
    start = time.perf_counter()
    r = CliRunner().invoke(main, args)
    seconds = time.perf_counter() - start
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"advisor {args!r} raised {r.exception!r}") from r.exception
    assert "Traceback" not in r.output, (args, r.output)
    assert r.exit_code in (0, 2), (args, r.exit_code, r.output[-500:])
    if r.exit_code == 2:
        assert "Error" in r.output or "error" in r.output, (args, r.output)
    assert seconds < SECONDS_A_COMMAND, (args, seconds)
    return r


def _option(name: str, values) -> st.SearchStrategy:
    return st.one_of(st.just([]), values.map(lambda v: [name, str(v)]))


explain_args = st.tuples(
    st.sampled_from(["llama-3.1-8b", "llama-3.1-70b", "qwen3-30b-a3b", "gpt-oss-20b", "nope", "",
                     "Llama 3.1 8B", "../../etc/passwd", "x" * 300]),
    st.sampled_from(["rtx-4090", "h100-80gb", "t4", "mi300x", "m2-ultra", "nope", ""]),
    _option("--precision", st.one_of(st.sampled_from(["fp16", "bf16", "fp8", "awq", "gptq", "nf4",
                                                      "Q4_K_M", "IQ1_S", "mxfp4", "int8"]), junk)),
    _option("--runtime", st.one_of(st.sampled_from(["llama.cpp", "vllm", "transformers"]), junk)),
    _option("--kv-cache", st.one_of(st.sampled_from(["fp16", "fp8", "q8_0", "q4_0"]), junk)),
    _option("--context", numbers), _option("--batch", numbers), _option("--gpus", numbers),
    _option("--prompt-tokens", numbers), _option("--ram-gb", numbers),
    _option("--prefer", st.sampled_from(["quality", "speed", "cost", "x"])),
    st.sampled_from([[], ["--format", "json"], ["--why"]]),
)


@FUZZ
@given(explain_args)
def test_explain_options(args):
    model, gpu, *options = args
    _invoke(["explain", model, gpu, *[a for opt in options for a in opt]])


@FUZZ
@given(st.sampled_from(["fit", "gpus"]), _option("--context", numbers), _option("--batch", numbers),
       st.sampled_from([[], ["--format", "json"]]))
def test_fit_and_gpus_options(command, context, batch, fmt):
    target = "rtx-4090" if command == "fit" else "llama-3.1-8b"
    _invoke([command, target, *context, *batch, *fmt])


# Rule files: valid-looking rules and broken ones, in numbers that cross the engine's limits.
PLAN_FACTS = ["path", "usable", "decode_tokens_per_s", "gpu_count", "quality_loss_pct"]
fact_names = st.one_of(st.sampled_from(sorted(FACTS)[:60]), st.sampled_from(PLAN_FACTS),
                       st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
values = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(["true", "false", "'rent'", "'x'", "1e-9", "1e300"]),
                   st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
conditions = st.one_of(
    st.tuples(fact_names, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), values)
    .map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(fact_names, st.sampled_from(["exists", "missing"])).map(" ".join),
    junk)
thens = st.sampled_from(["verdict: fits", "verdict: tight", "verdict: nonsense", "recommend: plan",
                         "derive: {needs_more_memory: true}", "recommend: nosuchkind", ""])
rule = st.tuples(st.sampled_from(["situation", "plan", "bogus"]), st.integers(-5, 2000),
                 st.lists(conditions, min_size=0, max_size=4), thens)


def _write_rules(folder, rules, copies: int) -> None:
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for i in range(copies):
        scope, priority, when, then = rules[i % len(rules)]
        body = "".join(f"  - {c!r}\n" for c in when) or "  []\n"
        (folder / f"r-{i:04d}.yaml").write_text(
            f"id: r-{i:04d}\npriority: {priority}\nscope: {scope}\n"
            f"doc: {{advises: a, why: b, example: c}}\nwhen:\n{body}then:\n  {then}\n",
            encoding="utf-8")


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(rule, min_size=1, max_size=4), st.sampled_from([1, 3, 70, 300]))
def test_rule_files(tmp_path_factory, rules, copies):
    folder = tmp_path_factory.mktemp("rules")
    _write_rules(folder, rules, copies)
    checked = _invoke(["rules", "check", str(folder)])
    explained = _invoke(["explain", "llama-3.1-8b", "rtx-4090", "--rules", str(folder)])
    if checked.exit_code == 0:   # what rules check accepts, explain runs
        assert explained.exit_code == 0 or "rulebook gave" in explained.output, explained.output


@pytest.mark.parametrize("copies", [65, 300])
def test_many_copies_of_the_scaffold_rule(tmp_path, copies):
    # `advisor rules new` many times over (up to its 256 distinct scaffolds in one folder, then
    # one line): many plan rules, every one its own GPU count; the first matches one card
    made = [_invoke(["rules", "new", f"mine-{i:03d}", "--dir", str(tmp_path)]) for i in range(copies)]
    assert all(m.exit_code in (0, 2) and "Traceback" not in m.output for m in made)
    assert sum(m.exit_code == 0 for m in made) == min(copies, 256)
    assert _invoke(["rules", "check", str(tmp_path)]).exit_code == 0
    r = _invoke(["explain", "llama-3.1-8b", "rtx-4090", "--rules", str(tmp_path), "--format",
                 "json"])
    assert r.exit_code == 0 and '"mine-000"' in r.output
