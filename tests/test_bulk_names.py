"""File names (slugs) and HTML escaping hold for any text."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings, strategies as st

from advisor.bulk.site import md_to_html
from advisor.bulk.slugs import precision_slug, slug
from advisor.sizing.precision import all_precisions

SAFE = re.compile(r"[a-z0-9][a-z0-9.-]*")


@given(st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_any_id_gives_a_safe_name(ident):
    s = slug(ident)
    assert SAFE.fullmatch(s) and ".." not in s and not s.endswith((".", "-")) and "__" not in s
    assert len(s) <= 64 + 9
    assert s.split(".")[0] not in {"con", "nul", "aux", "prn", "index", "style"}


@given(st.lists(st.text(min_size=1, max_size=30), min_size=2, max_size=30, unique=True))
@settings(max_examples=200, deadline=None)
def test_different_ids_never_share_a_name(ids):
    assert len({slug(i) for i in ids}) == len(ids)


def test_examples():
    assert slug("llama-3.1-8b") == "llama-3.1-8b"
    assert slug("meta-llama/Llama-3.1-8B") == "meta-llama-llama-3.1-8b-69332380"
    assert slug("../../etc/passwd").startswith("etc-passwd-")
    assert slug("Ünïcödé 模型").startswith("unicode-")
    assert re.fullmatch(r"[0-9a-f]{8}", slug("模型")) and slug("模型") != slug("模型2")
    names = [precision_slug(p.name) for p in all_precisions()]
    assert len(set(names)) == len(names) and "q4-k-m" in names


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add((tag, tuple(attrs)))


ALLOWED = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "li", "table", "thead", "tbody", "tr",
           "th", "td", "strong", "em", "code"}


@given(st.lists(st.sampled_from(list("<>&\"'|*`#-/ \nabc=") + ["<script>", "**", "| --- |", "\n- "]),
                max_size=120).map("".join))
@settings(max_examples=400, deadline=None)
def test_markdown_to_html_escapes_every_piece_of_text(text):
    p = _Tags()
    p.feed(md_to_html(text))
    for tag, attrs in p.tags:
        assert tag in ALLOWED, tag
        assert attrs in ((), (("class", "num"),)), attrs
