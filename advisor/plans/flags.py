"""Checking a launch command against its runtime's documented flags
(advisor/data/runtime_flags.yaml: each runtime's flags, their spellings, whether they take a
value and the values allowed, with the version and source file they were read from).

check_command("llama-server -m x.gguf -fa on") names the runtime by its program (llama-server,
`vllm serve`, `python -c` for the transformers snippet) and reports every flag the runtime does
not know, every flag left without its value, every value outside the runtime's set or form, and
(as warnings) flags the runtime keeps only for backward compatibility. The shell words are split
as a shell would (shlex); the transformers snippet is parsed as Python (ast) and its
from_pretrained(...) and BitsAndBytesConfig(...) keyword arguments are checked the same way.
Pure: no I/O beyond reading the data file once.
"""
from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).resolve().parent.parent / "data" / "runtime_flags.yaml"
_NUMBER = re.compile(r"^-[0-9.]")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or, for kind "deprecated", merely old) in a command. kind: unknown-program,
    unknown-flag, missing-value, unexpected-value, bad-value, unexpected-argument, syntax,
    not-imported, deprecated."""
    kind: str
    flag: str | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CheckResult:
    """What check_command found: the runtime the program names (None when none does), the
    problems (the command would not start, or not as meant) and the warnings (deprecated)."""
    runtime: str | None
    problems: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """Whether the command parses clean (warnings allowed)."""
        return not self.problems


@lru_cache(maxsize=1)
def runtime_flags() -> dict:
    """The parsed advisor/data/runtime_flags.yaml: runtime -> {program, version, source, flags}."""
    from advisor.cache import data_file

    return data_file(_DATA)


@lru_cache(maxsize=None)
def _index(runtime: str) -> dict[str, dict]:
    """Every spelling of the runtime's flags -> the flag's entry."""
    return {name: spec for spec in runtime_flags()[runtime]["flags"] for name in spec["names"]}


@lru_cache(maxsize=None)
def _kwargs(call: str) -> dict[str, dict]:
    spec = runtime_flags()["transformers"]["calls"][call]
    return {name: k for k in spec["kwargs"] for name in k["names"]}


def runtime_of(tokens: list[str]) -> str | None:
    """The runtime whose program starts the command's words, or None."""
    for runtime, spec in runtime_flags().items():
        prog = spec["program"]
        if tokens[:len(prog)] == prog or (runtime == "transformers" and len(tokens) >= 2
                                          and re.fullmatch(r"python3?", tokens[0])
                                          and tokens[1] == "-c"):
            return runtime
    return None


def check_command(command: str) -> CheckResult:
    """Check one command string against its runtime's flags (see the module docstring)."""
    try:
        tokens = shlex.split(command)
    except ValueError as exc:
        return CheckResult(None, (Finding("syntax", None, f"cannot split as shell words: {exc}"),), ())
    env = []
    while tokens and _ENV.match(tokens[0]):  # VAR=VALUE before the program: its environment
        env.append(tokens.pop(0).split("=", 1))
    runtime = runtime_of(tokens)
    if runtime is None:
        first = tokens[0] if tokens else ""
        return CheckResult(None, (Finding("unknown-program", None,
                                          f"no runtime in runtime_flags.yaml runs {first!r}"),), ())
    if runtime == "transformers":
        problems, warnings = _check_snippet(tokens[2:])
    else:
        problems, warnings = _check_cli(runtime, tokens[len(runtime_flags()[runtime]["program"]):])
    problems = _check_env(runtime, env) + problems
    return CheckResult(runtime, tuple(problems), tuple(warnings))


def _check_env(runtime: str, env: list[list[str]]) -> list[Finding]:
    """Environment assignments before the program, against the runtime's `env` list (Ollama's
    server is configured that way); a runtime without one takes none here."""
    known = {name: spec for spec in runtime_flags()[runtime].get("env", []) for name in spec["names"]}
    out = []
    for name, value in env:
        spec = known.get(name)
        if spec is None:
            out.append(Finding("unknown-flag", name, f"{runtime}: unknown environment variable "
                               f"{name!r} (not in its list at {runtime_flags()[runtime]['version']})"))
            continue
        why = value_problem(spec, value)
        if why:
            out.append(Finding("bad-value", name, f"{runtime}: {name}={value!r}: {why}"))
    return out


