"""advisor rules list | show ID | check [DIR] | test [DIR] | new ID"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from advisor.cli.sources import PathArg, rules_option
from advisor.errors import AdvisorError


def _does(r) -> str:
    if r.derive:
        return "derive " + ", ".join(r.derive)
    return " + ".join(x for x in (r.verdict and f"verdict {r.verdict}",
                                  r.recommend and f"recommend {r.recommend}") if x)


def _folder(rule_dir: Path) -> Path:
    """RULE_DIR, checked as --rules folders are (advisor.paths.user_folders), and present."""
    from advisor.paths import user_folders

    user_folders(None, [rule_dir], "rule folder")
    if not rule_dir.is_dir():
        raise AdvisorError(f"{rule_dir}: no such folder")
    return rule_dir


@click.group()
def rules() -> None:
    """List, show, check, test and scaffold rule files."""


@rules.command("list")
@rules_option
def list_(rules_dirs):
    """Every rule in firing order: id, priority, what it does, what it advises."""
    from advisor.rules.book import check

    from advisor.text import one_line

    specs = check(rules_dirs)
    width = max(len(one_line(r.id)) for r in specs)
    for r in specs:
        advises = one_line(r.doc["advises"])
        sys.stdout.write(f"{one_line(r.id):<{width}}  {r.priority:>4}  {one_line(_does(r))}\n"
                         f"{'':<{width + 8}}{advises}\n")


@rules.command()
@click.argument("rule_id")
@rules_option
def show(rule_id, rules_dirs):
    """A rule's documentation, conditions, result, file and test cases."""
    from advisor.errors import closest
    from advisor.rules.book import check
    from advisor.rules.cases import load_cases

    specs = {r.id: r for r in check(rules_dirs)}
    r = specs.get(rule_id)
    if r is None:
        near = closest(rule_id, sorted(specs))
        raise AdvisorError(f"unknown rule '{rule_id}'" + (f"; closest: {', '.join(near)}" if near else ""))
    cases = [c for c in load_cases(r.path.parent)[0] if c.rule_id == r.id]
    out = [f"{r.id} (priority {r.priority}; {r.path})", "",
           *(f"{k}: {r.doc[k]}" for k in ("advises", "why", "example")), "",
           "when:", *(f"  - {c.text}" for c in r.when), f"then: {_does(r)}"]
    out += [f"  {name}: {fact}{'?' if name in r.optional else ''}" for name, fact in r.with_facts.items()]
    out += [f"  {fact}: {getattr(v, 'name', v)!s}" for fact, v in r.derive.items()]
    out += ["", f"cases ({len(cases)}):", *(f"  {c.test_id}: expect {c.expect}" for c in cases)]
    from advisor.text import one_line

    def line(text: str) -> str:  # one printable line, its indent kept
        indent = text[: len(text) - len(text.lstrip(" "))]
        return indent + one_line(text) if text.strip() else ""

    sys.stdout.write("\n".join(line(t) for t in out) + "\n")


@rules.command("check")
@click.argument("rule_dir", required=False, type=PathArg())
@rules_option
def check_(rule_dir, rules_dirs):
    """Validate the rulebook, with RULE_DIR's rules added: every error, then exit 2."""
    from advisor.rules.book import check

    if rule_dir is not None:
        rule_dir = _folder(rule_dir)
    specs = check([*rules_dirs, *([rule_dir] if rule_dir else [])])
    sys.stdout.write(f"{len(specs)} rules OK\n")


@rules.command("test")
@click.argument("rule_dir", required=False, type=PathArg())
@rules_option
def test_(rule_dir, rules_dirs):
    """Run the test cases in RULE_DIR (default: the built-in rules); exit 1 if any fails."""
    from advisor.paths import data_dir
    from advisor.rules.book import test

    outcomes = test(_folder(rule_dir) if rule_dir else data_dir("rules"), rules_dirs)
    failed = [o for o in outcomes if not o.passed]
    for o in outcomes:
        line = f"{'PASS' if o.passed else 'FAIL'} {o.case.test_id}"
        if not o.passed:
            line += f" ({o.case.path}:{o.case.line}): {o.message}"
        sys.stdout.write(line + "\n")
    sys.stdout.write(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed\n")
    if failed:
        raise click.exceptions.Exit(1)


@rules.command()
@click.argument("rule_id")
@click.option("--dir", "rule_dir", type=PathArg(), default=Path("."),
              show_default=True, help="The folder to write the rule and its cases in.")
def new(rule_id, rule_dir):
    """Scaffold RULE_ID.yaml and RULE_ID.test.yaml that pass `check` and `test`."""
    from advisor.rules.book import scaffold

    for p in scaffold(rule_dir, rule_id):
        sys.stdout.write(f"wrote {p}\n")
    sys.stdout.write(f"next: edit them, then `advisor rules test {rule_dir}`\n")
