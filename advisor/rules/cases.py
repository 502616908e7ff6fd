"""The harness for rule test cases: <id>.test.yaml beside each rule file <id>.yaml.

    cases:
      - name: deficit
        expect: fires            # or: silent
        facts: {headroom_bytes: -1, margin_bytes: 1}   # only the facts the rule reads
      - name: derives-the-runtime
        expect: fires
        facts: {precision_family: gguf}
        derives: {recommended_runtime: llama.cpp}       # derive rules: what they derive
      - name: a-real-question
        expect: fires
        scenario: {model: llama-3.1-70b, gpu: a100-40gb, precision: fp16, context: 8192,
                   batch: 1, gpus: 1, kv_cache: q8_0, runtime: llama.cpp}
      - name: what-it-offers        # plan rules: the plan it offered has these values
        expect: fires
        scenario: {model: qwen2.5-72b, gpu: rtx-4090}
        offers: {path: another-model, model_id: exaone-4.0-32b}
      - name: a-fine-tuning-question    # task: finetune, then any fine-tuning knob
        expect: fires
        scenario: {model: llama-3.1-8b, gpu: rtx-4090, task: finetune, method: qlora, seq_len: 2048}

`facts` cases run the one rule alone in the engine; `scenario` cases run the whole rulebook
(with the user's rules) on a question from the knowledge base and check whether this rule is
among those that fire (and, with `offers`, that a plan it offered has those values: keys of
the plan's JSON, OFFER_KEYS). The test suite and `advisor rules test DIR` both run cases through here,
so a user's rules are tested exactly as the built-in ones are.
"""
from __future__ import annotations

import math

from dataclasses import dataclass
from pathlib import Path

from advisor.errors import AdvisorError, closest
from advisor.limits import short
from advisor.facts import FACTS
from advisor.facts.plans import PLAN_FACTS
from advisor.yamlfile import YamlFileError, read_yaml

_CASE_KEYS = ("name", "expect", "facts", "scenario", "derives", "offers")
# What `offers` may check of a plan a plan rule offered in a scenario (keys of Plan.to_json)
OFFER_KEYS = {"path": "str", "model_id": "str", "precision": "str", "kv_cache_dtype": "str",
              "runtime": "str", "gpu_id": "str", "gpu_count": "int", "context_tokens": "int",
              "owned": "bool", "usable": "bool", "cpu_offload_layers": "int"}
_SCENARIO_KEYS = ("model", "gpu", "precision", "context", "batch", "gpus", "kv_cache", "runtime",
                  "prefer", "ram_gb", "n_gpu_layers")
# with task: finetune, the fine-tuning knobs (advisor.sizing.finetune.FinetuneSpec's fields)
_FINETUNE_KEYS = ("model", "gpu", "gpus", "task", "method", "seq_len", "micro_batch",
                  "gradient_checkpointing", "optimizer", "pure_bf16", "lora_rank", "lora_targets",
                  "sharding")
EXPECTS = ("fires", "silent")


@dataclass(frozen=True)
class Case:
    rule_id: str
    name: str
    expect: str
    facts: dict | None
    scenario: dict | None
    derives: dict | None
    path: Path
    line: int
    offers: dict | None = None

    @property
    def test_id(self) -> str:
        return f"{self.rule_id}::{self.name}"


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    message: str        # what happened, one line


_TYPE_WORDS = {"bool": "true or false", "int": "a whole number", "float": "a finite number",
               "str": "a text"}


def _of_type(value, ftype: str) -> bool:
    """Whether a case's value is one the fact can hold (what the sizing core would assert):
    the engine takes scalars only, and finite numbers (NaN and infinity fail inside it)."""
    if ftype == "bool":
        return isinstance(value, bool)
    if ftype == "str":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if ftype == "int":
        return isinstance(value, int) and abs(value) < 2**63
    return math.isfinite(value) and abs(value) < 1e300


# A scenario's keys that are not text (the question's options, as explain takes them)
_SCENARIO_TYPES = {"context": "int", "batch": "int", "gpus": "int", "seq_len": "int", "n_gpu_layers": "int",
                   "micro_batch": "int", "lora_rank": "int", "ram_gb": "float",
                   "gradient_checkpointing": "bool", "pure_bf16": "bool", "lora_targets": "targets"}