def _check_cli(runtime: str, args: list[str]) -> tuple[list[Finding], list[Finding]]:
    spec = runtime_flags()[runtime]
    index = _index(runtime)
    argparse_style = spec.get("equals_form", False)
    problems: list[Finding] = []
    warnings: list[Finding] = []
    positionals = 0
    i = 0
    while i < len(args):
        tok = args[i]
        i += 1
        if not tok.startswith("-") or tok == "-" or _NUMBER.match(tok):
            positionals += 1
            if positionals > spec.get("positionals", 0):
                problems.append(Finding("unexpected-argument", None,
                                        f"{runtime}: unexpected argument {tok!r}"))
            elif positionals == 1 and spec.get("positional_pattern") and not re.fullmatch(
                    spec["positional_pattern"], tok):
                problems.append(Finding("bad-value", None, f"{runtime}: {tok!r} is not a model "
                                        f"name of the form {spec['positional_pattern']}"))
            continue
        name, inline = tok, None
        if argparse_style and tok.startswith("--") and "=" in tok:
            name, inline = tok.split("=", 1)
        if spec.get("underscores_as_dashes") and name.startswith("--"):
            name = name.replace("_", "-")
        flag = index.get(name)
        if flag is None:
            problems.append(Finding("unknown-flag", name, f"{runtime}: unknown flag {name!r} "
                                    f"(not in its flags at {spec['version']})"))
            continue
        if flag.get("deprecated"):
            warnings.append(Finding("deprecated", name, f"{runtime}: {name} is deprecated: "
                                    f"{flag['deprecated']}"))
        if not flag.get("value"):
            if inline is not None:
                problems.append(Finding("unexpected-value", name,
                                        f"{runtime}: {name} takes no value (given {inline!r})"))
            continue
        value = inline
        if value is None:
            nxt = args[i] if i < len(args) else None
            # argparse does not take a following option as the value; llama.cpp takes any word
            if nxt is None or (argparse_style and nxt.startswith("-") and not _NUMBER.match(nxt)):
                problems.append(Finding("missing-value", name, f"{runtime}: {name} needs a value"))
                continue
            value = nxt
            i += 1
        why = value_problem(flag, value)
        if why:
            problems.append(Finding("bad-value", name, f"{runtime}: {name} {value!r}: {why}"))
    return problems, warnings


def value_problem(flag: dict, value) -> str | None:
    """Why a value is not one the flag (an entry of runtime_flags.yaml) accepts, or None."""
    values = flag.get("values")
    pattern = flag.get("pattern")
    if values is not None or pattern is not None:
        in_set = values is not None and any(value == v or (isinstance(value, str) and value == str(v))
                                           for v in values)
        matches = pattern is not None and isinstance(value, str) and re.fullmatch(pattern, value)
        if not (in_set or matches):
            allowed = ", ".join(str(v) for v in values) if values is not None else ""
            if pattern is not None:
                allowed = (allowed + " or " if allowed else "") + f"the form {pattern}"
            return f"not one of {allowed}"
    kind = flag.get("type")
    if kind in ("int", "float"):
        try:
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            return f"not an {kind}" if kind == "int" else "not a number"
        for bound, ok, word in (("gt", lambda n, b: n > b, ">"), ("ge", lambda n, b: n >= b, ">="),
                                ("le", lambda n, b: n <= b, "<=")):
            if bound in flag and not ok(number, flag[bound]):
                return f"must be {word} {flag[bound]}"
    return None


def _check_snippet(rest: list[str]) -> tuple[list[Finding], list[Finding]]:
    problems: list[Finding] = []
    warnings: list[Finding] = []
    if len(rest) != 1:
        return [Finding("unexpected-argument", None,
                        "transformers: `python -c` takes one program string")], []
    try:
        tree = ast.parse(rest[0])
    except SyntaxError as exc:
        return [Finding("syntax", None, f"transformers: the snippet is not Python: {exc.msg}")], []
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {a.asname or a.name for a in node.names}
    calls = runtime_flags()["transformers"]["calls"]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        call = (f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None)
        if call not in calls:
            continue
        spec = calls[call]
        owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else call
        if spec.get("instance"):
            pass  # a method of an object the snippet made (t.apply_chat_template, m.generate)
        elif owner not in imported:
            problems.append(Finding("not-imported", owner, f"transformers: {owner} is used but not imported"))
        elif isinstance(f, ast.Attribute) and owner not in spec.get("imports", (owner,)):
            problems.append(Finding("unknown-flag", owner, f"transformers: {owner}.{call} is not a "
                                    "class this list knows"))
        if len(node.args) > spec.get("positionals", 0):
            problems.append(Finding("unexpected-argument", call,
                                    f"transformers: {call} takes {spec.get('positionals', 0)} "
                                    f"positional argument(s), given {len(node.args)}"))
        known = _kwargs(call)
        for kw in node.keywords:
            if kw.arg is None:
                continue  # **kwargs: nothing to check statically
            flag = known.get(kw.arg)
            if flag is None:
                problems.append(Finding("unknown-flag", kw.arg,
                                        f"transformers: {call}() has no keyword {kw.arg!r}"))
                continue
            if flag.get("deprecated"):
                warnings.append(Finding("deprecated", kw.arg, f"transformers: {call}({kw.arg}=...) "
                                        f"is deprecated: {flag['deprecated']}"))
            value, checkable = _literal(kw.value, imported)
            if isinstance(value, Finding):
                problems.append(value)
                continue
            if checkable:
                why = value_problem(flag, value)
                if why:
                    problems.append(Finding("bad-value", kw.arg,
                                            f"transformers: {call}({kw.arg}={value!r}): {why}"))
    return problems, warnings


def _literal(node: ast.AST, imported: set[str]):
    """(value, whether it can be checked): a constant, or torch.X as "X"."""
    if isinstance(node, ast.Constant):
        return node.value, True
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch":
        if "torch" not in imported:
            return Finding("not-imported", "torch", "transformers: torch is used but not imported"), False
        return node.attr, True
    return None, False
