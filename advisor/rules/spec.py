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
      with:                      # numbers the recommendation carries: name -> fact
        precision: quantize_precision
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from advisor.errors import closest
from advisor.facts import FACTS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
OPERATORS = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
VERDICTS = ("fits", "tight", "does-not-fit")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9\-]*$")
_COND_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_EXISTS_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(exists|missing)\s*$")
_TOP_KEYS = {"id", "priority", "doc", "when", "then"}
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


@dataclass
class RuleSpec:
    id: str
    path: Path
    priority: int
    doc: dict
    when: list[Condition]
    verdict: str | None
    recommend: str | None
    with_facts: dict = field(default_factory=dict)


class RuleErrors(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def _lines(node) -> dict:
    """Top-level key -> (line of key, value node)."""
    out = {}
    if isinstance(node, yaml.MappingNode):
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


def _fact_error(name: str) -> str:
    near = closest(name, list(FACTS))
    hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
    return f"unknown fact '{name}'{hint}"


def parse_condition(text: str) -> tuple[Condition | None, str | None]:
    m = _EXISTS_RE.match(text)
    if m:
        fact, op = m.groups()
        if fact not in FACTS:
            return None, _fact_error(fact)
        return Condition(fact, op, None, text), None
    m = _COND_RE.match(text)
    if not m:
        return None, (f"cannot read condition '{text}': write `fact OP value` with OP one of "
                      f"{' '.join(OPERATORS)}, or `fact exists` / `fact missing`")
    fact, op, raw = m.groups()
    if fact not in FACTS:
        return None, _fact_error(fact)
    value = _parse_value(raw)
    if isinstance(value, FactRef):
        if value.name not in FACTS:
            return None, f"'{raw}' is neither a literal nor a known fact: " + _fact_error(value.name)
        return Condition(fact, op, value, text), None
    ftype = FACTS[fact][0]
    ok = {
        "int": isinstance(value, (int, float)) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool) and op in ("==", "!="),
        "str": isinstance(value, str) and op in ("==", "!="),
    }[ftype]
    if not ok:
        return None, f"'{text}': fact '{fact}' is {ftype}; {raw} {op} does not compare with it"
    if isinstance(value, float) and value != 0 and not (1e-4 <= abs(value) < 1e16):
        return None, f"'{text}': write numbers between 1e-4 and 1e16 (the engine cannot read {raw})"
    return Condition(fact, op, value, text), None


def load_rule(path: Path, known_kinds: set[str]) -> tuple[RuleSpec | None, list[str]]:
    errors: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return None, [f"{path}:{line}: rule '{path.stem}': invalid YAML: {getattr(exc, 'problem', exc)}"]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1: rule '{path.stem}': cannot read: {exc}"]
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
            err(key, f"unknown key '{key}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
    if not isinstance(rid, str) or not ID_RE.match(rid):
        err("id", "id must be lower-case letters, digits and dashes")
    elif rid != path.stem:
        err("id", f"id '{rid}' must match the file name '{path.stem}'")
    priority = data.get("priority", 50)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 1000:
        err("priority", "priority must be an integer from 0 to 1000")
        priority = 50
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
            line = seq.value[i].start_mark.line + 1 if isinstance(seq, yaml.SequenceNode) else lines["when"][0]
            if not isinstance(item, str):
                err(line, f"condition {i + 1} must be a string like 'headroom_bytes < 0'")
                continue
            c, e = parse_condition(item)
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

    if not isinstance(then, dict) or not ({"verdict", "recommend"} & set(then)):
        err("then" if "then" in lines else 1, "then must give a verdict, a recommend kind, or both")
    else:
        for k in then:
            if k not in ("verdict", "recommend", "with"):
                err(then_line(k), f"then has an unknown key '{k}' (known: verdict, recommend, with)")
        verdict = then.get("verdict")
        if verdict is not None and verdict not in VERDICTS:
            err(then_line("verdict"), f"verdict '{verdict}' is not one of {', '.join(VERDICTS)}")
        recommend = then.get("recommend")
        if recommend is not None and recommend not in known_kinds:
            near = closest(str(recommend), sorted(known_kinds))
            err(then_line("recommend"), f"recommendation kind '{recommend}' has no template "
                        f"templates/recommendations/{recommend}.md.j2"
                + (f" (did you mean '{near[0]}'?)" if near else ""))
        with_facts = then.get("with") or {}
        if not isinstance(with_facts, dict):
            err(then_line("with"), "then.with must map names to facts")
            with_facts = {}
        for name, fact in with_facts.items():
            if fact not in FACTS:
                err(then_line("with"), f"with.{name}: " + _fact_error(str(fact)))
        if with_facts and recommend is None:
            err("then", "then.with needs a recommend kind")
    if errors:
        return None, errors
    return RuleSpec(rid, path, priority, doc, conds, verdict, recommend, dict(with_facts)), []


def load_rules(dirs: list[Path], known_kinds: set[str]) -> list[RuleSpec]:
    """Rules from each folder in order; a later folder's rule overrides an earlier one's id."""
    errors: list[str] = []
    by_id: dict[str, RuleSpec] = {}
    for d in dirs:
        if not d.is_dir():
            errors.append(f"{d}:1: rule folder does not exist")
            continue
        seen_here: set[str] = set()
        for path in sorted(d.glob("*.yaml")):
            if path.name.endswith(".test.yaml"):
                continue
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
