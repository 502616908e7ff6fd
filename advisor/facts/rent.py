"""Facts about renting: the KB GPUs that run the question as asked, cheapest first where the KB
has a price (GPU price_usd_per_hour, read on price_date from the source the entry names), else
smallest memory first; and the smallest set of cards when no single card holds it."""
from __future__ import annotations

from advisor.sizing import constants as c

from advisor.facts.question import Question
from advisor.kb.schema import GPU
from advisor.kb.store import KnowledgeBase
from advisor.sizing.plan import Placement, min_gpus, place

FACTS: dict[str, tuple[str, str]] = {
    "rent_gpu_id": ("str", "the KB GPU to rent: the cheapest single card that runs it as asked "
                           "(smallest where no price is known), else the cheapest or smallest set"),
    "rent_gpu_name": ("str", "its name"),
    "rent_gpu_count": ("int", "how many of them"),
    "rent_memory_bytes": ("int", "memory of one of them"),
    "rent_headroom_bytes": ("int", "headroom on that set"),
    "rent_decode_tokens_per_s": ("float", "decode speed on that set"),
    "rent_single_gpu_options": ("str", "every other KB GPU that runs it on one card, cheapest "
                                       "first, with its price where the KB has one"),
    "rent_price_summary": ("str", "the set's price an hour, with date and source, or that the KB "
                                  "has none"),
}
TOGETHER = [set(FACTS)]


def _price_source(g: GPU) -> str:
    return next((s.source for s in g.sources if "price_usd_per_hour" in s.fields), "its KB entry")


def _cost_key(g: GPU, n: int) -> tuple:
    """Priced sets first, cheapest first; then unpriced by total memory; ids break ties."""
    if g.price_usd_per_hour is not None:
        return (0, g.price_usd_per_hour * n, n * g.memory_bytes, g.id)
    return (1, 0.0, n * g.memory_bytes, g.id)


def scales_across_nodes(g: GPU) -> bool:
    """Sets of more than one node are offered only on cards built into multi-node clusters: SXM/OAM
    parts with an NVLink or Infinity Fabric switch fabric (not a 2-card bridge, not Grace's C2C)
    and Gaudi's on-chip RoCE. Clouds rent PCIe and consumer cards by the box, not as clusters."""
    link = (g.interconnect or "").lower()
    if "bridge" in link:
        return False
    return ("nvlink" in link and "c2c" not in link) or "infinity fabric" in link or "roce" in link


def rent_options(kb: KnowledgeBase, q: Question) -> tuple[list[GPU], tuple[GPU, int] | None]:
    """(single cards that fit, cheapest first; the cheapest set of any size)"""
    sets = []
    for g in kb.all_gpus():
        if not g.rentable:
            continue  # unified-memory Macs are bought, not rented by the hour
        n = min_gpus(q.model, g, q.precision, q.work)
        if n is not None and (n <= c.GPUS_PER_NODE or scales_across_nodes(g)):
            sets.append((_cost_key(g, n), g, n))
    sets.sort(key=lambda t: t[0])
    singles = [g for _, g, n in sets if n == 1]
    best = (sets[0][1], sets[0][2]) if sets else None
    return singles, best


def price_summary(g: GPU, n: int) -> str:
    if g.price_usd_per_hour is None:
        return f"the knowledge base has no price for the {g.name}"
    total = g.price_usd_per_hour * n
    each = f" (${g.price_usd_per_hour:,.2f} a card)" if n > 1 else ""
    return (f"about ${total:,.2f} an hour{each}, on-demand, as read on {g.price_date} "
            f"from {_price_source(g)}")


def _label(g: GPU) -> str:
    return f"{g.id} (${g.price_usd_per_hour:,.2f}/h)" if g.price_usd_per_hour is not None else g.id


def contribute(q: Question, pl: Placement, f: dict) -> None:
    if pl.fits:
        return
    singles, best = rent_options(q.kb, q)
    if best is None:
        return
    others = [g for g in singles if g.id != q.gpu.id]
    g, n = (others[0], 1) if others else best
    if g.id == q.gpu.id and n <= q.gpus:
        return  # the card asked for already runs it with that many
    rpl = place(q.model, g, q.precision, q.work, n)
    f.update(rent_gpu_id=g.id, rent_gpu_name=g.name, rent_gpu_count=n,
             rent_memory_bytes=g.memory_bytes, rent_headroom_bytes=rpl.headroom_bytes,
             rent_decode_tokens_per_s=round(rpl.decode_tokens_per_s(), 2),
             rent_single_gpu_options=", ".join(_label(x) for x in others if x.id != g.id),
             rent_price_summary=price_summary(g, n))
