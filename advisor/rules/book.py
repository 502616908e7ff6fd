"""The rulebook as a whole: the built-in rules and a user's folders, checked, tested, extended.

What `advisor rules check | test | new` call; they only print what these return.
"""
from __future__ import annotations

import re

from pathlib import Path

from advisor.errors import AdvisorError, AdvisorErrors
from advisor.rules.cases import Outcome, load_cases, run_case
from advisor.rules.spec import ID_RE, OBJECTIVE_FILE, RuleErrors, RuleSpec, load_rules


def _dirs(extra) -> list[Path]:
    from advisor.advise import rule_dirs

    return rule_dirs(list(extra))


def _orphans(d: Path) -> list[str]:
    return [f"{p}:1: rule '{p.name[: -len('.test.yaml')]}': test file without a rule file "
            f"{p.name[: -len('.test.yaml')]}.yaml beside it"
            for p in sorted(d.glob("*.test.yaml"))
            if not (d / (p.name[: -len(".test.yaml")] + ".yaml")).is_file()]


def check(extra=()) -> list[RuleSpec]:
    """Every rule file and test file of the rulebook (built-in, $ADVISOR_RULES, extra), in
    layers, the objective in force, and the rulebook compiled into the rules engine as explain
    compiles it: all errors at once, as one AdvisorError."""
    from advisor.rules.templates import recommendation_templates

    dirs = _dirs(extra)
    errors: list[str] = []
    rules: list[RuleSpec] = []
    try:
        rules = load_rules(dirs, recommendation_templates())
    except RuleErrors as exc:
        errors += exc.errors
    from advisor.advise import load_objective_file

    try:
        load_objective_file(extra)  # the objective explain would use
    except AdvisorError as exc:
        errors += exc.errors if isinstance(exc, AdvisorErrors) else [str(exc)]
    if rules:
        from advisor.rules.engine import RuleEngine
        from advisor.rules.spec import missing_verdicts

        errors += missing_verdicts(rules)

        try:
            RuleEngine(rules)  # what explain builds: the engine must hold the rulebook
        except AdvisorError as exc:
            errors += exc.errors if isinstance(exc, AdvisorErrors) else [str(exc)]
    for d in dirs:
        if d.is_dir():
            errors += load_cases(d)[1] + _orphans(d)
    if errors:  # one line an error, whatever a message quotes from a file
        raise AdvisorErrors(errors)
    return rules


def test(rule_dir: Path, extra=()) -> list[Outcome]:
    """Run the cases in rule_dir against the rulebook with rule_dir's rules in it."""
    from advisor.advise import Advisor
    from advisor.kb import load_kb

    rule_dir = Path(rule_dir)
    if not rule_dir.is_dir():
        raise AdvisorError(f"{rule_dir}: no such folder")
    rules = check([*extra, rule_dir])
    cases, _ = load_cases(rule_dir)
    if not cases:
        raise AdvisorError(f"{rule_dir}: no test cases (<rule>.test.yaml files) to run")
    advisor = Advisor(load_kb(), rules)
    return [run_case(c, advisor.rules, advisor) for c in cases]


# A scaffold offers the question as asked when it runs on exactly {cards} GPU(s), a number no
# other scaffold in its folder uses: plan rules that match the same plan shadow each other (the
# lowest priority, then the first id, offers it), so two scaffolds with one condition could not
# both fire on their real question. Each scaffold's condition and real question are its own, and
# any number of them in one folder pass `check` and `test` together.
SCAFFOLD_CARDS_RE = re.compile(r"^\s*-\s*gpu_count\s*==\s*(\d+)\s*#\s*scaffold", re.M)
# llama-3.1-8b (32 layers) on rtx-4090: the question as asked fits on 1 to 256 cards (32 nodes
# of 8, one layer a node at most).
SCAFFOLD_MAX_CARDS = 256

