"""What renting n cards costs: the cheapest on-demand price among the KB's provider prices
(advisor.kb.schema.Price) for that count, and the sentence that says where it was read."""
from __future__ import annotations

from advisor.kb.schema import GPU, Price
from advisor.render import usd


def price_note(p: Price) -> str:
    """Which price was used: per GPU-hour, the kind, the provider (and the node it rents, for a
    node-only offer), the date the page was read and its URL."""
    unit = ""
    if p.gpus > 1:
        what = "node" if p.gpus >= 8 else "machine"
        node = f"${usd(p.usd_per_hour)} a {what}-hour" if p.per == "unit" else "priced per GPU-hour"
        unit = f" (rented by the whole {p.gpus}-GPU {what}, {node})"
    return (f"${usd(p.usd_per_gpu_hour)} a GPU-hour {p.kind} from {p.provider}{unit}, "
            f"read {p.date} from {p.source}")


def rent_usd_per_hour(g: GPU, n: int) -> float | None:
    """rent_cost's USD an hour alone (the planner ranks hundreds of rented candidates and
    writes the note of one)."""
    p = g.on_demand_price(n)
    return None if p is None else round(p.usd_per_gpu_hour * n, 4)


def rent_cost(g: GPU, n: int) -> tuple[float | None, str | None]:
    """USD an hour for n rented cards at the cheapest on-demand price that rents n (to a hundredth of
    a cent: $0.047 is not rounded up to $0.05) and its note; (None, None) where no provider price rents n of them."""
    p = g.on_demand_price(n)
    if p is None:
        return None, None
    return round(p.usd_per_gpu_hour * n, 4), price_note(p)
