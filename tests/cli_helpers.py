"""Checks shared by the command-line tests."""
from __future__ import annotations


def one_line_error(r, *words):
    """A click result that refused its input as promised: exit 2, one line, one
    `advisor: error:`, no traceback, naming every word."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and r.output.count("advisor: error:") == 1, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    for w in words:
        assert w in r.output, r.output
