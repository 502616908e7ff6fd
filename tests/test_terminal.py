"""Answers drawn for a terminal (advisor/cli/terminal.py, advisor/cli/draw.py): colour and boxes
on a terminal, the plain formats unchanged when piped, NO_COLOR, commands kept copyable."""
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest
from click.testing import CliRunner

from advisor.bulk.tables import Grid
from advisor.cli import main
from advisor.cli.draw import VERDICT_STYLES, render_grid, render_markdown
from advisor.rules.spec import VERDICTS

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ADVISORY = ("explain", "llama-3.1-70b", "rtx-4090")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TTY_COMPATIBLE",
                        "TTY_INTERACTIVE", "PYTHONIOENCODING")}
    env["TERM"] = "xterm-256color"
    return env | extra


def on_pty(*args, columns=80, **env) -> bytes:
    """advisor ARGS run with standard output on a pseudo-terminal `columns` wide: what it wrote
    there (the terminal's \\r\\n back to \\n). Standard error is a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "advisor", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.PIPE, env=_env(**env))
    os.close(slave)
    out = b""
    while select.select([master], [], [], 120)[0]:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    return out.replace(b"\r\n", b"\n")


def piped(*args, **env) -> bytes:
    return subprocess.run([sys.executable, "-m", "advisor", *args], capture_output=True,
                          env=_env(**env), check=True).stdout


def colour_codes(text: str) -> list[str]:
    """The SGR parameters in text that set a colour (foreground or background)."""
    found = []
    for seq in re.findall(r"\x1b\[([0-9;]*)m", text):
        params = seq.split(";")
        for i, p in enumerate(params):
            if p and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.append(seq)
                break
    return found


@pytest.fixture(scope="module")
def plain():
    return piped(*ADVISORY)


def test_advisory_on_a_terminal_is_drawn_in_colour(plain):
    out = on_pty(*ADVISORY).decode()
    assert "\x1b[1;31mVerdict: does not fit.\x1b[0m" in out  # red, bold
    text = ANSI.sub("", out)
    assert "╭" in text and "│ weights" in text  # the memory table in a box
    assert "**" not in text and "## " not in text and "|---|" not in text  # no markdown syntax
    # the launch command of What to do (81 columns) stays one line on an 80-column terminal
    command = "llama-server -hf bartowski/Meta-Llama-3.1-70B-Instruct-GGUF:Q4_K_M -ngl 41 -c 8192"
    assert len(command) > 80 and command in text.splitlines()
    assert ANSI.sub("", plain.decode()) == plain.decode()


def test_piped_advisory_is_the_markdown_of_before(plain, advisor):
    """Piped: no escape codes, and the bytes of --format markdown and of the library's
    markdown (the defaults stated, as explain states them)."""
    from advisor.render import render_markdown as library_markdown

    assert b"\x1b" not in plain
    assert plain == piped(*ADVISORY, "--format", "markdown")
    adv = advisor.explain("llama-3.1-70b", "rtx-4090")
    assert plain.decode() == library_markdown(adv, {"precision", "context", "runtime"})


def test_format_markdown_on_a_terminal_is_plain(plain):
    assert on_pty(*ADVISORY, "--format", "markdown") == plain


def test_no_color_on_a_terminal_keeps_the_drawing_without_colour():
    out = on_pty(*ADVISORY, NO_COLOR="1").decode()
    assert colour_codes(out) == []
    assert "╭" in out and "Verdict: does not fit." in ANSI.sub("", out)


def test_json_is_the_same_on_a_terminal_and_piped():
    args = (*ADVISORY, "--format", "json")
    assert on_pty(*args) == piped(*args)
    json.loads(piped(*args))


def test_fit_and_gpus_draw_tables_on_a_terminal():
    fit = ANSI.sub("", on_pty("fit", "rtx-4090", columns=160).decode())
    assert fit.startswith("Models that run on NVIDIA GeForce RTX 4090")
    header = next(line for line in fit.splitlines() if line.startswith("model "))
    rule = fit.splitlines()[fit.splitlines().index(header) + 1]
    assert set(rule) == {"─"} and "max context" in header  # a line drawn under the headers
    assert "qwen2.5-32b" in fit
    text = ANSI.sub("", on_pty("gpus", "llama-3.1-70b", columns=120).decode())
    assert "USD/hour" in text and "─" * 20 in text and "h100-80gb" in text
    # the same rows as the plain table
    assert [line.split()[0] for line in piped("gpus", "llama-3.1-70b").decode().splitlines()[4:]] \
        == [line.split()[0] for line in text.splitlines()[4:] if line.strip()]


def test_table_wider_than_the_terminal_becomes_a_list():
    grid = Grid(["model", "parameters", "max context", "decode"],
                [["deepseek-r1-distill-qwen-32b", "32.8B", "15,360", "33.5 tokens/s"],
                 ["qwen2-57b-a14b", "57.4B", "48,640", "107.3 tokens/s"]], frozenset({1, 2, 3}))
    wide = render_grid("Models:", grid, width=120, color=False)
    assert re.search(r"^deepseek-r1-distill-qwen-32b +32\.8B +15,360 +33\.5 tokens/s$", wide, re.M)
    assert re.search(r"^─+$", wide, re.M)
    narrow = render_grid("Models:", grid, width=40, color=False)
    assert narrow.splitlines()[2:5] == ["deepseek-r1-distill-qwen-32b",
                                        "  parameters 32.8B, max context 15,360,",
                                        "  decode 33.5 tokens/s"]
    assert max(len(line) for line in narrow.splitlines()) <= 40


def test_every_verdict_has_its_colour():
    assert set(VERDICT_STYLES) == set(VERDICTS)
    colours = {"fits": "32", "tight": "33", "does-not-fit": "31", "cannot-run": "31"}
    for verdict in VERDICTS:
        out = render_markdown(f"**Verdict: {verdict.replace('-', ' ')}.** At bf16.\n")
        assert out.startswith(f"\x1b[1;{colours[verdict]}mVerdict: {verdict.replace('-', ' ')}.\x1b[0m"), out


def test_commands_are_never_split_at_any_width(plain):
    """Every line of the drawn advisory fits the width, except a line that is one command (a
    code block's line, or an inline command moved to a line of its own) or one unbreakable word."""
    md = plain.decode()
    commands = {c for c in re.findall(r"`([^`\n]+)`", md) if " " in c}
    commands |= set(re.findall(r"```\n(.+)\n```", md))
    assert any(c.startswith("llama-server") for c in commands)
    for width in (40, 60, 80, 100, 140):
        text = render_markdown(md, width=width, color=False)
        lines = [line.strip() for line in text.splitlines()]
        for command in commands:  # whole on one line (an inline one may end with its ".")
            assert any(line == command or line.startswith(command) and line[len(command):] in ("", ".")
                       or command in line for line in lines), (width, command)
        for line in text.splitlines():
            if len(line) > width:
                bare = line.strip().lstrip("•*").strip()
                assert bare in commands or bare.rstrip(".") in commands or " " not in bare, (width, line)


def test_a_command_after_prose_starts_and_ends_its_line():
    md = ("- **Rent it** (rule `plan-rent`): changes the card; about **37.1 tokens/s**. "
          "`llama-server -hf some/Repo-GGUF:Q6_K -ngl 81 -c 8192` First: a note after it.\n")
    lines = render_markdown(md, width=60, color=False).strip("\n").splitlines()
    assert "   llama-server -hf some/Repo-GGUF:Q6_K -ngl 81 -c 8192" in lines
    assert any(line.startswith("   First: a note") for line in lines)
    assert "plan-rent" in lines[0]  # a short code span stays in the prose


def test_links_are_written_out():
    out = render_markdown("See [the llama.cpp docs](https://github.com/ggml-org/llama.cpp).\n",
                          color=False)
    assert "the llama.cpp docs (https://github.com/ggml-org/llama.cpp)" in out


def test_ascii_terminal_does_not_crash():
    out = on_pty(*ADVISORY, PYTHONIOENCODING="ascii")
    out.decode("ascii")  # nothing the terminal cannot show
    text = ANSI.sub("", out.decode())
    assert "+---" in text and "\\xd7" in text  # ASCII boxes; "×" escaped
    assert " * " in text  # bullets


def test_format_terminal_when_piped_draws_too():
    """--format terminal draws whatever the output (for `| less -R`); COLUMNS sets the width."""
    r = CliRunner().invoke(main, [*ADVISORY, "--format", "terminal"], env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    assert "\x1b[1;31mVerdict: does not fit." in r.output
    assert max(len(ANSI.sub("", line)) for line in r.output.splitlines()
               if "llama-server" not in line and "vllm serve" not in line) <= 100
    why = CliRunner().invoke(main, [*ADVISORY, "--format", "terminal", "--why"])
    assert why.exit_code == 0 and "Why this plan" in ANSI.sub("", why.output)


def test_rich_is_not_imported_for_plain_output():
    code = ("import sys; from advisor.cli import main\n"
            "try:\n    main(['explain', 'llama-3.1-8b', 'rtx-4090'])\nexcept SystemExit:\n    pass\n"
            "print('rich' in sys.modules, 'markdown_it' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert r.stdout.startswith("# Llama 3.1 8B") and r.stderr.strip() == "False False", r.stderr
