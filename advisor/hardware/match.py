"""From detected cards to the GPU set an advisory is for: KB matching, unknown cards, mixed sets.

Pure functions over a Detection (advisor.hardware.probe) and a KnowledgeBase; no I/O.

Matching a card to a KB GPU (match_card), first that holds:
1. a name lookup: the reported name, then the name without its vendor word ("NVIDIA GeForce
   RTX 3060" -> "GeForce RTX 3060"), then for Apple the chip with its memory ("Apple M2 Pro 16GB"),
   each as the KB looks up ids, names and aliases (any case; spaces, hyphens and underscores alike);
2. the card's family: the KB GPUs of the same vendor whose id, name or an alias equals the
   reported name once vendor words ("NVIDIA", "GeForce", "Radeon", "(R)", "Graphics" ...) and
   memory sizes ("16GB") are set aside ("RTX 4060 Ti" names both rtx-4060-ti-8gb and -16gb);
and in both, the KB entry's memory must agree with the reported memory within MEMORY_TOLERANCE
(tools report a little less than the nominal size: 24,564 MiB for a 24 GiB RTX 4090); among
several, the nearest in memory. A card whose memory is not reported matches by name alone, and
only where one KB entry is named.

A card that matches nothing is an unknown GPU (unknown_gpu): its name and memory as reported,
its architecture where the tool's figure gives one (compute capability, gfx target), its memory
bandwidth where the tool reports it, else assumed: the figure of the KB card most like it (same
vendor, same architecture where known, most name words shared, nearest in memory). Its TFLOPS
are left out, so no prefill speed is given for it; the Machine lists every assumption.

Several cards: identical ones (the same KB entry, or the same name and memory) form an N-GPU set.
Cards of different kinds are a mixed set, which a question without a GPU does not size as one:
the answer is for the largest identical group (the most memory in all, then the most cards, then
a card the KB holds), and a note says so and, when every card is a KB card of one vendor, how to
name the whole set (advisor.hardware.gpuset: rtx-3090,2x rtx-3060-12gb).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from advisor.errors import AdvisorError
from advisor.hardware.parse import DetectedCard
from advisor.hardware.probe import Detection
from advisor.kb.schema import GPU
from advisor.kb.store import KnowledgeBase, _lookup_key
from advisor.sizing.constants import DEFAULT_RAM_BANDWIDTH_GB_S

# Reported memory within this share of the KB entry's: the same card. Tools report 0.1-2% less
# than the nominal size (reserved memory), ECC on a GDDR6 card about 6% less; 8 GB and 16 GB
# variants of one name are 50% apart, 10 GB and 12 GB 17%.
MEMORY_TOLERANCE = 0.08
GIB = 1 << 30
_VENDOR_WORDS = {"nvidia", "amd", "intel", "apple", "geforce", "radeon", "r", "tm", "graphics",
                 "corporation"}
_MEMORY_WORD = re.compile(r"^[0-9]+(\.[0-9]+)?(gb|gib|g)\Z")


def _words(name: str) -> list[str]:
    """Lookup words of a name: lower case, "(R)"/"(TM)" and brackets dropped, "16 GB" as one word."""
    text = name.lower().replace("(r)", " ").replace("(tm)", " ")
    text = re.sub(r"([0-9])\s+(gb|gib)\b", r"\1\2", text)
    return _lookup_key(re.sub(r"[()\[\],/+]", " ", text)).split()


def _family(name: str) -> str:
    """The name without vendor words and memory sizes: the key of a card family."""
    return " ".join(w for w in _words(name) if w not in _VENDOR_WORDS and not _MEMORY_WORD.match(w))


def memory_agrees(reported: int | None, kb_bytes: int) -> bool:
    """Whether a reported memory size is that of a KB entry (within MEMORY_TOLERANCE); an
    unreported size agrees with any."""
    return reported is None or abs(reported - kb_bytes) <= MEMORY_TOLERANCE * kb_bytes


def _name_keys(card: DetectedCard) -> list[str]:
    keys = [card.name]
    words = card.name.split()
    if len(words) > 1 and words[0].lower() in _VENDOR_WORDS:
        keys.append(" ".join(words[1:]))
    cleaned = " ".join(w for w in _words(card.name) if w not in ("r", "tm", "graphics"))
    keys.append(cleaned)
    if card.vendor == "apple" and card.memory_bytes:
        keys.append(f"{card.name} {round(card.memory_bytes / GIB)}GB")
    return keys


def match_card(card: DetectedCard, kb: KnowledgeBase) -> GPU | None:
    """The KB GPU this card is (the rules in the module's docstring), or None."""
    for key in _name_keys(card):
        hit = kb.gpus.find(key)
        if hit is not None and hit.vendor == card.vendor and memory_agrees(card.memory_bytes, hit.memory_bytes):
            return hit
    family = _family(card.name)
    if not family:
        return None
    named = [g for g in kb.all_gpus() if g.vendor == card.vendor
             and any(_family(k) == family for k in (g.id, g.name, *g.aliases))]
    if card.memory_bytes is None:
        return named[0] if len(named) == 1 else None
    fits = [g for g in named if memory_agrees(card.memory_bytes, g.memory_bytes)]
    return min(fits, key=lambda g: (abs(g.memory_bytes - card.memory_bytes), g.id), default=None)


def _reference(card: DetectedCard, kb: KnowledgeBase) -> GPU | None:
    """The KB card most like an unknown one, whose figures stand in for the unknown ones: same
    vendor and kind (unified or not), same architecture where known; then the most name words
    shared, the nearest memory, the lower bandwidth."""
    pool = [g for g in kb.all_gpus() if g.vendor == card.vendor and g.unified_memory == card.unified]
    if card.architecture:
        pool = [g for g in pool if g.architecture == card.architecture] or pool
    if not pool:
        return None
    words = set(_family(card.name).split())

    def shared(g: GPU) -> int:
        return max(len(words & set(_family(k).split())) for k in (g.id, g.name, *g.aliases))

    memory = card.memory_bytes or 1
    return min(pool, key=lambda g: (-shared(g), abs(math.log(g.memory_bytes / memory)),
                                    g.bandwidth_gb_s, g.id))


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-.")
    return ("detected-" + slug)[:100].rstrip("-.") or "detected-gpu"


def unknown_gpu(card: DetectedCard, kb: KnowledgeBase) -> tuple[GPU, list[str]]:
    """A KB-like GPU for a card the KB does not hold, and the facts assumed for it (one phrase
    each). Raises AdvisorError when the card's memory is not reported (nothing to size with)."""
    from advisor.kb.validate import ValidationError, validate

    if card.memory_bytes is None:
        raise AdvisorError(f"detected {card.name} ({card.tool}), which the knowledge base does not "
                           f"hold and whose memory {card.tool} does not report: name a GPU")
    ref = _reference(card, kb)
    assumed = []
    facts = ["memory_bytes"]
    data = {"id": _slug(card.name), "name": card.name, "vendor": card.vendor,
            "architecture": card.architecture or "unknown", "memory_bytes": card.memory_bytes}
    if card.architecture:
        facts.append("architecture")
    else:
        assumed.append("architecture unknown (computes in FP16 only, as far as the plans assume)")
    if card.bandwidth_gb_s is not None:
        data["bandwidth_gb_s"] = card.bandwidth_gb_s
        facts.append("bandwidth_gb_s")
    else:
        bw = ref.bandwidth_gb_s if ref is not None else 100.0
        data["bandwidth_gb_s"] = bw
        assumed.append(f"memory bandwidth {bw:g} GB/s, the {ref.name}'s (the known card most like "
                       f"it): decode speeds rest on it" if ref is not None else
                       f"memory bandwidth {bw:g} GB/s (no known card of this vendor): decode "
                       f"speeds rest on it")
    if card.unified:
        share = ref.gpu_memory_share if ref is not None and ref.gpu_memory_share else 0.75
        data.update(unified_memory=True, gpu_memory_share=share)
        assumed.append(f"the GPU may use {share:.0%} of the unified memory, as on the "
                       f"{ref.name}" if ref is not None else f"the GPU may use {share:.0%} of the "
                       f"unified memory")
    assumed.append("compute throughput (TFLOPS) unknown: no prefill speed or time to first token")
    sources = [{"fields": facts, "source": f"{card.tool} on this machine"}]
    if card.bandwidth_gb_s is None or card.unified:
        sources.append({"fields": ["bandwidth_gb_s"] + (["gpu_memory_share"] if card.unified else []),
                        "source": f"assumed from {ref.id}" if ref is not None else "assumed by advisor"})
    if not card.architecture:  # no compute capability (nvidia-smi before driver 510) or gfx target
        sources.append({"fields": ["architecture"], "source": f"not reported by {card.tool}: "
                        "assumed unknown by advisor"})
    data["sources"] = sources
    try:
        return validate(GPU, data), assumed
    except ValidationError as exc:  # a reported figure outside the KB's bounds
        raise AdvisorError(f"detected {card.name} ({card.tool}) cannot be sized: "
                           f"{exc.errors()[0]['msg']}; name a GPU") from None


@dataclass
class Machine:
    """The GPU set an advisory is for, from a Detection: `count` cards of `gpu` (a KB entry, or
    an unknown card described from what the tool reported when `known` is False), the facts
    assumed, notes (a mixed set), and the system RAM."""
    gpu: GPU
    count: int
    known: bool
    cards: list[tuple[DetectedCard, str | None]]   # every card detected, with its KB id or None
    assumed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ram_bytes: int | None = None
    ram_source: str | None = None
    ram_bandwidth_gb_s: float = DEFAULT_RAM_BANDWIDTH_GB_S
    problems: list[str] = field(default_factory=list)

    def set_words(self) -> str:
        return f"{self.count} × {self.gpu.name}" if self.count > 1 else self.gpu.name

    def to_json(self) -> dict:
        return {
            "cards": [{"name": c.name, "vendor": c.vendor, "memory_bytes": c.memory_bytes,
                       "tool": c.tool, "kb_id": kb_id or "unknown"} for c, kb_id in self.cards],
            "gpu": {"id": self.gpu.id, "name": self.gpu.name, "count": self.count,
                    "known": self.known, "memory_bytes": self.gpu.memory_bytes},
            "ram_bytes": self.ram_bytes, "ram_source": self.ram_source,
            "ram_bandwidth_gb_s": self.ram_bandwidth_gb_s,
            "assumed": self.assumed, "notes": self.notes, "problems": self.problems,
        }


NAME_A_GPU = "name one: advisor explain MODEL GPU (advisor kb list gpus lists them)"


def resolve(detection: Detection, kb: KnowledgeBase) -> Machine:
    """The Machine for a Detection. Raises AdvisorError, one line, when no card was detected
    (or none can be sized)."""
    if not detection.cards:
        tried = "; ".join(detection.problems) if detection.problems else \
            "none of nvidia-smi, amd-smi, rocm-smi, sysctl, xpu-smi, sycl-ls is on PATH"
        raise AdvisorError(f"no GPU detected on this machine ({tried}): {NAME_A_GPU}")
    matched = [(c, match_card(c, kb)) for c in detection.cards]
    groups: dict[tuple, list] = {}
    for card, hit in matched:
        key = ("kb", hit.id) if hit is not None else ("unknown", card.vendor, card.name, card.memory_bytes)
        groups.setdefault(key, []).append((card, hit))

    def size(item) -> tuple:  # the most memory in all (whole GiB), the most cards, a KB card
        key, members = item
        card, hit = members[0]
        memory = round((card.memory_bytes or (hit.memory_bytes if hit is not None else 0)) / GIB)
        return (-memory * len(members), -len(members), hit is None, str(key))

    ordered = sorted(groups.items(), key=size)
    key, members = ordered[0]
    card, hit = members[0]
    assumed: list[str] = []
    if hit is None:
        gpu, assumed = unknown_gpu(card, kb)
    else:
        gpu = hit
    notes = []
    if len(ordered) > 1:
        others = ", ".join(f"{len(m)} × {m[0][1].name if m[0][1] else m[0][0].name}" for _, m in ordered[1:])
        known = [h for _, h in matched]
        whole = ""
        if all(h is not None for h in known) and len({h.vendor for h in known}) == 1:
            from advisor.sizing.mixed import GpuSet

            whole = (f"; to size the whole set (llama.cpp splits the layers over unequal cards), "
                     f"name it: advisor explain MODEL {GpuSet(tuple(known)).spec()}")
        notes.append(f"mixed GPUs detected ({len(members)} × {gpu.name}; {others}); advisor sizes "
                     f"one kind of card at a time: answering for {len(members)} × {gpu.name}, "
                     f"the largest identical group; to ask about another, {NAME_A_GPU}{whole}")
    ram_assumed = (f"system RAM bandwidth {DEFAULT_RAM_BANDWIDTH_GB_S:g} GB/s (dual-channel "
                   "DDR5-4800; not readable here; --ram-bandwidth sets it)")
    if not gpu.unified_memory:
        assumed.append(ram_assumed)
    if detection.ram_bytes is None:
        assumed.append("system RAM 64 GiB (not readable here; --ram-gb sets it)")
    return Machine(gpu, len(members), hit is not None,
                   [(c, h.id if h is not None else None) for c, h in matched], assumed, notes,
                   detection.ram_bytes, detection.ram_source, problems=list(detection.problems))


def kb_with(kb: KnowledgeBase, gpu: GPU) -> KnowledgeBase:
    """The KB with `gpu` added to its GPUs (an unknown card detected on this machine), so that
    every command can name it by its id; the KB given is not changed."""
    if kb.gpus.by_id.get(gpu.id) is gpu:
        return kb
    index = replace(kb.gpus, by_id={**kb.gpus.by_id, gpu.id: gpu},
                    by_key={**kb.gpus.by_key, _lookup_key(gpu.id): gpu})
    return replace(kb, gpus=index)
