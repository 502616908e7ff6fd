"""One page of a bulk run: explain, render, write if changed; and the page's index row.

A PageMaker holds one Advisor (so one rules engine) and lives in one process.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from advisor.advise import Advisor
from advisor.bulk import files, site
from advisor.bulk.inverse import context_for
from advisor.render import plan_line
from advisor.errors import AdvisorError
from advisor.kb.store import KnowledgeBase
from advisor.render import render_markdown
from advisor.rules.spec import RuleSpec
from advisor.sizing.workload import Workload

WRITTEN, UNCHANGED, FAILED = "written", "unchanged", "failed"


@dataclass(frozen=True)
class Settings:
    out: Path
    fmt: str                  # markdown | html
    context_tokens: int
    batch: int
    gpu_count: int
    defaults: frozenset       # options the user left at their default, stated in each page
    objective: object = None  # the plans' Objective (None: load_objective_file's)


@dataclass(frozen=True)
class Page:
    number: int               # position in the run's plan
    model_id: str
    gpu_id: str
    precision: str
    relpath: str              # posix path under Settings.out


@dataclass(frozen=True)
class Outcome:
    number: int
    status: str               # written | unchanged | failed
    verdict: str | None = None
    what_to_do: str | None = None      # the plan of "What to do", in one line
    decode_tokens_per_s: float | None = None
    reason: str | None = None
    plan: "site.PlanCell | None" = None  # the recommended plan, for the site's grid


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(exc, AdvisorError) else f"{type(exc).__name__}: {first}".rstrip(": ")


class PageMaker:
    def __init__(self, kb: KnowledgeBase, rules: list[RuleSpec], settings: Settings):
        self.kb = kb
        self.advisor = Advisor(kb, rules, settings.objective)
        self.settings = settings
        self.work = Workload(settings.context_tokens, settings.batch)
        self.cap_context = "context" in settings.defaults
        self._folders: set[Path] = set()

    def _work(self, model) -> Workload:
        """The default context is capped at the model's maximum, as explain does."""
        return context_for(model, self.work, self.cap_context) or self.work

    def text(self, page: Page):
        s = self.settings
        context = self._work(self.kb.model(page.model_id)).context_tokens
        # a defaulted context is left to explain (the same default, capped the same way), so
        # that plans treat it as explain's own default rather than as the user's choice
        adv = self.advisor.explain(page.model_id, page.gpu_id, page.precision,
                                   None if self.cap_context else context,
                                   s.batch, s.gpu_count, every_path=False)  # a page shows the offered plans
        md = render_markdown(adv, s.defaults)
        if s.fmt == "html":
            depth = page.relpath.count("/")
            title = site.plain(md.splitlines()[0].lstrip("#").strip())
            pl = adv.situation.placement
            figure = site.memory_figure(pl.weights_bytes, pl.kv_cache_bytes, pl.overhead_bytes,
                                        pl.available_bytes)
            return adv, site.page_html(md, f"{title} at {page.precision}", "../" * depth, figure)
        return adv, md

    def make(self, page: Page) -> Outcome:
        try:
            adv, text = self.text(page)
            path = self.settings.out / page.relpath
            if path.parent not in self._folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                files.check_entry(path.parent, "folder")  # made, or a link put there since
                self._folders.add(path.parent)
            written = files.write_if_changed(path, text.encode("utf-8"))
            # the speed as asked; none where it cannot run (a runtime that does not start has no
            # speed, as explain's Speed section and JSON throughput say)
            speed = (None if adv.verdict == "cannot-run"
                     else adv.situation.facts.get("decode_tokens_per_s"))
            return Outcome(page.number, WRITTEN if written else UNCHANGED, adv.verdict,
                           plan_line(adv.plan) if adv.plan else None, speed,
                           plan=site.PlanCell.of(adv.plan, adv.situation) if self.settings.fmt == "html" else None)
        except Exception as exc:  # one bad page is reported, the run goes on
            return Outcome(page.number, FAILED, reason=_reason(exc))
