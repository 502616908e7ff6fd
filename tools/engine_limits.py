"""Measure where durable-rules breaks, through advisor's own adapter (advisor/rules/engine.py).

Each trial builds N synthetic situation rules of one shape, compiles them as the adapter does
(compile_rule), registers them as ONE ruleset (what advisor did before it split rulebooks) and
asks one question, in a child process (the C core can abort or hang): the outcome is `ok`,
`error <code>` (an exception from the engine), `signal <name>` (the process died) or `hang`
(no answer within the timeout). The shapes isolate one quantity at a time:

  pass-distinct   N rules `x > -i` (distinct tests), the fact passes every one
  fail-distinct   N rules `x > i`  (distinct tests), the fact passes none
  same-test       N rules `x > 0` (one shared test), the fact passes it
  conditions      one rule with N conditions `x > -i`, all passed
  long-id         one rule whose id is N characters long
  pass-chains     N rules `x > -i and y > -i`: distinct two-test chains, all passed
  tree-2xN        2 rules `x > -a`, each followed by N rules `y > -b`: all passed
  tree-10xN       the same with 10 first tests
  equal-N         N rules `x == i` (one value passes at most one)
  missing-N       N rules `f<i> missing`, the fact has every f<i> (passes none)

The last column is what advisor/rules/network.py predicts: `fits` (one ruleset holds it) or the
limit it would exceed; each `fits` must be `ok`, and each limit an error, a signal or a hang.

    PYTHONPATH=. python tools/engine_limits.py [shape ...]

docs/rules.md (Rule-set size) records the results and the limits advisor enforces.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys

SHAPES = {
    "pass-distinct": [32, 60, 61, 62, 63, 64, 65, 100, 300],
    "fail-distinct": [100, 500, 510, 511, 512, 513, 1000],
    "same-test": [100, 254, 255, 256, 257, 300],
    "conditions": [16, 32, 33, 64, 65, 200, 1000],
    "long-id": [100, 1000, 10000, 100000],
    "pass-chains": [20, 31, 32, 33, 62, 63, 64, 65],
    "tree-2xN": [62, 63, 64],
    "tree-10xN": [54, 55, 56],
    "equal-N": [64, 65, 255, 510, 511, 512],
    "missing-N": [127, 128, 129],
}
TIMEOUT_S = 20


def _specs(shape: str, n: int):
    from advisor.rules.spec import Condition, RuleSpec

    def rule(rid, conds):
        return RuleSpec(rid, None, 5, {}, [Condition(f, op, v) for f, op, v in conds], "fits",
                        None)

    if shape == "pass-distinct":
        return [rule(f"r{i}", [("headroom_bytes", ">", -i - 1)]) for i in range(n)]
    if shape == "fail-distinct":
        return [rule(f"r{i}", [("headroom_bytes", ">", i + 1)]) for i in range(n)]
    if shape == "same-test":
        return [rule(f"r{i}", [("headroom_bytes", ">", -1)]) for i in range(n)]
    if shape == "conditions":
        return [rule("r", [("headroom_bytes", ">", -i - 1) for i in range(n)])]
    if shape == "long-id":
        return [rule("r" * n, [("headroom_bytes", ">", -1)])]
    if shape == "pass-chains":
        return [rule(f"r{i}", [("headroom_bytes", ">", -i - 1), ("margin_bytes", ">", -i - 1)])
                for i in range(n)]
    if shape.startswith("tree-"):
        first = int(shape.split("-")[1].split("x")[0])
        return [rule(f"r{a}-{b}", [("headroom_bytes", ">", -a - 1), ("margin_bytes", ">", -b - 1)])
                for a in range(first) for b in range(n)]
    if shape == "equal-N":
        return [rule(f"r{i}", [("headroom_bytes", "==", i)]) for i in range(n)]
    if shape == "missing-N":
        return [rule(f"r{i}", [(f"f{i}", "missing", None)]) for i in range(n)]
    raise SystemExit(f"unknown shape {shape}")


def _child(shape: str, n: int) -> None:
    from durable.engine import MessageNotHandledException

    from advisor.rules.engine import _END, _QuietHost, compile_rule

    specs = _specs(shape, n)
    fired = []
    actions = {s.id: (lambda rid: lambda c: fired.append(rid))(s.id) for s in specs}
    actions[_END] = lambda c: None
    rules = {s.id: compile_rule(s) for s in specs}
    rules[_END] = {"all": [{"m": {"kind": "end"}}], "pri": 1000, "run": _END}
    host = _QuietHost(actions)
    host.register_rulesets({"limits": rules})
    fact = {"sid": "1", "kind": "situation", "headroom_bytes": 3, "margin_bytes": 0}
    if shape == "missing-N":
        fact.update({f"f{i}": 1 for i in range(n)})
    try:
        host.assert_fact("limits", fact)
    except MessageNotHandledException:
        pass  # no rule matched
    host.assert_fact("limits", {"sid": "1", "kind": "end"})
    host.delete_state("limits", "1")
    print(json.dumps({"fired": len(fired)}))


def predicted(shape: str, n: int) -> str:
    from advisor.errors import AdvisorError
    from advisor.rules.engine import _END
    from advisor.rules.network import layout

    try:
        parts = layout(_specs(shape, n), fixed=[(_END, [("kind", "==", "end")])])
    except AdvisorError as exc:
        return f"refused: {exc}"
    return "fits" if len(parts) == 1 else f"{len(parts)} rulesets"


def trial(shape: str, n: int) -> str:
    try:
        r = subprocess.run([sys.executable, __file__, "--child", shape, str(n)],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "hang"
    if r.returncode < 0:
        return f"signal {signal.Signals(-r.returncode).name}"
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return f"error: {last[:120]}"
    return f"ok ({json.loads(r.stdout)['fired']} fired)"


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        _child(argv[1], int(argv[2]))
        return
    for shape in argv or list(SHAPES):
        for n in SHAPES[shape]:
            print(f"{shape:14} {n:>7}  {trial(shape, n):40} {predicted(shape, n)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
