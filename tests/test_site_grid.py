"""The HTML site of `advisor generate --format html`: the model x GPU grid, its filters (in a
real headless Chromium where one is installed), list.html and the memory picture of each page."""
import json
import re
import shutil
import subprocess

import pytest

from advisor.bulk import site
from advisor.bulk.generate import generate
from advisor.bulk.select import Filters

FILTERS = Filters(models=("llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b"),
                  gpus=("rtx-4090", "h100-80gb", "rx-7900-xtx"), precisions=("bf16", "Q4_K_M"))


@pytest.fixture(scope="module")
def rules():
    from advisor.advise import load_rulebook
    return load_rulebook()


@pytest.fixture(scope="module")
def built(kb, rules, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    s = generate(kb, rules, out, FILTERS, fmt="html")
    assert not s.failed, s.failed
    return out


def _row(model, gpu, precision, verdict="fits", plan=None, href="x.html"):
    return site.IndexRow(model, gpu, precision, href, verdict, None, None, None, model, gpu, plan)


def test_grid_shows_the_published_precision_and_keeps_the_others():
    models = [site.GridModel("small", "Small", "f", 10, "bf16"),
              site.GridModel("big", "Big", "f", 100, "fp8")]
    gpus = [site.GridGpu("b", "B", "nvidia", 80), site.GridGpu("a", "A", "amd", 24)]
    rows = [_row("small", "a", "Q4_K_M"), _row("small", "a", "bf16"),
            _row("big", "a", "bf16", "does-not-fit"), _row("big", "b", "fp8")]
    g = site.build_grid(rows, models, gpus)
    assert [m.id for m in g.models] == ["big", "small"]        # largest first
    assert [x.id for x in g.gpus] == ["a", "b"]                # least memory first
    shown, others = g.cell("small", "a")
    assert shown.precision == "bf16" and [o.precision for o in others] == ["Q4_K_M"]
    assert g.cell("big", "a")[0].precision == "bf16"           # fp8 not generated there: the first
    assert g.cell("small", "b") is None
    assert g.families == ["f"] and g.vendors == ["amd", "nvidia"]


def test_index_is_a_grid_and_list_holds_every_page(built):
    index = (built / "index.html").read_text()
    rows = re.findall(r'<tr data-family="[^"]*" data-params="(\d+)"', index)
    assert len(rows) == 3 and [int(r) for r in rows] == sorted((int(r) for r in rows), reverse=True)
    assert len(re.findall(r'<th data-vendor=', index)) == 3
    cells = re.findall(r'<td class="cell ([a-z-]+)" data-verdict="([a-z-]+)"', index)
    assert len(cells) == 9
    assert {k for k, _ in cells} <= set(site.PLAN_CLASSES) | {"failed"}
    lst = (built / "list.html").read_text()
    assert len(re.findall(r'<a href="[^"]+/[^"]+\.html"', lst)) == 18
    assert (built / "site.js").is_file() and 'src="site.js"' in index


def test_cell_colour_follows_the_plan(built):
    """Llama 3.1 8B at bf16 fits an H100 (the page runs as asked); 70B at bf16 does not fit a
    4090 but has a plan on it (Q4_K_M with offload, or a smaller format): not 'as asked'."""
    index = (built / "index.html").read_text()

    def cell(model_name, gpu_col):
        row = re.search(rf'<tr [^>]*data-name="{re.escape(model_name)}">(.*?)</tr>', index).group(1)
        return re.findall(r'<td class="cell ([a-z-]+)"', row)[gpu_col]
    gpus = re.findall(r'<th data-vendor="[^"]+" data-memory="\d+" data-name="([^"]+)"', index)
    assert cell("Llama 3.1 8B", gpus.index("NVIDIA H100 80GB SXM")) == "as-asked"
    assert cell("Llama 3.1 70B", gpus.index("NVIDIA GeForce RTX 4090")) != "as-asked"


def test_memory_figure_is_proportional():
    svg = site.memory_figure(60 * 10**9, 20 * 10**9, 0, 100 * 10**9, width=500)
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="8" width="([\d.]+)"', svg)]
    assert widths == [300.0, 100.0, 0.0]
    assert 'x1="500.0"' in svg                  # the available line at the full width
    over = site.memory_figure(150 * 10**9, 0, 0, 100 * 10**9, width=300)
    assert 'width="300.0"' in over and 'x1="200.0"' in over   # past the line when it does not fit


def test_pages_carry_the_memory_picture(built):
    page = (built / "llama-3.1-70b" / "rtx-4090__bf16.html").read_text()
    assert page.index("<h2>Memory</h2>") < page.index("<figure class=\"memory\">") < page.index("<table>")


def _chromium():
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser",
                                                         "google-chrome")) if p), None)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (CI installs Debian's)")
def test_filters_narrow_the_grid_in_a_browser(built):
    """Headless Chromium loads the index with #selftest: site.js sets the vendor filter to the
    first vendor and the verdict filter to 'fits', then sorts GPUs by name; the page records
    the counts. No console error may be logged."""
    r = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--enable-logging=stderr", "--v=0", "--dump-dom",
                        (built / "index.html").as_uri() + "#selftest"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    errors = [line for line in r.stderr.splitlines()
              if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not errors, errors
    found = re.search(r'<output id="selftest"[^>]*>([^<]+)</output>', r.stdout)
    assert found, r.stdout[-2000:]
    got = json.loads(found.group(1).replace("&quot;", '"'))
    before, after = got["before"], got["after"]
    assert before == {"rows": 3, "cols": 3, "cells": 9}
    assert after["cols"] < before["cols"] and after["cells"] < before["cells"]
    assert got["sorted"] == after            # sorting moves cells, it does not change the filter
