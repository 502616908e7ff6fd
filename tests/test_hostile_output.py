"""Issue 14, output side: names from KB entries never become markup, every command reads the KB
and the rules one way, and answers that were wrong stay right."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.bulk_helpers import ROOT, run

EVIL_MODEL = "Evil\n# Heading\n<img src=x onerror=alert(1)> [x](javascript:alert(1)) | *b* _u_"
EVIL_GPU = "GPU\r\n- item\u2028<script>alert(1)</script>\u202e"


def _entry(src: Path, dst: Path, entry_id: str, name: str, empty: tuple) -> None:
    text = src.read_text(encoding="utf-8")
    text = re.sub(r"^id: .*$", f"id: {entry_id}", text, count=1, flags=re.M)
    text = re.sub(r"^name: .*$", lambda m: "name: " + json.dumps(name), text, count=1, flags=re.M)
    for key in empty:
        text = re.sub(rf"^{key}:.*$", f"{key}: []", text, count=1, flags=re.M)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def evil_kb(tmp_path_factory) -> Path:
    kb = tmp_path_factory.mktemp("evil-kb")
    _entry(ROOT / "kb/models/llama-3.1-8b.yaml", kb / "models/evil-model.yaml", "evil-model",
           EVIL_MODEL, ("aliases", "siblings"))
    _entry(ROOT / "kb/gpus/rtx-4090.yaml", kb / "gpus/evil-gpu.yaml", "evil-gpu", EVIL_GPU,
           ("aliases",))
    return kb


def _no_markup_from_names(markdown: str) -> None:
    for line in markdown.splitlines():
        assert not line.startswith(("# Heading", "- item", "<")), line
        assert not re.search(r"(?<!\\)<(img|script)", line), line
        assert not re.search(r"(?<!\\)\[x(?<!\\)\]\(", line), line
    assert "\u2028" not in markdown and "\u202e" not in markdown and "\r" not in markdown


@pytest.mark.parametrize("args", [
    (), ("--why",), ("--gpus", "2", "--precision", "fp8"), ("--context", "131072", "--batch", "64"),
    ("--precision", "awq", "--runtime", "llama.cpp"), ("--task", "finetune"),
], ids=["fits", "why", "fp8-2-cards", "does-not-fit", "cannot-run", "finetune"])
def test_names_in_advisories_are_text_not_markup(evil_kb, args):
    r = run("explain", "evil-model", "evil-gpu", "--kb", str(evil_kb), *args)
    assert r.exit_code == 0, r.output
    _no_markup_from_names(r.output)
    assert r.output.startswith("# ") and "Evil \\# Heading \\<img" in r.output.splitlines()[0]


def test_names_in_generated_pages_and_sites_are_text_not_markup(evil_kb, tmp_path):
    args = ["--kb", str(evil_kb), "-m", "evil-model,llama-3.1-8b", "-g", "evil-gpu,rtx-4090",
            "-p", "fp16,Q4_K_M"]
    assert run("generate", "--out", str(tmp_path / "md"), *args).exit_code == 0
    for page in (tmp_path / "md").rglob("*.md"):
        _no_markup_from_names(page.read_text(encoding="utf-8"))
    assert run("generate", "--out", str(tmp_path / "html"), "--format", "html", *args).exit_code == 0
    pages = list((tmp_path / "html").rglob("*.html"))
    assert len(pages) == 10    # 8 advisories, the grid index and list.html
    for page in pages:
        # the index's one script is the site's own file (site.js), never from a name
        text = page.read_text(encoding="utf-8").replace('<script src="site.js"></script>', "", 1)
        assert not re.search(r"<(img|script)|<h\d>Heading|<li>item|href=\"javascript", text), page
        assert "\\" not in text   # the markdown escapes are read back, not shown
    page = (tmp_path / "html" / "evil-model" / "evil-gpu__fp16.html").read_text(encoding="utf-8")
    assert ("<h1>Evil # Heading &lt;img src=x onerror=alert(1)&gt; [x](javascript:alert(1)) | *b* "
            "_u_ on GPU - item &lt;script&gt;alert(1)&lt;/script&gt;</h1>") in page


def test_md_text_round_trips_through_the_html_converter():
    from advisor.bulk.site import md_to_html
    from advisor.render import md_text

    name = "a*b* _c_ Q4_K_M `d` [e](f) <g> | # & \\ -"
    html = md_to_html(f"# {md_text(name)}\n\n| x | y |\n|---|---|\n| {md_text(name)} | 1 |\n")
    plain = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<h1>{plain}</h1>" in html and f"<td>{plain}</td><td>1</td>" in html
    assert md_text("Llama 3.1 8B") == "Llama 3.1 8B" and md_text("- x") == "\\- x"


# --- one resolution of --kb / $ADVISOR_KB and --rules / $ADVISOR_RULES -------------------------

@pytest.mark.parametrize("how", ["env", "option"])
def test_every_command_reads_the_same_kb(evil_kb, tmp_path, monkeypatch, how):
    extra = []
    if how == "env":
        monkeypatch.setenv("ADVISOR_KB", str(evil_kb))
    else:
        extra = ["--kb", str(evil_kb)]
    assert run("explain", "evil-model", "evil-gpu", *extra).exit_code == 0
    r = run("fit", "evil-gpu", "--format", "json", *extra)
    assert r.exit_code == 0 and "evil-model" in r.output, r.output
    r = run("gpus", "evil-model", "--format", "json", *extra)
    assert r.exit_code == 0 and "evil-gpu" in r.output, r.output
    r = run("generate", "--out", str(tmp_path / "out"), "-m", "evil-model", "-g", "evil-gpu",
            "-p", "fp16", *extra)
    assert r.exit_code == 0 and (tmp_path / "out" / "evil-model" / "evil-gpu__fp16.md").is_file()
    assert "evil-gpu" in run("kb", *extra, "list", "gpus").output


def test_every_command_reads_the_same_rules(tmp_path, monkeypatch):
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "oops.yaml").write_text("id: oops\nwhen: [nosuchfact > 1]\nthen: {verdict: fits}\n")
    monkeypatch.setenv("ADVISOR_RULES", str(broken))
    for args in (("explain", "llama-3.1-8b", "rtx-4090"), ("fit", "rtx-4090"),
                 ("gpus", "llama-3.1-8b"), ("rules", "check"),
                 ("generate", "--out", str(tmp_path / "out"), "-m", "llama-3.1-8b", "-g",
                  "rtx-4090", "-p", "fp16")):
        r = run(*args)
        assert r.exit_code == 2 and "oops.yaml" in r.output and "unknown fact" in r.output, args
    assert not (tmp_path / "out").exists()


# --- answers that were wrong -------------------------------------------------------------------

@pytest.fixture(scope="module")
def answers():
    from advisor.advise import Advisor, load_rulebook
    from advisor.kb import load_kb

    return Advisor(load_kb(), load_rulebook())


@pytest.mark.parametrize("gpus", [3, 5, 6, 7])
def test_tensor_parallel_size_divides_the_heads(answers, gpus):
    adv = answers.explain("llama-3.1-70b", "a100-80gb", gpus=gpus, runtime="vllm")
    heads = adv.situation.model.architecture.attention_heads
    plans = adv.to_json()["plans"]
    assert plans
    for plan in plans:
        assert heads % plan["tensor_parallel"] == 0, plan
        for tp in re.findall(r"--tensor-parallel-size (\d+)", plan["command"] or ""):
            assert heads % int(tp) == 0, plan["command"]


@pytest.mark.parametrize("model", ["llama-3.1-8b", "qwen2.5-7b", "gemma-2-9b"])
@pytest.mark.parametrize("runtime", [None, "vllm"])
def test_a_card_without_bf16_is_never_offered_bfloat16(answers, model, runtime):
    adv = answers.explain(model, "t4", runtime=runtime)
    for plan in adv.to_json()["plans"]:
        if plan["gpu_id"] == "t4":
            assert "bfloat16" not in (plan["command"] or ""), plan["command"]


def test_awq_under_llama_cpp_is_said_and_never_offered(answers):
    adv = answers.explain("llama-3.1-8b", "rtx-4090", "awq", runtime="llama.cpp")
    doc = adv.to_json()
    assert doc["verdict"] == "cannot-run" and "llama.cpp" in doc["cannot_run"]
    for plan in doc["plans"]:
        if plan.get("runtime") == "llama.cpp":
            assert plan["precision"] != "awq" and "awq" not in (plan.get("command") or "").lower()