_TYPE_WORDS["targets"] = "a text or a list of texts"


def _scenario_value_ok(key: str, value) -> bool:
    ftype = _SCENARIO_TYPES.get(key, "str")
    if ftype == "targets":
        return isinstance(value, str) or (isinstance(value, list)
                                          and all(isinstance(v, str) for v in value))
    return _of_type(value, ftype)


def _problems(c: dict, names_seen: set) -> list[str]:
    out = []
    if not isinstance(c, dict):
        return ["a case is a mapping with name, expect, and facts or scenario"]
    for k in c:
        if k not in _CASE_KEYS:
            near = closest(str(k), list(_CASE_KEYS))
            out.append(f"unknown key '{k}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
    name = c.get("name")
    if not isinstance(name, str) or not name:
        out.append("name is required")
    elif name in names_seen:
        out.append(f"case name '{name}' is used twice")
    if c.get("expect") not in EXPECTS:
        out.append(f"expect must be {' or '.join(EXPECTS)}, not {short(c.get('expect'))}")
    if ("facts" in c) == ("scenario" in c):
        out.append("give facts or a scenario (exactly one)")
    for key in ("facts", "derives"):
        given = c.get(key)
        if given is None:
            continue
        if not isinstance(given, dict):
            out.append(f"{key} must map fact names to values")
            continue
        for f, value in given.items():
            if f not in FACTS and f not in PLAN_FACTS:
                near = closest(str(f), list(FACTS) + list(PLAN_FACTS))
                out.append(f"{key}: unknown fact '{f}'"
                           + (f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""))
                continue
            ftype = (FACTS.get(f) or PLAN_FACTS[f])[0]
            if not _of_type(value, ftype):
                out.append(f"{key}: fact '{f}' is {_TYPE_WORDS[ftype]}, not {short(value)}")
    sc = c.get("scenario")
    if sc is not None:
        if not isinstance(sc, dict) or "model" not in sc or "gpu" not in sc:
            out.append("scenario needs at least model and gpu")
        else:
            known = _FINETUNE_KEYS if sc.get("task") == "finetune" else _SCENARIO_KEYS
            out += [f"scenario: unknown key '{k}' (known: {', '.join(known)})"
                    for k in sc if k not in known]
            out += [f"scenario: {k} is {_TYPE_WORDS[_SCENARIO_TYPES.get(k, 'str')]}, not {short(v)}"
                    for k, v in sc.items() if k in known and not _scenario_value_ok(k, v)]
    if c.get("derives") is not None and c.get("expect") != "fires":
        out.append("derives needs expect: fires")
    offers = c.get("offers")
    if offers is not None:
        if "scenario" not in c or c.get("expect") != "fires":
            out.append("offers needs a scenario and expect: fires")
        if not isinstance(offers, dict) or not offers:
            out.append(f"offers maps plan keys ({', '.join(OFFER_KEYS)}) to values")
        else:
            for k, v in offers.items():
                if k not in OFFER_KEYS:
                    out.append(f"offers: unknown plan key '{k}' (known: {', '.join(OFFER_KEYS)})")
                elif not _of_type(v, OFFER_KEYS[k]):
                    out.append(f"offers: {k} is {_TYPE_WORDS[OFFER_KEYS[k]]}, not {short(v)}")
    return out


def load_cases(rule_dir: Path) -> tuple[list[Case], list[str]]:
    """Every case in rule_dir/*.test.yaml, and every problem as `path:line: rule 'id': message`."""
    cases, errors = [], []
    for path in sorted(Path(rule_dir).glob("*.test.yaml")):
        rule_id = path.name[: -len(".test.yaml")]
        try:
            node, data = read_yaml(path)
        except YamlFileError as exc:
            errors.append(f"{path}:{exc.line}: rule '{rule_id}': cannot read the cases: {exc.message}")
            continue
        data = data or {}
        if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
            errors.append(f"{path}:1: rule '{rule_id}': a test file is `cases:` and a list of cases")
            continue
        seq = next((v for k, v in node.value if k.value == "cases"), None)
        seen: set = set()
        for i, c in enumerate(data["cases"]):
            line = seq.value[i].start_mark.line + 1 if seq is not None else 1
            problems = _problems(c, seen)
            errors += [f"{path}:{line}: rule '{rule_id}': case {i + 1}: {p}" for p in problems]
            if not problems:
                seen.add(c["name"])
                cases.append(Case(rule_id, c["name"], c["expect"], c.get("facts"),
                                  c.get("scenario"), c.get("derives"), path, line, c.get("offers")))
    return cases, errors


def run_case(case: Case, rules: dict, advisor) -> Outcome:
    """rules: id -> RuleSpec (the rulebook the case belongs to); advisor: an advisor.Advisor
    built on that rulebook, for scenario cases."""
    from advisor.rules.engine import RuleEngine

    offered: list = []     # the JSON of the plans this rule offered (scenario cases)
    spec = rules.get(case.rule_id)
    if spec is None:
        return Outcome(case, False, f"no rule '{case.rule_id}' beside {case.path.name}")
    try:
        if case.facts is not None and spec.scope == "plan":
            unknown = sorted(set(case.facts) - set(PLAN_FACTS))
            if unknown:
                return Outcome(case, False, f"plan rules read plan facts; unknown: {', '.join(unknown)}")
            fired = bool(RuleEngine([spec]).choose([{"kind": "plan", **case.facts}])[0])
            derived = {}
        elif case.facts is not None:
            unknown = sorted(set(case.facts) - set(FACTS))
            if unknown:
                return Outcome(case, False, f"unknown situation facts: {', '.join(unknown)}")
            inf = RuleEngine([spec]).infer({"kind": "situation", **case.facts})
            fired = any(f.rule_id == case.rule_id for f in inf.firings)
            derived = {k: v for k, v in inf.facts.items() if k in inf.derived}
        else:
            s = case.scenario
            if s.get("task") == "finetune":
                from advisor.sizing.finetune import spec_from_mapping

                adv = advisor.explain(s["model"], s["gpu"], gpus=s.get("gpus"),
                                      finetune=spec_from_mapping(s))
            else:
                from dataclasses import replace

                from advisor.sizing.workload import Workload

                work = Workload()
                if s.get("ram_gb") is not None:
                    work = replace(work, ram_bytes=int(float(s["ram_gb"]) * 2**30))
                adv = advisor.explain(s["model"], s["gpu"], s.get("precision"), s.get("context"),
                                      s.get("batch", 1), s.get("gpus"), work,
                                      kv_cache=s.get("kv_cache"), runtime=s.get("runtime"),
                                      prefer=s.get("prefer"), gpu_layers=s.get("n_gpu_layers"))
            fired = case.rule_id in adv.fired or any(r == case.rule_id for _, r in adv.offered)
            derived = {k: adv.facts[k] for k, r in adv.derived.items() if r == case.rule_id}
            offered = [p.to_json(r) for p, r in adv.offered if r == case.rule_id]
    except AdvisorError as exc:  # one line, whatever the scenario's names hold
        from advisor.text import escaped

        return Outcome(case, False, f"error: {escaped(str(exc), keep_newlines=False)}")
    if fired != (case.expect == "fires"):
        return Outcome(case, False, f"expected it to {'fire' if case.expect == 'fires' else 'stay silent'}, "
                                    f"but it {'fired' if fired else 'stayed silent'}")
    if case.offers and fired:
        if not any(all(p.get(k) == v for k, v in case.offers.items()) for p in offered):
            got = "; ".join(", ".join(f"{k} {short(p.get(k))}" for k in case.offers) for p in offered)
            return Outcome(case, False, f"expected it to offer a plan with "
                                        f"{', '.join(f'{k} {short(v)}' for k, v in case.offers.items())}, "
                                        f"got {got or 'none'}")
    for fact, want in (case.derives or {}).items():
        if derived.get(fact) != want:
            return Outcome(case, False, f"expected it to derive {fact} = {short(want)}, "
                                        f"got {short(derived.get(fact))}")
    return Outcome(case, True, "fired" if fired else "stayed silent")