RULE_TEMPLATE = """\
id: {id}
priority: 5                      # lower offers first; the built-in plan rules use 10 to 90
scope: plan                      # it reads each path's best plan (advisor rules list: plan facts)
doc:
  advises: >-
    Say in one sentence which plans this rule offers. (Scaffold: the question as asked, when it
    runs usably on exactly {cards} GPU(s); change when to your rule.)
  why: >-
    Say why that is right, with a measurement or a source where there is one.
  example: llama-3.1-8b on {cards} x rtx-4090 -> run it as asked.
when:                            # all must hold; docs/rules.md names the plan facts
  - path == 'as-asked'
  - usable == true
  - gpu_count == {cards}   # scaffold: a count no other scaffold in this folder uses
then:
  recommend: plan                # offer the plan; the lowest priority offered is What to do
"""

CASES_TEMPLATE = """\
# Cases for rule {id}: `advisor rules test <folder>` runs them (named {id}::<case>).
cases:
  - name: fires-on-its-facts        # only the plan facts the rule reads; the rule runs alone
    expect: fires
    facts: {{path: as-asked, usable: true, gpu_count: {cards}}}
  - name: silent-without-an-option
    expect: silent
    facts: {{path: as-asked, usable: true, gpu_count: {other}}}
  - name: a-real-question           # the whole rulebook on a question from the knowledge base
    expect: fires
    scenario: {{model: llama-3.1-8b, gpu: rtx-4090, gpus: {cards}}}
"""


def _scaffold_cards(rule_dir: Path) -> int:
    """The smallest GPU count no scaffold already in rule_dir uses."""
    used = set()
    if rule_dir.is_dir():
        for f in rule_dir.glob("*.yaml"):
            if f.name.endswith(".test.yaml") or not f.is_file():
                continue
            try:
                used.update(int(n) for n in SCAFFOLD_CARDS_RE.findall(f.read_text("utf-8", "replace")[:100_000]))
            except OSError:
                continue
    for n in range(1, SCAFFOLD_MAX_CARDS + 1):
        if n not in used:
            return n
    raise AdvisorError(f"{rule_dir}: already holds {SCAFFOLD_MAX_CARDS} scaffolds; edit them, or "
                       "scaffold into another folder")


def scaffold(rule_dir: Path, rule_id: str) -> list[Path]:
    """Write <rule_dir>/<id>.yaml and <id>.test.yaml, a rule and cases that pass check and test."""
    if not ID_RE.match(rule_id):
        from advisor.limits import short

        raise AdvisorError(f"rule id {short(rule_id, 80)} must be lower-case letters, digits and "
                           "dashes")
    if rule_id == Path(OBJECTIVE_FILE).stem:
        raise AdvisorError(f"{OBJECTIVE_FILE} is a rule folder's objective file, not a rule: give "
                           "the rule another id (rules/objective.yaml is the objective's model)")
    rule_dir = Path(rule_dir)
    paths = [rule_dir / f"{rule_id}.yaml", rule_dir / f"{rule_id}.test.yaml"]
    written: list[Path] = []
    try:
        if rule_dir.exists() and not rule_dir.is_dir():
            raise AdvisorError(f"{rule_dir}: not a folder; nothing written")
        existing = [str(p) for p in paths if p.exists()]
        if existing:
            raise AdvisorError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                               f"nothing written")
        cards = _scaffold_cards(rule_dir)
        rule_dir.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, (RULE_TEMPLATE, CASES_TEMPLATE)):
            with path.open("x", encoding="utf-8") as f:  # never over a file made meanwhile
                written.append(path)
                f.write(text.format(id=rule_id, cards=cards, other=cards + 1))
    except OSError as exc:
        for path in written:  # nothing half-written: both files or neither
            path.unlink(missing_ok=True)
        raise AdvisorError(f"{exc.filename or rule_dir}: cannot write: {exc.strerror or exc}; "
                           "nothing written") from None
    return paths
