"""advisor kb list|show|validate: read and check the knowledge base.

`--kb DIR` (repeatable) and $ADVISOR_KB add user folders on top of the built-in KB; a user
entry with a built-in id replaces it (docs/kb.md).
"""
from __future__ import annotations

import json
import sys

import click

from advisor.cli.sources import PathArg, kb_option

def _load(ctx: click.Context):
    from advisor.kb.store import load_kb, user_kb_dirs

    return load_kb(extra=user_kb_dirs(ctx.obj["kb_dirs"]))


@click.group("kb")
@kb_option
@click.pass_context
def kb(ctx, kb_dirs):
    """List, show and validate knowledge-base entries (models and GPUs)."""
    ctx.ensure_object(dict)
    ctx.obj["kb_dirs"] = tuple(kb_dirs)


def _register_add() -> None:
    from advisor.cli.kb_add import add

    kb.add_command(add)


_register_add()


@kb.command("list")
@click.argument("kind", type=click.Choice(["models", "gpus"]), required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def list_(ctx, kind, fmt):
    """A table of the KB's models and GPUs (or only KIND) with their key numbers."""
    from advisor.kb.listing import gpu_rows, model_rows, render_table

    k = _load(ctx)
    tables = {}
    if kind in (None, "models"):
        tables["models"] = model_rows(k)
    if kind in (None, "gpus"):
        tables["gpus"] = gpu_rows(k)
    if fmt == "json":
        sys.stdout.write(json.dumps(tables, indent=2) + "\n")
        return
    parts = [f"## {name} ({len(rows)})\n\n{render_table(rows)}" for name, rows in tables.items()]
    marked = any(r["id"].endswith("*") for rows in tables.values() for r in rows)
    note = "\n* a user entry (from --kb or $ADVISOR_KB) that replaces the built-in one\n" if marked else ""
    sys.stdout.write("\n".join(parts) + note)


@kb.command("show")
@click.argument("key")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.pass_context
def show(ctx, key, fmt):
    """Show the entry KEY (an id, name or alias of a model or GPU) with its sources."""
    from advisor.kb.listing import find_entries
    from advisor.kb.validate import dump

    k = _load(ctx)
    found = find_entries(k, key)
    out = []
    for entry in found:
        path, replaced = k.path_of(entry), k.overridden(entry)
        if fmt == "json":
            out.append(json.dumps({"path": str(path), "replaces": str(replaced) if replaced else None,
                                   **dump(entry, mode="json", exclude_none=True)}, indent=2) + "\n")
        else:
            head = f"# {path}\n" + (f"# replaces the built-in entry {replaced}\n" if replaced else "")
            out.append(head + path.read_text(encoding="utf-8"))
    sys.stdout.write(("---\n" if fmt == "yaml" else "").join(out))


@kb.command("validate")
@click.argument("directory", required=False, type=PathArg())
@click.pass_context
def validate(ctx, directory):
    """Check every KB file: the built-in KB, the user folders and DIRECTORY (a KB folder with
    models/ and gpus/, checked on top of the built-in entries). Prints every error as
    `path:line: field 'x': message` and exits 2 if there is one."""
    from advisor.kb.store import KBErrors, load_kb, user_kb_dirs
    from advisor.paths import user_folders

    def user_kb_dirs_of(d):
        return user_folders(None, [d], "KB folder") if d else []

    dirs = user_kb_dirs(ctx.obj["kb_dirs"]) + user_kb_dirs_of(directory)
    try:
        k = load_kb(extra=dirs)
        # advisor's GGUF publishers file, against the built-in models whose repos it describes
        from advisor.plans.publishers import check_publishers

        bad = check_publishers((k if not dirs else load_kb()).models.by_id)
        if bad:
            raise KBErrors(bad)
    except KBErrors as exc:
        from advisor.text import escaped

        from advisor.limits import MAX_ERRORS_SHOWN

        for line in exc.errors[:MAX_ERRORS_SHOWN]:
            click.echo(escaped(line, keep_newlines=False), err=True)
        more = len(exc.errors) - MAX_ERRORS_SHOWN
        if more > 0:
            click.echo(f"... and {more:,} more (fix these first)", err=True)
        click.echo(f"advisor: {len(exc.errors)} error(s) in the knowledge base", err=True)
        ctx.exit(2)
    replaced = sum(len(i.overrides) for i in (k.models, k.gpus))
    click.echo(f"ok: {len(k.models.by_id)} models, {len(k.gpus.by_id)} GPUs"
               + (f" ({replaced} built-in entries replaced by user entries)" if replaced else ""))
