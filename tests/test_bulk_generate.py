"""advisor generate: determinism, write-if-changed, atomic writes, filters, index, bad input."""
from __future__ import annotations

import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from advisor.bulk import files
from advisor.bulk.generate import generate
from advisor.bulk.select import DEFAULT_PRECISIONS, Filters, select
from advisor.errors import AdvisorError
from advisor.render import render_markdown
from tests.bulk_helpers import advisor, kb, kb_of, run, tree  # noqa: F401 (fixtures)

SMALL = Filters(models=("llama-3.1-8b", "llama-3.1-70b"), gpus=("rtx-4090", "h100-80gb", "mi300x"),
                precisions=("fp16", "Q4_K_M", "fp8"))


@pytest.fixture(scope="module")
def rules():
    from advisor.advise import load_rulebook
    return load_rulebook()


def test_two_runs_give_byte_identical_trees(kb, rules, tmp_path, monkeypatch):
    monkeypatch.setattr("advisor.bulk.workers.PAGES_PER_WORKER", 50)  # 336 pages: use 2 workers
    a = generate(kb, rules, tmp_path / "a", jobs=1)
    b = generate(kb, rules, tmp_path / "b", jobs=2)
    ta, tb = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a.total == b.total == 4 * 7 * len(DEFAULT_PRECISIONS) and not a.failed and not b.failed
    assert ta == tb
    pages = [p for p in ta if p.endswith(".md") and p != "index.md"]
    assert len(pages) == a.total == a.written


def test_pages_are_the_explain_advisories(kb, rules, advisor, tmp_path):
    generate(kb, rules, tmp_path, SMALL, context_tokens=8192, defaults=frozenset({"context"}))
    adv = advisor.explain("llama-3.1-70b", "rtx-4090", "Q4_K_M")
    page = (tmp_path / "llama-3.1-70b" / "rtx-4090__q4-k-m.md").read_text()
    assert page == render_markdown(adv, {"context"})


def test_rerun_skips_up_to_date_pages_and_rewrites_changed_ones(kb, rules, tmp_path):
    first = generate(kb, rules, tmp_path, SMALL)
    assert first.written == first.total == 18 and first.index_written
    victim = tmp_path / "llama-3.1-8b" / "mi300x__fp16.md"
    victim.write_text("stale\n")
    gone = tmp_path / "llama-3.1-70b" / "h100-80gb__fp8.md"
    gone.unlink()
    kept = tmp_path / "llama-3.1-8b" / "rtx-4090__fp16.md"
    os.utime(kept, ns=(1, 1))
    second = generate(kb, rules, tmp_path, SMALL)
    assert (second.written, second.unchanged, second.index_written) == (2, 16, False)
    assert kept.stat().st_mtime_ns == 1, "an up-to-date page must not be rewritten"
    assert victim.read_text().startswith("# Llama 3.1 8B on") and gone.exists()


def test_stale_temp_files_are_removed_and_others_kept(kb, rules, tmp_path):
    generate(kb, rules, tmp_path, SMALL)   # the folder is generate's from here on
    stale = tmp_path / "llama-3.1-8b" / f".x.md.123.abcd0123{files.TEMP_SUFFIX}"
    stale.write_text("half")
    mine = tmp_path / "notes.txt"
    mine.write_text("the user's")
    # look alike, but not atomic_write's names, or not where a run writes: kept
    others = [tmp_path / f".x.md.123.abcd{files.TEMP_SUFFIX}",
              tmp_path / "llama-3.1-8b" / "deeper" / f".x.md.123.abcd0123{files.TEMP_SUFFIX}"]
    others[1].parent.mkdir()
    for p in others:
        p.write_text("not ours")
    s = generate(kb, rules, tmp_path, SMALL)
    assert s.stale_temp_files_removed == 1 and not stale.exists() and mine.read_text() == "the user's"
    assert all(p.read_text() == "not ours" for p in others)


