"""The GPU argument of `advisor explain MODEL GPU`: one card, or a set of cards.

Grammar (docs/hardware.md):

    set   := item ("," item)*
    item  := [count "x"] gpu        count: 1 .. MAX_GPUS; "x" or "×", spaces around it optional
    gpu   := a KB GPU id, name or alias (as `advisor kb list gpus` shows them)

so `rtx-3090`, `2x rtx-3090`, `2xrtx-3090`, `2 x rtx-3090`, `rtx-3090,rtx-3060-12gb,rtx-3060-12gb`
and `rtx-3090,2x rtx-3060-12gb` are all GPU arguments. The devices are in the order written (a
count repeats its card in place): that is the order llama.cpp's `-ts` lists them. A set of one
kind (`2x rtx-3090`, `rtx-3090,rtx-3090`) is the same question as `rtx-3090 --gpus 2`.
"""
from __future__ import annotations

import re

from advisor.errors import AdvisorError
from advisor.limits import MAX_GPUS, check_question, short
from advisor.sizing.mixed import GpuSet

_COUNTED = re.compile(r"^\s*([0-9]+)\s*[x×]\s*(\S.*?)\s*$", re.IGNORECASE)


def count_prefix(item: str) -> int | None:
    """The count an item of a GPU argument begins with (`2x rtx-3090`: 2), None when it has
    none; a count too long to be one is -1 (never in range)."""
    m = _COUNTED.match(str(item))
    if m is None:
        return None
    digits = m.group(1)
    return int(digits) if len(digits) <= len(str(MAX_GPUS)) + 2 else -1


def _known(kb, key: str) -> bool:
    """Whether `key` is a GPU id, name or alias of the KB as written: such a key is one card,
    whatever it looks like (AMD's `7900 XTX` begins with digits and an x; NVIDIA's `DGX Spark
    (GB10, 128 GB)` holds a comma). A KB key never reads as a count of cards from 1 to
    MAX_GPUS (advisor.kb.store refuses one), so a count is never shadowed."""
    index = getattr(kb, "gpus", None)
    return index is not None and index.find(str(key).strip()) is not None


def parse_gpu_arg(text: str, kb=None) -> list[tuple[str, int]]:
    """The (GPU key, count) items of a GPU argument, in order, the keys not yet looked up
    (with `kb`, an item that is a KB key as written is one card of it, count or no count).
    Raises AdvisorError, one line, on an empty item or a count out of range (no KB GPU key
    begins with a count from 1 to MAX_GPUS and an x: advisor.kb.store refuses one)."""
    if text is None or not str(text).strip():
        raise AdvisorError("the GPU is empty: give a KB id (rtx-4090), or a set such as "
                           "rtx-3090,2x rtx-3060-12gb")
    out = []
    for raw in str(text).split(","):
        item = raw.strip()
        if not item:
            raise AdvisorError(f"GPU set '{text.strip()}' has an empty item: write ids separated "
                               "by commas, such as rtx-3090,2x rtx-3060-12gb")
        m = None if _known(kb, item) else _COUNTED.match(item)
        if m:
            digits = m.group(1)
            # more digits than any count allowed: refused before int() (which refuses 4,300+)
            n = int(digits) if len(digits) <= len(str(MAX_GPUS)) + 2 else None
            if n is None or not 1 <= n <= MAX_GPUS:
                if kb is not None and not _known(kb, m.group(2)) and len(item) <= 100:
                    # no card after the "count": a name typed without its space (7900XTX) is
                    # an unknown GPU, named with the closest ids, not 7,900 cards of "TX"
                    kb.gpu(item)
                shown = digits if len(digits) <= 12 else f"a number of {len(digits):,} digits"
                raise AdvisorError(f"{short(item)}: a count must be from 1 to {MAX_GPUS}, not {shown}")
            out.append((m.group(2), n))
        else:
            out.append((item, 1))
    return out


def is_set(text: str, kb=None) -> bool:
    """Whether the GPU argument is written as a set (a list or a count), not one plain key;
    with `kb`, a KB GPU id, name or alias as written is one key (_known)."""
    if _known(kb, text):
        return False
    return "," in str(text) or bool(_COUNTED.match(str(text)))


def resolve_gpu_set(kb, text: str, gpus: int | None) -> GpuSet:
    """The GpuSet a GPU argument names, with --gpus N (None: not given). One plain key: N of it
    (1 when not given), as before sets existed. A set: --gpus must agree with its count when
    given. The total is bounded as --gpus is (advisor.limits.check_question). Raises
    AdvisorError, one line: an unknown key (named, with the closest known ids), a --gpus that
    disagrees, cards of different vendors, more than one unified-memory machine."""
    if not is_set(text, kb):
        g = kb.gpu(str(text).strip())
        n = 1 if gpus is None else gpus
        check_question(gpus=n)
        return GpuSet((g,) * n)
    items = parse_gpu_arg(text, kb)
    total = sum(n for _, n in items)
    check_question(gpus=total, gpus_flag=f"the GPU set's count ({total})")
    devices = []
    for key, n in items:
        g = kb.gpu(key)  # unknown: "unknown gpu 'KEY'; closest known: ..."
        devices += [g] * n
    if gpus is not None and gpus != total:
        raise AdvisorError(f"--gpus {gpus} disagrees with the GPU set '{str(text).strip()}', which "
                           f"has {total} card{'s' if total != 1 else ''}: leave --gpus out")
    gset = GpuSet(tuple(devices))
    vendors = sorted({g.vendor for g in devices})
    if len(vendors) > 1:
        raise AdvisorError(f"the GPU set mixes vendors ({', '.join(vendors)}): llama.cpp can join "
                           "them only over its RPC or Vulkan backends, which advisor does not size; "
                           "ask about one vendor's cards")
    unified = [g for g in devices if g.unified_memory]
    if unified and total > 1:
        raise AdvisorError(f"the GPU set includes the {unified[0].name}, a whole machine whose memory "
                           "is shared with its CPU: it joins no set of cards (splitting a model "
                           "across machines is not planned); ask about it alone")
    return gset
