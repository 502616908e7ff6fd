"""Which models, GPUs and precisions a bulk run covers.

Each list filter takes items, comma-separated or repeated: an item with a glob character
(`*`, `?`, `[...]`) matches ids, case-insensitively, and must match at least one; any other
item is an id, name or alias and must be known. Families and vendors work the same way.
Ranges are `LO..HI` with either end optional (`24..80`, `48..`, `..24`) or one number.
Every filter is checked before anything is written; a bad one is an AdvisorError.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from advisor.errors import AdvisorError, closest
from advisor.kb.schema import GPU, Model
from advisor.kb.store import KnowledgeBase
from advisor.limits import short
from advisor.sizing import constants as c
from advisor.sizing.precision import Precision, all_precisions, parse_precision
from advisor.sizing.tensors import parameter_count

VENDORS = ("nvidia", "amd", "apple", "intel")
_GLOB_CHARS = set("*?[")
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE_RE = re.compile(rf"^\s*({_NUMBER})?\s*\.\.\s*({_NUMBER})?\s*$")
_ONE_RE = re.compile(rf"^\s*({_NUMBER})\s*$")


# Without --precisions: 16- and 32-bit, FP8, the 8- and 4-bit checkpoint formats and the GGUF
# types most downloaded (each step of the quantize ladder); `--precisions '*'` takes all of them.
DEFAULT_PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8", "int4", "Q8_0", "Q6_K", "Q5_K_M",
                      "Q4_K_M", "Q3_K_M", "Q2_K")


@dataclass(frozen=True)
class Filters:
    models: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ()
    families: tuple[str, ...] = ()      # model families
    vendors: tuple[str, ...] = ()       # GPU vendors
    memory_gib: str | None = None       # GPU memory range, GiB a card
    params_b: str | None = None         # model size range, billions of parameters


@dataclass(frozen=True)
class Selection:
    models: tuple[Model, ...]
    gpus: tuple[GPU, ...]
    precisions: tuple[Precision, ...]

    def __len__(self) -> int:
        return len(self.models) * len(self.gpus) * len(self.precisions)


def _one_gpu(kb: KnowledgeBase, item: str) -> str:
    """A --gpus item's KB id; a counted item (2x rtx-3090, explain's GPU sets) is named as such."""
    from advisor.hardware.gpuset import is_set

    try:
        return kb.gpu(item).id
    except AdvisorError:
        if is_set(item):
            raise AdvisorError(f"--gpus {short(item)}: generate takes GPU ids or globs, each card "
                               "alone; the count of each goes in --gpu-count (a set of unequal "
                               "cards is asked with advisor fit 'rtx-3090,2x rtx-3060-12gb', or "
                               "model by model with advisor explain MODEL 'rtx-3090,2x rtx-3060-12gb')"
                               ) from None
        raise


def split_items(values: tuple[str, ...] | list[str], option: str, whole=None) -> list[str]:
    """The comma-separated items of an option's values; whole(value): a value that is one key
    as written (a KB name with a comma, `NVIDIA DGX Spark (GB10, 128 GB)`) is one item."""
    items = []
    for value in values:
        if whole is not None and "," in value and whole(value.strip()):
            items.append(value.strip())
            continue
        for item in value.split(","):
            item = item.strip()
            if not item:
                raise AdvisorError(f"{option}: empty item in '{value}'")
            items.append(item)
    return items


def _is_glob(item: str) -> bool:
    if not _GLOB_CHARS & set(item):
        return False
    depth = 0
    for ch in item:
        if ch == "[":
            if depth:
                raise AdvisorError(f"bad glob '{item}': '[' inside '[...]'")
            depth = 1
        elif ch == "]" and depth:
            depth = 0
    if depth:
        raise AdvisorError(f"bad glob '{item}': '[' without a closing ']'")
    return True


def _glob(item: str, names: list[str], what: str, option: str) -> set[str]:
    hits = {n for n in names if fnmatch.fnmatchcase(n.lower(), item.lower())}
    if not hits:
        raise AdvisorError(f"{option} '{item}' matches no {what}")
    return hits


def _pick(items: list[str], names: list[str], lookup, what: str, option: str) -> set[str] | None:
    """Ids picked by items (None: no filter). lookup(item) returns an id or raises."""
    if not items:
        return None
    picked: set[str] = set()
    for item in items:
        picked |= _glob(item, names, what, option) if _is_glob(item) else {lookup(item)}
    return picked


def _known(item: str, names: list[str], what: str, option: str) -> str:
    for n in names:
        if n.lower() == item.lower():
            return n
    near = closest(item, names)
    hint = f"; closest known: {', '.join(near)}" if near else f"; known: {', '.join(names)}"
    raise AdvisorError(f"{option}: unknown {what} '{item}'{hint}")


def parse_range(text: str, option: str) -> tuple[float | None, float | None]:
    one = _ONE_RE.match(text)
    if one:
        v = float(one.group(1))
        return v, v
    m = _RANGE_RE.match(text)
    if not m or (m.group(1) is None and m.group(2) is None):
        raise AdvisorError(f"{option}: bad range '{text}' (use LO..HI, LO.., ..HI or a number)")
    lo = float(m.group(1)) if m.group(1) is not None else None
    hi = float(m.group(2)) if m.group(2) is not None else None
    if lo is not None and hi is not None and lo > hi:
        raise AdvisorError(f"{option}: bad range '{text}': {m.group(1)} is above {m.group(2)}")
    return lo, hi


def _in_range(value: float, bounds: tuple[float | None, float | None]) -> bool:
    lo, hi = bounds
    return (lo is None or value >= lo - 1e-9) and (hi is None or value <= hi + 1e-9)


def select(kb: KnowledgeBase, f: Filters) -> Selection:
    models, gpus = kb.all_models(), kb.all_gpus()
    model_ids, gpu_ids = [m.id for m in models], [g.id for g in gpus]

    picked = _pick(split_items(f.models, "--models", lambda v: kb.models.find(v) is not None),
                   model_ids, lambda k: kb.model(k).id, "model", "--models")
    families = sorted({m.family for m in models})
    fams = _pick(split_items(f.families, "--families"), families,
                 lambda k: _known(k, families, "family", "--families"), "family", "--families")
    params = parse_range(f.params_b, "--params") if f.params_b else None
    models = [m for m in models
              if (picked is None or m.id in picked) and (fams is None or m.family in fams)
              and (params is None or _in_range(parameter_count(m.architecture) / 1e9, params))]

    picked = _pick(split_items(f.gpus, "--gpus", lambda v: kb.gpus.find(v) is not None),
                   gpu_ids, lambda k: _one_gpu(kb, k),
                   "GPU", "--gpus")
    vendors = _pick(split_items(f.vendors, "--vendors"), list(VENDORS),
                    lambda k: _known(k, list(VENDORS), "vendor", "--vendors"), "vendor", "--vendors")
    memory = parse_range(f.memory_gib, "--memory") if f.memory_gib else None
    gpus = [g for g in gpus
            if (picked is None or g.id in picked) and (vendors is None or g.vendor in vendors)
            and (memory is None or _in_range(g.memory_bytes / c.GIB, memory))]

    names = [p.name for p in all_precisions()]
    picked = _pick(split_items(f.precisions, "--precisions"), names,
                   lambda k: parse_precision(k).name, "precision", "--precisions")
    if picked is None:  # the formats people download, not every llama.cpp and checkpoint type
        picked = set(DEFAULT_PRECISIONS)
    precisions = [p for p in all_precisions() if p.name in picked]
    other = [g.id for g in gpus if g.vendor != "apple"]
    if other and any(p.family == "mlx" for p in precisions):
        # explain refuses MLX's formats off Apple silicon: one named is an error, ones a glob
        # matched are left out
        named = [q.name for q in all_precisions() if q.family == "mlx" and any(
            item.strip().lower() == q.name.lower() for item in split_items(f.precisions, "--precisions"))]
        if named:
            raise AdvisorError(f"--precisions {named[0]}: MLX's formats run on Apple GPUs only, and "
                               f"the selection holds {other[0]}: add --vendors apple")
        precisions = [p for p in precisions if p.family != "mlx"]

    sel = Selection(tuple(models), tuple(gpus), tuple(precisions))
    if not len(sel):
        empty = [w for w, xs in (("model", models), ("GPU", gpus), ("precision", precisions)) if not xs]
        raise AdvisorError(f"the filters select no {' and no '.join(empty)}: nothing to do")
    return sel
