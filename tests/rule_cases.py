"""The public harness for rule test cases: <rule>.test.yaml beside each rule file.

    cases:
      - name: deficit
        expect: fires            # or: silent
        facts: {headroom_bytes: -1, margin_bytes: 1}   # only the facts the rule reads
      - name: a-real-question
        expect: fires
        scenario: {model: llama-3.1-70b, gpu: a100-40gb, precision: fp16, context: 8192, gpus: 1}
      - name: a-fine-tuning-question    # task: finetune, then any FinetuneSpec field
        expect: fires
        scenario: {model: llama-3.1-8b, gpu: rtx-4090, task: finetune, method: qlora, seq_len: 2048}

`facts` cases run the one rule alone in the engine; `scenario` cases run the sizing core and
check whether this rule is among those that fire.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Case:
    rule_id: str
    name: str
    expect: str
    facts: dict | None
    scenario: dict | None
    path: Path


def load_cases(rule_dir: Path) -> list[Case]:
    out = []
    for path in sorted(rule_dir.glob("*.test.yaml")):
        rule_id = path.name[: -len(".test.yaml")]
        data = yaml.safe_load(path.read_text()) or {}
        for c in data.get("cases", []):
            out.append(Case(rule_id, c["name"], c["expect"], c.get("facts"), c.get("scenario"), path))
    return out


def run_case(case: Case, rules: dict, kb, advisor) -> bool:
    """True when the rule fired."""
    from advisor.rules.engine import RuleEngine

    if case.facts is not None:
        engine = RuleEngine([rules[case.rule_id]])
        fired = engine.run({"kind": "situation", **case.facts})
        return any(f.rule_id == case.rule_id for f in fired)
    s = case.scenario
    if s.get("task") == "finetune":  # the other keys are FinetuneSpec fields
        from advisor.sizing.finetune import spec_from_mapping

        adv = advisor.explain(s["model"], s["gpu"], gpus=s.get("gpus", 1),
                              finetune=spec_from_mapping(s))
        return case.rule_id in adv.fired
    adv = advisor.explain(s["model"], s["gpu"], s.get("precision", "fp16"),
                          s.get("context", 8192), s.get("batch", 1), s.get("gpus", 1))
    return case.rule_id in adv.fired
