"""The command line: parse, call the library, render, exit. Bad input exits 2 with one line.

One module per command (group); each defines a click command registered here. A command's
module is imported when that command runs (or help lists it), so `advisor explain` does not
import the others'.
"""
from __future__ import annotations

import errno
import gc
import os
import sys
from importlib import import_module

import click

from advisor.errors import AdvisorError, AdvisorErrors
from advisor.text import escaped

# command name -> the module that defines it (as an attribute of the same name)
_COMMANDS = {"explain": "advisor.cli.explain", "fit": "advisor.cli.fit",
             "generate": "advisor.cli.generate", "gpus": "advisor.cli.gpus",
             "hardware": "advisor.cli.hardware", "kb": "advisor.cli.kb",
             "rules": "advisor.cli.rules"}


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            if sys.stdout is None:  # started with stdout closed (`advisor ... >&-`)
                raise AdvisorError("standard output is closed: nowhere to write the answer")
            from advisor.cache import check_cache_dir

            check_cache_dir()
            result = super().invoke(ctx)
            sys.stdout.flush()  # a full disk (`> /dev/full`) fails here, not at exit
            return result
        except AdvisorError as exc:
            # one line; several (every error of the rule files or the KB) one a line
            _say(f"advisor: error: {escaped(str(exc), keep_newlines=isinstance(exc, AdvisorErrors))}")
            ctx.exit(2)
        except click.UsageError as exc:  # a subcommand's options: one line, as any bad input
            _usage_error(exc)
        except OSError as exc:
            if not (_output_failed() or (exc.filename is None and exc.errno in _WRITE_ERRORS)):
                raise
            _silence_stdout()
            if exc.errno != errno.EPIPE:  # a reader that stopped reading (`| head`) is no error
                _say(f"advisor: error: cannot write the output: {escaped(exc.strerror or exc)}")
            ctx.exit(2)

    def main(self, *args, **kwargs):
        for stream in (sys.stdout, sys.stderr):
            try:  # a terminal or pipe that cannot encode "×" or a name: escape, never a traceback
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):
                pass
        collecting = gc.isenabled()
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:  # click's usage message to a standard error that fails (/dev/full)
            if exc.filename is not None or exc.errno not in _WRITE_ERRORS:
                raise
            _silence(sys.stderr)
            sys.exit(2)
        finally:
            if collecting:  # as it was (get_command turns it off for one question)
                gc.enable()

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # advisor's own options (`advisor --bogus`)
            _usage_error(exc)

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx, name):
        if name == "explain":
            # One question: what it makes is freed by reference counts, and the cyclic
            # collector's passes over the modules and the unpickled KB cost more than the few
            # cycles they would find (main turns it back on; generate, fit and gpus keep it)
            gc.disable()
        if name in _COMMANDS and name not in self.commands:
            self.add_command(getattr(import_module(_COMMANDS[name]), name))
        return super().get_command(ctx, name)


# Errors of a write to an open stream (no file name): what writing the answer to stdout gives
_WRITE_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF}


def _say(line: str) -> None:
    """A line to standard error; one that cannot be written (closed, a full disk) is dropped:
    the exit status still says what happened."""
    try:
        click.echo(line, err=True)
    except (OSError, ValueError, AttributeError):
        _silence(sys.stderr)


def _usage_error(exc: click.UsageError):
    """Report a command line click cannot parse (an unknown option, a value of the wrong type,
    a missing argument) as one line, `advisor: error: ...` and the command's --help, and exit 2.
    Running advisor, or one of its groups, with nothing after it still shows the help."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        raise exc
    where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    _say(f"advisor: error: {escaped(exc.format_message(), keep_newlines=False)}{where}")
    raise click.exceptions.Exit(2)


def _output_failed() -> bool:
    """Whether standard output cannot be written (its flush fails)."""
    try:
        sys.stdout.flush()
        return False
    except (OSError, ValueError):
        return True


def _silence_stdout() -> None:
    """Point standard output at the null device, so that the flush at exit does not fail
    again with a traceback after a failed write has been reported."""
    _silence(sys.stdout)


def _silence(stream) -> None:
    """Point a standard stream at the null device (its pending bytes go there too), so that
    the flush at exit does not fail again (and turn the exit status into 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


@click.group(cls=_Group)
@click.version_option(package_name="advisor")
def main() -> None:
    """Can I run model X on GPU Y, and if not, what exactly should I do instead?"""
