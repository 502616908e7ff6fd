"""The rule file format (one rule per YAML file, named <id>.yaml), validated in layers:
YAML syntax, then the schema, then meaning (known facts, operators, a kind with a template).
Every error reads `path:line: rule 'id': message`; all are collected before failing.

    id: quantize-to-fit
    priority: 20                 # lower fires first; equal priorities fire in file-name order
    doc:
      advises: ...               # what it recommends
      why: ...                   # why that is right
      example: ...               # a case where it fires
    when:                        # all must hold; each is `fact OP value` (value: a number,
      - headroom_bytes < 0       #   true/false, a 'quoted string', or another fact's name)
      - quantize_precision exists
    then:
      verdict: does-not-fit      # and/or
      recommend: quantize        # a kind with templates/recommendations/<kind>.md.j2
      with:                      # what the recommendation carries: name -> fact; exactly the
        precision: quantize_precision   # fields the template reads; `fact?` may be missing
    # or, instead of verdict/recommend (a rule says one thing):
    then:
      derive:                    # facts for other rules (registered in advisor/facts/derived.py)
        needs_more_memory: true  #   value: a literal, or the name of a fact to copy

Full reference: docs/rules.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from advisor.errors import closest
from advisor.text import escaped
from advisor.limits import short
from advisor.facts import DERIVED, FACTS, guaranteed
from advisor.facts.plans import PLAN_FACTS
from advisor.facts.values import fact_values
from advisor.yamlfile import YamlFileError, is_mapping, is_sequence, read_yaml

OBJECTIVE_FILE = "objective.yaml"
OPERATORS = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
VERDICTS = ("fits", "tight", "does-not-fit", "cannot-run")
# \Z, not $: $ also matches before a trailing newline, and an id is a file name (rules new)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9\-]*\Z")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*\Z")
INT_LIMIT = 1 << 63                 # the engine's C core holds integers as 64-bit
_THEN_KEYS = ("verdict", "recommend", "with", "derive")
_COND_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_EXISTS_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(exists|missing)\s*$")
_TOP_KEYS = {"id", "priority", "scope", "doc", "when", "then"}
SCOPES = ("situation", "plan")
PLAN_KIND = "plan"   # the recommendation kind of plan rules: templates/recommendations/plan.md.j2
_DOC_KEYS = ("advises", "why", "example")


@dataclass(frozen=True)
class Condition:
    fact: str
    op: str                 # one of OPERATORS, or "exists" / "missing"
    value: object = None    # a literal, or a FactRef
    text: str = ""


@dataclass(frozen=True)
class FactRef:
    name: str


def missing_verdicts(rules: list["RuleSpec"]) -> list[str]:
    """One error a verdict (VERDICTS) that no rule of the rulebook gives: every question must
    get exactly one verdict, so a rulebook without a rule for one (a user's folder whose rule
    replaced verdict-fits with a rule that recommends) would fail every such question."""
    given = {r.verdict for r in rules if r.verdict}
    return [f"no rule gives the verdict '{v}': every question needs exactly one verdict (the "
            f"built-in rule verdict-{v} gives it; a rule of the same id in a --rules folder "
            "replaces it)" for v in VERDICTS if v not in given]


@dataclass
class RuleSpec:
    id: str
    path: Path
    priority: int
    doc: dict
    when: list[Condition]
    verdict: str | None
    recommend: str | None
    with_facts: dict = field(default_factory=dict)   # name -> fact
    derive: dict = field(default_factory=dict)       # derived fact -> literal or FactRef
    optional: frozenset = frozenset()                 # with names whose fact may be missing
    scope: str = "situation"   # situation: one fact a question; plan: one fact a path's best plan

    @property
    def reads(self) -> list[str]:
        """Facts the conditions read, in order, each once."""
        out: list[str] = []
        for c in self.when:
            for name in (c.fact, c.value.name if isinstance(c.value, FactRef) else None):
                if name and name not in out:
                    out.append(name)
        return out


class RuleErrors(Exception):
    """Every error of the rule files, one `path:line: rule 'id': message` a line: a newline
    that a message quotes from a file (a condition, a value) is shown as an escape, so that
    each error stays one line."""

    def __init__(self, errors: list[str]):
        errors = [escaped(e, keep_newlines=False) for e in errors]
        super().__init__("\n".join(errors))
        self.errors = errors


def _lines(node) -> dict:
    """Top-level key -> (line of key, value node)."""
    out = {}
    if is_mapping(node):
        for k, v in node.value:
            out[k.value] = (k.start_mark.line + 1, v)
    return out


def _parse_value(token: str):
    if token in ("true", "false"):
        return token == "true"
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        pass
    return FactRef(token)


def may_match(rule: RuleSpec, known: dict) -> bool:
    """Whether `rule` could match a fact whose values are `known` in part (fact name -> value;
    the other facts unknown): False only when a condition on a known fact, against a literal
    of the same type, is false for its value (or `missing` asks for a known fact's absence).
    The planner uses it to leave out paths that no plan rule could offer (advisor.advise)."""
    for c in rule.when:
        if c.fact not in known or isinstance(c.value, FactRef):
            continue
        v = known[c.fact]
        if c.op in ("exists", "missing"):
            if c.op == "missing":
                return False
            continue
        lit = c.value
        same = (isinstance(v, bool) and isinstance(lit, bool)) or (isinstance(v, str) and isinstance(lit, str)) \
            or (isinstance(v, (int, float)) and isinstance(lit, (int, float))
                and not isinstance(v, bool) and not isinstance(lit, bool))
        if not same:
            continue  # the engine compares mixed types as text: do not guess
        holds = {"==": v == lit, "!=": v != lit}.get(c.op)
        if holds is None and not isinstance(v, (bool, str)):
            holds = {"<": v < lit, "<=": v <= lit, ">": v > lit, ">=": v >= lit}.get(c.op)
        if holds is False:
            return False
    return True


def _fact_error(name: str, registry: dict | None = None) -> str:
    near = closest(name, list(registry or FACTS))
    hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
    return f"unknown fact {short(name)}{hint}"


def parse_condition(text: str, registry: dict | None = None) -> tuple[Condition | None, str | None]:
    """One `fact OP value` condition, checked against the facts of a scope (default: the
    situation's, advisor.facts.FACTS; plan rules: advisor.facts.plans.PLAN_FACTS)."""
    known = registry or FACTS
    m = _EXISTS_RE.match(text)
    if m:
        fact, op = m.groups()
        if fact not in known:
            return None, _fact_error(fact, known)
        return Condition(fact, op, None, text), None
    m = _COND_RE.match(text)
    if not m:
        return None, (f"cannot read condition '{text}': write `fact OP value` with OP one of "
                      f"{' '.join(OPERATORS)}, or `fact exists` / `fact missing`")
    fact, op, raw = m.groups()
    if fact not in known:
        return None, _fact_error(fact, known)
    value = _parse_value(raw)
    ftype = known[fact][0]
    if isinstance(value, FactRef):
        if value.name not in known:
            return None, f"'{raw}' is neither a literal nor a known fact: " + _fact_error(value.name, known)
        other = known[value.name][0]
        if _kind(ftype) != _kind(other) or (ftype in ("bool", "str") and op not in ("==", "!=")):
            return None, (f"'{text}': fact '{fact}' is {ftype} and '{value.name}' is {other}; "
                          f"the engine would compare them as text")
        return Condition(fact, op, value, text), None
    ok = {
        "int": isinstance(value, (int, float)) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool) and op in ("==", "!="),
        "str": isinstance(value, str) and op in ("==", "!="),
    }[ftype]
    if not ok:
        return None, f"'{text}': fact '{fact}' is {ftype}; {raw} {op} does not compare with it"
    problem = _number_problem(value)
    if problem:
        return None, f"'{text}': {problem}"
    if ftype == "str":
        problem = _value_problem(fact, value, "plan" if known is PLAN_FACTS else "situation", op)
        if problem:
            return None, f"'{text}': {problem}"
    return Condition(fact, op, value, text), None


def _value_problem(fact: str, value: str, scope: str, op: str = "==") -> str | None:
    """Why text fact `fact` never holds `value` (its values are a closed set:
    advisor.facts.values), naming the closest: `==` never matches and `!=` always does (a typo
    either way: `runtime != 'VLLM'` would let vllm through); None where it may hold it."""
    values = fact_values(fact, scope)
    if values is None or value in values:
        return None
    near = closest(value, list(values)) or [v for v in values if v.lower() == value.lower()]
    hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
    shown = ", ".join(values) if len(values) <= 12 else ", ".join(values[:12]) + " ..."
    never = "never matches" if op == "==" else "is always true"
    return f"{fact} is one of {shown}; {short(value)} is none of them, so the condition {never}{hint}"


def _kind(ftype: str) -> str:
    return "number" if ftype in ("int", "float") else ftype


def _number_problem(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and (value != value or (value != 0 and not 1e-4 <= abs(value) < 1e16)):
        return f"write numbers between 1e-4 and 1e16 (the engine cannot read {short(value)})"
    if isinstance(value, int) and not -INT_LIMIT <= value < INT_LIMIT:
        return f"{short(value)} is too large for the engine (64-bit integers)"
    return None


def _literal_type_ok(ftype: str, value) -> bool:
    if isinstance(value, bool):
        return ftype == "bool"
    if isinstance(value, (int, float)):
        return ftype in ("int", "float") and not (ftype == "int" and isinstance(value, float))
    return ftype == "str" and isinstance(value, str)


def load_rule(path: Path, known_kinds) -> tuple[RuleSpec | None, list[str]]:
    errors: list[str] = []
    try:
        node, data = read_yaml(path)
    except YamlFileError as exc:
        return None, [f"{path}:{exc.line}: rule '{path.stem}': {exc.message}"]
    if not isinstance(data, dict):
        return None, [f"{path}:1: rule '{path.stem}': a rule file is a mapping with {sorted(_TOP_KEYS)}"]
    lines = _lines(node)
    rid = data.get("id", path.stem)

    def err(key: str | int, msg: str) -> None:
        line = key if isinstance(key, int) else lines.get(key, (1, None))[0]
        errors.append(f"{path}:{line}: rule '{rid}': {msg}")

    for key in data:
        if key not in _TOP_KEYS:
            near = closest(str(key), sorted(_TOP_KEYS))
            err(key, f"unknown key {short(key)}" + (f" (did you mean '{near[0]}'?)" if near else ""))
    if not isinstance(rid, str) or not ID_RE.match(rid):
        err("id", "id must be lower-case letters, digits and dashes")
    elif rid != path.stem:
        err("id", f"id '{rid}' must match the file name '{path.stem}'")
    priority = data.get("priority", 50)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 1000:
        err("priority", "priority must be an integer from 0 to 1000")
        priority = 50
    scope = data.get("scope", "situation")
    if scope not in SCOPES:
        err("scope", f"scope must be one of {', '.join(SCOPES)}, not {short(scope)}")
        scope = "situation"
    registry = PLAN_FACTS if scope == "plan" else FACTS
    doc = data.get("doc")
    if not isinstance(doc, dict):
        err("doc" if "doc" in lines else 1, f"doc must give {', '.join(_DOC_KEYS)}")
        doc = {}
    else:
        for k in _DOC_KEYS:
            if not isinstance(doc.get(k), str) or not doc[k].strip():
                err("doc", f"doc.{k} is required: say {'what it advises' if k == 'advises' else 'why' if k == 'why' else 'an example where it fires'}")
        for k in doc:
            if k not in _DOC_KEYS:
                err("doc", f"doc has an unknown key '{k}'")
    when = data.get("when")
    conds: list[Condition] = []
    if not isinstance(when, list) or not when:
        err("when" if "when" in lines else 1, "when must be a non-empty list of conditions")
    else:
        seq = lines["when"][1]
        for i, item in enumerate(when):
            line = seq.value[i].start_mark.line + 1 if is_sequence(seq) else lines["when"][0]
            if not isinstance(item, str):
                err(line, f"condition {i + 1} must be a string like 'headroom_bytes < 0'")
                continue
            c, e = parse_condition(item, registry)
            if e:
                err(line, e)
            else:
                conds.append(c)
    then = data.get("then")
    verdict = recommend = None
    with_facts: dict = {}
    then_lines = _lines(lines["then"][1]) if "then" in lines else {}

    def then_line(key: str) -> int:
        return then_lines.get(key, (lines.get("then", (1, None))[0], None))[0]

    derive: dict = {}
    optional: set[str] = set()
    for k in then if isinstance(then, dict) else ():
        if k not in _THEN_KEYS:
            near = closest(str(k), list(_THEN_KEYS))
            err(then_line(k), f"then has an unknown key '{k}'"
                + (f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(_THEN_KEYS)})"))
    if scope == "plan":
        if not isinstance(then, dict) or set(then) != {"recommend"} or then["recommend"] != PLAN_KIND:
            err("then" if "then" in lines else 1, f"a plan rule's then is `recommend: {PLAN_KIND}` "
                                                  "(it offers the plan it matches)")
        else:
            recommend = PLAN_KIND
    elif not isinstance(then, dict) or not ({"verdict", "recommend", "derive"} & set(then)):
        err("then" if "then" in lines else 1, "then must give a verdict, a recommend kind (or both), "
                                              "or derive facts")
    else:
        verdict = then.get("verdict")
        if verdict is not None and verdict not in VERDICTS:
            err(then_line("verdict"), f"verdict '{verdict}' is not one of {', '.join(VERDICTS)}")
        recommend = then.get("recommend")
        if recommend == PLAN_KIND:
            err(then_line("recommend"), f"only plan rules (scope: plan) recommend '{PLAN_KIND}'")
        elif recommend is not None and recommend not in known_kinds:
            near = closest(str(recommend), sorted(known_kinds))
            err(then_line("recommend"), f"recommendation kind '{recommend}' has no template "
                        f"templates/recommendations/{recommend}.md.j2"
                + (f" (did you mean '{near[0]}'?)" if near else ""))
        if "derive" in then and ({"verdict", "recommend", "with"} & set(then)):
            err(then_line("derive"), "a rule either derives facts or gives a verdict or "
                                     "recommendation, not both: split it into two rules")
        with_facts, optional = _check_with(then.get("with"), conds, recommend, known_kinds,
                                           lambda msg: err(then_line("with"), msg))
        derive = _check_derive(then.get("derive"), conds, lambda msg: err(then_line("derive"), msg))
    if errors:
        return None, errors
    return RuleSpec(rid, path, priority, doc, conds, verdict, recommend, with_facts, derive,
                    frozenset(optional), scope), []


def _check_with(raw, conds: list[Condition], recommend, known_kinds, err) -> tuple[dict, set]:
    """then.with: names the template reads -> facts that are present whenever the rule fires."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        err("then.with must map names to facts")
        return {}, set()
    if raw and recommend is None:
        err("then.with needs a recommend kind")
    named = {n for c in conds if c.op != "missing"
             for n in (c.fact, c.value.name if isinstance(c.value, FactRef) else None) if n}
    present = guaranteed(named)
    out, optional = {}, set()
    for name, fact in raw.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            err(f"with: {short(name)} is not a name a template can read (lower-case letters, digits, _)")
            continue
        if not isinstance(fact, str):
            err(f"with.{name}: give a fact name, not {short(fact)}")
            continue
        may_miss = fact.endswith("?")
        fact = fact.rstrip("?")
        if fact not in FACTS:
            err(f"with.{name}: " + _fact_error(fact))
            continue
        if not may_miss and fact not in present:
            err(f"with.{name}: fact '{fact}' can be missing when this rule fires; add a condition "
                f"`{fact} exists`, or write '{fact}?' if the template handles a missing value")
        out[name] = fact
        if may_miss:
            optional.add(name)
    fields = known_kinds.get(recommend) if hasattr(known_kinds, "get") and recommend else None
    if fields is not None:
        # Names the template does not read are allowed: they are data in the JSON advisory. A
        # misspelt name still fails here, since the name the template reads is then missing.
        tpl = f"templates/recommendations/{recommend}.md.j2"
        for name in sorted(fields - set(out)):
            near = closest(name, sorted(set(out) - fields))
            err(f"with: {tpl} reads rec.{name}; give it a fact"
                + (f" (is '{near[0]}' meant to be '{name}'?)" if near else ""))
    return out, optional


def _check_derive(raw, conds: list[Condition], err) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        err("then.derive must map derived facts to values")
        return {}
    out = {}
    for fact, value in raw.items():
        if fact not in DERIVED:
            hint = _fact_error(str(fact)) if fact not in FACTS else f"'{fact}' comes from the sizing core"
            err(f"derive.{fact}: only facts registered in advisor/facts/derived.py can be derived ({hint})")
            continue
        ftype = FACTS[fact][0]
        if any(fact in (c.fact, getattr(c.value, "name", None)) for c in conds):
            err(f"derive.{fact}: the rule reads the fact it derives; it would undo itself")
            continue
        if isinstance(value, str) and value in FACTS:
            if _kind(FACTS[value][0]) != _kind(ftype):
                err(f"derive.{fact}: {short(value)} is {FACTS[value][0]}, but {fact} is {ftype}")
                continue
            out[fact] = FactRef(value)
            continue
        if isinstance(value, str) and ftype != "str":
            err(f"derive.{fact}: {short(value)} is not a {ftype} and not a known fact: " + _fact_error(value))
            continue
        if not _literal_type_ok(ftype, value):
            err(f"derive.{fact}: {fact} is {ftype}; {short(value)} is not")
            continue
        if ftype == "str" and (problem := _value_problem(fact, value, "situation")):
            err(f"derive.{fact}: {problem}")
            continue
        problem = _number_problem(value)
        if problem:
            err(f"derive.{fact}: {problem}")
            continue
        out[fact] = value
    return out


def load_rules(dirs: list[Path], known_kinds) -> list[RuleSpec]:
    """Rules from each folder in order; a later folder's rule overrides an earlier one's id.

    known_kinds: the recommendation kinds, or a mapping kind -> the fields its template reads
    (advisor.rules.templates.recommendation_templates), which also checks each rule's `with`."""
    errors: list[str] = []
    by_id: dict[str, RuleSpec] = {}
    for d in dirs:
        if not d.is_dir():
            errors.append(f"{d}:1: rule folder does not exist")
            continue
        seen_here: set[str] = set()
        for path in sorted(d.iterdir()):
            # a rule saved as .yml (or .YAML) would be left out without a word: refused instead
            if path.suffix.lower() in (".yml", ".yaml") and path.suffix != ".yaml":
                errors.append(f"{path}:1: rule files are named <id>.yaml, not "
                              f"'{path.suffix}': rename it, or it is not read")
        for path in sorted(d.glob("*.yaml")):
            if path.name.endswith(".test.yaml") or path.name == OBJECTIVE_FILE:
                continue  # test cases, and the objective (advisor.plans.objective)
            spec, errs = load_rule(path, known_kinds)
            errors += errs
            if spec:
                if spec.id in seen_here:
                    errors.append(f"{path}:1: rule '{spec.id}': duplicate id in {d}")
                seen_here.add(spec.id)
                by_id[spec.id] = spec
    if errors:
        raise RuleErrors(errors)
    return sorted(by_id.values(), key=lambda r: (r.priority, r.id))
