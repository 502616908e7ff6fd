"""Hostile-input findings, seventh round (issue 14; the findings in full: /work/notes/hostile7.md):
what landed with mixed GPU sets, the Ollama runtime, speed bands, --train-tokens and vLLM serving.
Each test is one kind of fault the pass found, checked through the command line."""
from __future__ import annotations

from click.testing import CliRunner

from advisor.cli import main
from tests.cli_helpers import one_line_error


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


# -- a GPU set's count of thousands of digits --------------------------------------------------

def test_a_gpu_sets_count_of_thousands_of_digits_is_one_line():
    """'1111...x rtx-3090' (5,000 digits) ended in a ValueError traceback: int() refuses strings
    of more than 4,300 digits. The count is refused as out of range, and the line stays short."""
    r = run("explain", "llama-3.1-8b", "1" * 5000 + "x rtx-3090")
    one_line_error(r, "a count must be from 1 to")
    assert len(r.output) < 300
    one_line_error(run("explain", "llama-3.1-8b", "99999x rtx-3090"), "not 99999")


def test_a_long_train_tokens_value_is_quoted_short():
    """A 5,000-character --train-tokens value was echoed whole in its error line."""
    r = run("explain", "llama-3.1-8b", "rtx-4090", "--task", "finetune", "--train-tokens", "1" * 5000)
    one_line_error(r, "whole number of tokens")
    assert len(r.output) < 400