def test_atomic_write_leaves_old_file_and_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "page.md"
    target.write_bytes(b"old")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["page.md"]


def test_written_files_follow_the_umask(kb, rules, tmp_path):
    old = os.umask(0o022)
    try:
        files.atomic_write(tmp_path / "x", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o644


def test_index_lists_every_page_with_verdict_plan_and_speed(kb, rules, advisor, tmp_path):
    s = generate(kb, rules, tmp_path, SMALL)
    index = (tmp_path / "index.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", index)
    assert len(links) == s.total and all((tmp_path / link).is_file() for link in links)
    row = next(line for line in index.splitlines() if "(llama-3.1-70b/rtx-4090__fp16.md)" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    adv = advisor.explain("llama-3.1-70b", "rtx-4090", "fp16")
    assert cells[3] == adv.verdict.replace("-", " ") == "does not fit"
    from advisor.render import plan_line

    md_line = plan_line(adv.plan).replace("_", "\\_")
    assert cells[4] == md_line and "part in RAM" in cells[4] and cells[5] == "–"  # What to do: offload
    row = next(line for line in index.splitlines() if "(llama-3.1-8b/h100-80gb__fp16.md)" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    adv = advisor.explain("llama-3.1-8b", "h100-80gb", "fp16")
    speed = adv.situation.facts["decode_tokens_per_s"]
    assert cells[3] == "fits" and cells[4].startswith("FP16, as asked")
    assert cells[5] == f"{speed:,.1f} tokens/s"


@pytest.mark.parametrize("flt, models, gpus, precisions", [
    (Filters(models=("llama-3.1-*",)), 3, 7, 12),
    (Filters(models=("LLAMA-3.1-8B,Llama 3.1 70B",), precisions=("Q*",)), 2, 7, 21),  # qat-q4_0 too
    (Filters(models=("llama-3.1-8b",), precisions=("*",)), 1, 7, 48),
    (Filters(families=("llama-3.3",)), 1, 7, 12),
    (Filters(vendors=("amd",)), 4, 1, 12),
    (Filters(memory_gib="40..48"), 4, 2, 12),
    (Filters(memory_gib="100.."), 4, 2, 12),
    (Filters(params_b="60..80"), 2, 7, 12),
    (Filters(gpus=("a100-*", "RTX 4090")), 4, 3, 12),
    (Filters(precisions=("fp16", "int[48]")), 4, 7, 3),
])
def test_filters(kb, flt, models, gpus, precisions):
    sel = select(kb, flt)
    assert (len(sel.models), len(sel.gpus), len(sel.precisions)) == (models, gpus, precisions)


@pytest.mark.parametrize("flt, message", [
    (Filters(models=("llama-9",)), "unknown model 'llama-9'"),
    (Filters(models=("qwen*",)), "--models 'qwen*' matches no model"),
    (Filters(models=("llama-[3",)), "bad glob 'llama-[3'"),
    (Filters(models=("llama-3.1-8b,",)), "--models: empty item"),
    (Filters(vendors=("nvidai",)), "--vendors: unknown vendor 'nvidai'; closest known: nvidia"),
    (Filters(families=("mistral",)), "--families: unknown family 'mistral'"),
    (Filters(memory_gib="80..24"), "--memory: bad range '80..24'"),
    (Filters(memory_gib="lots"), "--memory: bad range 'lots'"),
    (Filters(precisions=("q4km",)), "unknown precision 'q4km'"),
    (Filters(memory_gib="1000.."), "the filters select no GPU"),
])
def test_bad_filters_are_errors(kb, flt, message):
    with pytest.raises(AdvisorError, match=re.escape(message)):
        select(kb, flt)


@pytest.mark.parametrize("args, message", [
    (["--models", "nope"], "unknown model 'nope'"),
    (["--gpus", "[x"], "bad glob"),
    (["--memory", "9..1"], "bad range"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--context", "0"], "--context must be at least 1"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    r = run("generate", "--out", str(out), *args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.output
    assert not out.exists()


def test_cli_out_that_is_a_file_exits_2(tmp_path):
    f = tmp_path / "file"
    f.write_text("mine")
    for out in (f, f / "sub"):
        r = run("generate", "--out", str(out), "-m", "llama-3.1-8b")
        assert r.exit_code == 2 and "is a file, not a folder" in r.output and len(r.output.splitlines()) == 1
    assert f.read_text() == "mine" and os.listdir(tmp_path) == ["file"]


def test_cli_summary_and_rerun(tmp_path):
    args = ["generate", "--out", str(tmp_path), "-m", "llama-3.1-8b", "-g", "rtx-4090,h200", "-j", "1"]
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert "24 pages in" in r.output and "24 written, 0 unchanged, 0 failed; index written" in r.output
    r = run(*args)
    assert "0 written, 24 unchanged, 0 failed; index unchanged" in r.output


def test_failed_pages_are_reported_with_reasons_and_the_rest_written(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "verdict-tight.yaml").write_text(
        "id: verdict-tight\npriority: 0\ndoc: {advises: a, why: b, example: c}\n"
        "when:\n  - headroom_bytes >= 0\n  - model_parameters > 10000000000\nthen:\n  verdict: tight\n")
    out = tmp_path / "out"
    r = run("generate", "--out", str(out), "-m", "llama-3.1-8b,llama-3.1-70b", "-g", "h200",
            "-p", "fp16", "--rules", str(rules), "-j", "1")
    assert r.exit_code == 2, r.output
    assert "1 written, 0 unchanged, 1 failed" in r.output
    assert "failed: llama-3.1-70b/h200__fp16.md: the rulebook gave 2 verdicts" in r.output
    index = (out / "index.md").read_text()
    assert "failed: the rulebook gave 2 verdicts" in index and not (out / "llama-3.1-70b").exists()


def test_file_names_are_safe_whatever_the_ids_hold(kb, rules, tmp_path):
    m8 = kb.model("llama-3.1-8b")
    weird_models = [
        replace(m8, id="meta-llama/Llama-3.1-8B", name="Slash <b>|x|</b>", aliases=[], siblings=[]),
        replace(m8, id="../../escape", name="Dots", aliases=[], siblings=[]),
        replace(m8, id="modèle-ünïcode-模型", name="Unicode 模型", aliases=[], siblings=[]),
        replace(m8, id="index", name="Index", aliases=[], siblings=[]),
    ]
    g = kb.gpu("h100-80gb")
    weird_gpus = [replace(g, id=".hidden/gpu..x", name="Hidden", aliases=[]),
                  replace(g, id="GPU With Spaces", name="Spaces & <i>", aliases=[])]
    wkb = kb_of(weird_models, weird_gpus)
    out = tmp_path / "out"
    for fmt, ext in (("markdown", "md"), ("html", "html")):
        s = generate(wkb, rules, out, Filters(precisions=("fp16",)), fmt=fmt)
        assert s.total == 8 and not s.failed, s.failed
    names = tree(out)
    pages = sorted(n for n in names if "/" in n)
    assert len(pages) == 16 and not (tmp_path / "escape").exists()
    for n in pages:
        d, f = n.split("/")
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", d) and ".." not in d, n
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*__fp16\.(md|html)", f), n
    assert len({n.split("/")[0] for n in pages}) == 4
    html = (out / "index.html").read_text()
    assert "Slash &lt;b&gt;|x|&lt;/b&gt;" in html and "<b>" not in html and "Spaces &amp; &lt;i&gt;" in html
    md = (out / "index.md").read_text()
    assert r"Slash \<b\>\|x\|\</b\>" in md


class _Checker(HTMLParser):
    VOID = {"meta", "link", "br", "hr", "img", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_html_site_is_well_formed_and_linked(kb, rules, tmp_path):
    s = generate(kb, rules, tmp_path, SMALL, fmt="html")
    t = tree(tmp_path)
    assert "index.html" in t and "style.css" in t and not any(n.endswith(".md") for n in t)
    for name, data in t.items():
        if not name.endswith(".html"):
            continue
        c = _Checker()
        c.feed(data.decode())
        assert not c.errors and not c.stack, (name, c.errors, c.stack)
        for link in c.links:
            assert (tmp_path / Path(name).parent / link).resolve().is_file(), (name, link)
    page = t["llama-3.1-70b/rtx-4090__fp16.html"].decode()
    assert "<h1>Llama 3.1 70B on NVIDIA GeForce RTX 4090</h1>" in page and "<table>" in page
    assert "<strong>Verdict: does not fit.</strong>" in page and "**" not in page
    # list.html links every page; the index's grid one page a (model, GPU) pair, and the list
    assert len(re.findall(r'href="[^"]+\.html"', t["list.html"].decode())) == s.total + 1
    pairs = {(m, g) for m in SMALL.models for g in SMALL.gpus}
    assert len(re.findall(r'<td class="cell [^"]*"[^>]*><a href="[^"]+\.html"',
                          t["index.html"].decode())) == len(pairs)


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_reaches_the_total(kb, rules, tmp_path, jobs, monkeypatch):
    monkeypatch.setattr("advisor.bulk.workers.PAGES_PER_WORKER", 5)
    seen = []
    s = generate(kb, rules, tmp_path, SMALL, jobs=jobs, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, s.total) and seen[-1] == (s.total, s.total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_a_second_run_on_the_same_folder_is_refused(kb, rules, tmp_path):
    import fcntl

    generate(kb, rules, tmp_path, SMALL)
    fd = os.open(tmp_path / files.LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(AdvisorError, match="another advisor generate is writing to"):
            generate(kb, rules, tmp_path, SMALL)
    finally:
        os.close(fd)


def test_small_runs_start_no_more_workers_than_they_need(kb, rules, tmp_path, monkeypatch):
    import multiprocessing

    started = []
    real = multiprocessing.get_context

    def spy(method=None):
        ctx = real(method)
        started.append(method)
        return ctx

    monkeypatch.setattr("advisor.bulk.workers.mp.get_context", spy)
    generate(kb, rules, tmp_path, SMALL, jobs=8)   # 18 pages: in this process
    assert started == []


def test_a_worker_that_dies_fails_its_chunk_and_the_rest_goes_on():
    import queue as q

    from advisor.bulk.pages import Outcome, Page
    from advisor.bulk.workers import _collect

    class Proc:
        def __init__(self, exitcode):
            self.exitcode = exitcode

    pages = [Page(i, "m", "g", "fp16", f"m/g{i}.md") for i in range(4)]
    chunks = {0: pages[:2], 1: pages[2:]}
    results = q.Queue()
    results.put(("taken", 0, 0, None))   # worker 0 takes chunk 0 and dies with SIGSEGV
    results.put(("taken", 1, 1, None))
    results.put(("done", 1, 1, [Outcome(2, "written", "fits"), Outcome(3, "written", "fits")]))
    outcomes, reports = {}, []
    _collect([Proc(-11), Proc(0)], chunks, results, outcomes, lambda d, t: reports.append(d), 4)
    assert [outcomes[i].status for i in range(4)] == ["failed", "failed", "written", "written"]
    assert outcomes[0].reason == "worker process died (signal SIGSEGV)"
    assert reports[-1] == 4


def test_default_context_is_capped_at_each_model_maximum(kb, rules, advisor, tmp_path):
    m = kb.model("llama-3.1-8b")
    short = replace(m, architecture=replace(m.architecture, max_context=4096),
                    id="short-8b", name="Short 8B", aliases=[], siblings=[])
    skb = kb_of([short], [kb.gpu("h200")])
    s = generate(skb, rules, tmp_path, Filters(precisions=("fp16",)), defaults=frozenset({"context"}))
    assert not s.failed
    page = (tmp_path / "short-8b" / "h200__fp16.md").read_text()
    assert "a context of 4,096 tokens (the default)" in page
    assert ("(or a model's maximum, if shorter; a reasoning model's: one that holds the output its "
            "publisher recommends)") in (tmp_path / "index.md").read_text()


# --- where generate writes, and what it replaces (issue 14) ---------------------------------

@pytest.mark.parametrize("where", ["root", "root-by-link", "home", "above-home"])
def test_out_never_the_root_or_home_even_with_force(tmp_path, monkeypatch, where):
    from advisor.bulk.generate import check_out

    home = tmp_path / "users" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (tmp_path / "to-root").symlink_to("/")
    out = {"root": Path("/"), "root-by-link": tmp_path / "to-root", "home": home,
           "above-home": tmp_path / "users"}[where]
    for force in (False, True):
        with pytest.raises(AdvisorError, match="root of the file system|home folder"):
            check_out(out, force)


def test_cli_refuses_an_empty_out_and_the_home_folder(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for out, message in (("", "--out is empty"), (str(home), "is your home folder"),
                         ("~", "the shell did not expand"), ("~/out", "the shell did not expand")):
        r = run("generate", "--out", out, "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16")
        assert r.exit_code == 2 and len(r.output.splitlines()) == 1 and message in r.output, r.output
    assert sorted(os.listdir(tmp_path)) == ["home"] and os.listdir(home) == []


def test_a_folder_of_someone_elses_files_needs_force_and_keeps_them(tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    (out / f".notes.md.1.abcd0123{files.TEMP_SUFFIX}").write_text("looks like a temp file")
    args = ["generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16"]
    r = run(*args)
    assert r.exit_code == 2 and "did not write" in r.output and "--force" in r.output
    assert sorted(os.listdir(out)) == [f".notes.md.1.abcd0123{files.TEMP_SUFFIX}", "notes.md"]
    r = run(*args, "--force")
    assert r.exit_code == 0, r.output
    assert (out / "notes.md").read_text() == "mine" and (out / "index.md").exists()
    r = run(*args)   # now it carries generate's marker: no --force needed
    assert r.exit_code == 0 and "0 failed; index unchanged" in r.output


def test_an_empty_or_new_folder_needs_no_force(tmp_path):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        r = run("generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16")
        assert r.exit_code == 0, r.output


def _failing_rules(tmp_path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "verdict-tight.yaml").write_text(   # two verdicts for every question: every page fails
        "id: verdict-tight\npriority: 0\ndoc: {advises: a, why: b, example: c}\n"
        "when:\n  - headroom_bytes > -1000000000000000\nthen:\n  verdict: tight\n")
    return rules


def test_a_failed_run_never_replaces_a_complete_index(tmp_path):
    out = tmp_path / "out"
    args = ["generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090,h200", "-p", "fp16"]
    assert run(*args).exit_code == 0
    good = (out / "index.md").read_bytes()
    r = run(*args, "--rules", str(_failing_rules(tmp_path)))
    assert r.exit_code == 2 and "2 failed; index kept (pages failed)" in r.output, r.output
    assert (out / "index.md").read_bytes() == good
    assert run(*args).exit_code == 0 and (out / "index.md").read_bytes() == good


def test_a_failed_run_may_replace_an_index_that_was_already_partial(tmp_path):
    out = tmp_path / "out"
    args = ["generate", "--out", str(out), "-m", "llama-3.1-8b", "-g", "rtx-4090", "-p", "fp16",
            "--rules", str(_failing_rules(tmp_path))]
    r = run(*args)
    assert r.exit_code == 2 and "index written" in r.output   # no index before: this one says why
    assert "failed" in (out / "index.md").read_text()
    r = run(*args[:-2])
    assert r.exit_code == 0 and "index written" in r.output
    assert "failed" not in (out / "index.md").read_text()
