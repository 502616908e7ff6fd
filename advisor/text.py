"""Text from files, KB entries, ids and rule docs made safe for a terminal, in one place.

A name or a doc may carry control characters (ESC sequences that set the clipboard or clear the
screen, backspace, carriage return, BEL), format characters (U+202E turns the line around) and
line or paragraph separators. Whatever advisor prints to a terminal passes through one of these:

- one_line: a name or doc as one line of plain text (the character becomes a space);
- escaped: an error message with each such character shown as an escape (\\x1b, \\u202e), so
  that it still says exactly what the input held; newlines are kept where a message lists
  several errors, one a line.
"""
from __future__ import annotations


def one_line(text) -> str:
    """A name as one line of plain text (a terminal line): control, format and line separator
    characters and runs of whitespace become one space."""
    text = str(text)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())


def escaped(text, keep_newlines: bool = True) -> str:
    """text with every character that is not printable (but a space, and a newline when
    keep_newlines) shown as its Python escape: printed, it cannot move the cursor, set a
    terminal's clipboard, or reorder the line."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " " or (keep_newlines and ch == "\n"):
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])  # \x1b, \t, \u202e
    return "".join(out)


def exact_number(x: float) -> str:
    """A number a user gave (a share, a factor) as it reads back: the shortest decimal that is
    the same float (0.954, 0.9999999999999999, 1), never rounded to fewer digits, so a message
    never says 1 of a share just under it (hostile pass 14A)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text
