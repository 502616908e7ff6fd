"""Where every command reads its knowledge base and rules from: one resolution for all.

- The KB: the built-in one, then each folder of $ADVISOR_KB (os.pathsep-separated), then each
  `--kb DIR`, layered in that order (a later entry with an id replaces the earlier one, and says
  so in `advisor kb list`).
- The rules: the built-in rules/, then $ADVISOR_RULES, then each `--rules DIR`, in that order
  (a later rule with an id replaces the earlier one), and the objective of the last of those
  folders that has an objective.yaml. Every command that reads the rules checks the whole
  rulebook, so a broken folder is the same error in every command.

explain, generate, fit, gpus, kb and rules all take their folders through these options and
loaders, so one shell gives one answer.
"""
from __future__ import annotations

from pathlib import Path

import click

KB_HELP = ("A KB folder (with models/ and gpus/) whose entries add to or replace the built-in "
           "ones; repeatable (also $ADVISOR_KB, separated by the OS path separator).")
RULES_HELP = ("A folder of rule files (and optionally objective.yaml) that adds to or overrides "
              "the built-in rules; repeatable (also $ADVISOR_RULES, separated by ':').")


class PathArg(click.Path):
    """click.Path for every file or folder a command takes, refusing an empty one: '' (an empty
    shell variable, `--dir "$DIR"`) is no name, and as a Path it reads as the working folder, so
    `rules new x --dir ''` and `kb add --out ''` wrote there and `--kb ''`, `rules test ''` read
    it. generate --out checks the same itself."""

    def __init__(self, **kw):
        super().__init__(path_type=Path, **kw)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("is empty: name a file or folder ('.' is the working folder)", param, ctx)
        return super().convert(value, param, ctx)


def kb_option(f):
    return click.option("--kb", "kb_dirs", multiple=True, type=PathArg(), help=KB_HELP)(f)


def rules_option(f):
    return click.option("--rules", "rules_dirs", multiple=True, type=PathArg(), help=RULES_HELP)(f)


def load_kb_from(kb_dirs=()):
    """The KB every command answers from: built-in, $ADVISOR_KB, then --kb (cached)."""
    from advisor.kb.cache import load_kb_cached
    from advisor.kb.store import user_kb_dirs

    return load_kb_cached(extra=user_kb_dirs(kb_dirs))


def load_rules_from(rules_dirs=()):
    """(rulebook, objective): built-in, $ADVISOR_RULES, then --rules, checked as a whole."""
    from advisor.advise import load_objective_file, load_rulebook

    return load_rulebook(rules_dirs), load_objective_file(rules_dirs)


def explain_only_ngl(command: str):
    """A hidden `-ngl/--n-gpu-layers` and `-ts/--tensor-split` for commands that do not take
    them (fit and gpus ask which GPUs or models fit, so there is no one set of cards to split a
    model over; generate sweeps many): without them click reads `-ngl 10` as `-n gl` and blames
    --gpus for 'gl' (or says -n is unknown), and `-ts 3,1` as an unknown -t."""
    def refuse(ctx, param, value):
        if value is not None:
            raise click.UsageError(f"--n-gpu-layers (-ngl) is explain's: one model on one GPU at "
                                   f"a chosen split; {command} does not take it", ctx=ctx)
        return value

    def refuse_ts(ctx, param, value):
        if value is not None:
            raise click.UsageError(f"--tensor-split (-ts) is explain's: one model on one set of "
                                   f"GPUs at a chosen split; {command} does not take it", ctx=ctx)
        return value

    def deco(f):
        f = click.option("--tensor-split", "-ts", "_tensor_split", default=None, hidden=True,
                         expose_value=False, callback=refuse_ts, is_eager=True)(f)
        return click.option("--n-gpu-layers", "-ngl", "_n_gpu_layers", default=None, hidden=True,
                            expose_value=False, callback=refuse, is_eager=True)(f)
    return deco
