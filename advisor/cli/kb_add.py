"""advisor kb add --from config.json|ORG/REPO [--id ID] [--out DIR]

DIR is a KB folder, as `--kb DIR` reads one: the entry is written to DIR/models/<id>.yaml, so
`--kb DIR` loads what `kb add --out DIR` wrote.

`add` is the command, registered under the `kb` group by advisor/cli/kb.py.
"""
from __future__ import annotations

import sys

from pathlib import Path

import click

from advisor.cli.sources import PathArg
from advisor.errors import AdvisorError


@click.command("add")
@click.option("--from", "config_path", required=True, type=PathArg(),
              help="A Hugging Face config.json, or a repo id (ORG/REPO) whose config.json is "
                   "read from the Hugging Face Hub (or its local cache).")
@click.option("--id", "model_id", default=None,
              help="KB id of the new entry. Default: from the config's _name_or_path.")
@click.option("--out", "out_dir", default=None, type=PathArg(),
              help="KB folder (as --kb DIR reads) to write models/<id>.yaml in; - prints the "
                   "entry instead. Default: the built-in KB.")
def add(config_path, model_id, out_dir):
    """Write a KB model entry mapped from a Hugging Face config.json (never overwrites)."""
    from advisor.files import hub
    from advisor.files.hf import read_config
    from advisor.kb.from_config import default_id, model_from_config, model_yaml
    from advisor.limits import MAX_ID_CHARS
    from advisor.paths import data_dir

    source = str(config_path)
    repo, _, quant = source.partition(":")
    if quant and hub.is_repo_id(repo) and not config_path.exists():
        raise AdvisorError(f"'{source}' names a GGUF file of a repo (REPO:QUANT); kb add maps a "
                           "repo's config.json (ORG/REPO): explain and gpus read REPO:QUANT as it is")
    if hub.is_repo_id(source) and not config_path.exists():
        config, source = hub.fetch_config(source)  # its commit-pinned page is the source
        model_id = model_id or default_id(config) or default_id({"_name_or_path": str(config_path)})
    else:
        if _is_gguf(config_path):
            raise AdvisorError(f"{config_path} is a GGUF file: kb add maps a Hugging Face config.json "
                               "(or ORG/REPO); explain and gpus read a GGUF file as it is")
        if config_path.is_dir() and (config_path / "config.json").is_file():
            config_path = config_path / "config.json"  # a snapshot folder: its config
        config = read_config(config_path)
    model_id = model_id or default_id(config)
    if not model_id:
        raise AdvisorError(f"{config_path}: no _name_or_path that makes a KB id (lower case "
                           f"letters, digits, '.', '-', at most {MAX_ID_CHARS} characters); give --id")
    if out_dir is not None and str(out_dir) == "-":
        # `--out -` is standard output, as the convention goes, not a folder named "-"
        click.echo(model_yaml(model_from_config(config, model_id, source)), nl=False)
        return
    kb_dir = out_dir or data_dir("kb")
    out_dir = kb_dir / "models"     # the layout --kb DIR reads (advisor/kb/store.py)
    for folder in (kb_dir, out_dir):
        try:
            is_file = folder.exists() and not folder.is_dir()
        except OSError as exc:
            raise AdvisorError(f"--out '{folder}': cannot read it: {exc.strerror or exc}") from None
        if is_file:
            raise AdvisorError(f"--out '{folder}' is a file, not a folder")
    model = model_from_config(config, model_id, source)
    target = out_dir / f"{model.id}.yaml"
    if target.exists():
        raise AdvisorError(f"{target} already exists; not overwriting it")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as f:
            f.write(model_yaml(model))
    except FileExistsError:
        raise AdvisorError(f"{target} already exists; not overwriting it") from None
    except OSError as exc:
        raise AdvisorError(f"{target}: cannot write: {exc.strerror}") from None
    try:  # the path is the command's answer: where it cannot be said, nothing is left written
        click.echo(str(target))
        sys.stdout.flush()
    except OSError:
        target.unlink(missing_ok=True)
        raise


def _is_gguf(path: Path) -> bool:
    """A GGUF file, by its suffix or (a regular file only) its magic."""
    from advisor.files import _is_gguf as magic

    try:
        return not path.is_dir() and (path.suffix.lower() == ".gguf" or magic(path))
    except (OSError, ValueError):
        return False  # read_config then names what is wrong with it
