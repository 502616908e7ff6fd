"""Read a GGUF file's header: its metadata and the exact type, shape and bytes of every tensor.

The header is walked with bounded reads (every count and length is checked against the bytes
left in the file before anything is read or allocated; arrays longer than a few dozen items are
skipped, only their length kept), so a truncated, corrupt or hostile file fails with one clear
AdvisorError and bounded memory. The gguf package supplies the type and file-type names (it is
imported here only, so only this path pays for numpy). A split model (-00001-of-0000N.gguf) is
read whole: every part, tensors from all.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from advisor.errors import AdvisorError
from advisor.files import quote
from advisor.sizing.ggml_types import ggml_blocks
from advisor.sizing.inventory import TensorRecord

MAGIC = b"GGUF"
MAX_DIMS = 4                 # GGML_MAX_DIMS
MAX_KEY_BYTES = 1 << 16
MAX_STRING_BYTES = 1 << 20   # strings kept: a chat template is tens of KB; longer ones are skipped
KEEP_ARRAY_ITEMS = 64        # longer arrays (the tokenizer's) keep only their length, but:
KEEP_LAYER_ITEMS = 4096      # number arrays up to MAX_LAYERS items are kept (per-layer head counts
KEEP_ITEMS_BUDGET = 1 << 18  # of an 80-layer model), up to this many items in all
MAX_KV = 1 << 16             # real files hold tens of keys
MAX_TENSORS = 1 << 18        # Llama 3.1 405B holds 1,138 tensors; unmerged MoE experts tens of
                             # thousands
# Bytes of keys, names and values read into memory from one header: Llama 3.1 405B's is about
# 200 KB besides its tokenizer arrays (skipped, never read); unmerged MoE files hold a few MB.
MAX_HEADER_BYTES_READ = 64 << 20
SPLIT = re.compile(r"^(?P<stem>.*)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")

# value type id -> (struct format, size); 8 = string, 9 = array
_SCALAR = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
           6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}


@dataclass
class GGUFHeader:
    path: Path
    version: int
    metadata: dict = field(default_factory=dict)      # scalars, short arrays
    array_lengths: dict = field(default_factory=dict)  # key -> length, for every array
    tensors: list[TensorRecord] = field(default_factory=list)
    data_offset: int = 0
    file_bytes: int = 0


class _Reader:
    def __init__(self, f, size: int, path: Path):
        self.f, self.size, self.path, self.pos = f, size, path, 0
        self.kept = 0  # bytes read into memory (skipped arrays and strings are not read)
        self.kept_items = 0  # items of long number arrays kept

    def fail(self, what: str) -> AdvisorError:
        return AdvisorError(f"{self.path}: not a valid GGUF file: {what} (at byte {self.pos})")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"{what} runs past the end of the file ({self.size} bytes)")

    def read(self, n: int, what: str) -> bytes:
        self.need(n, what)
        self.kept += n
        if self.kept > MAX_HEADER_BYTES_READ:
            raise self.fail(f"the header holds more than {MAX_HEADER_BYTES_READ:,} bytes of "
                            "names and values to read; no real model's does")
        try:
            b = self.f.read(n)
        except OSError as exc:
            raise self.fail(f"cannot read {what}: {exc.strerror or exc}") from None
        if len(b) != n:
            raise self.fail(f"{what} is truncated")
        self.pos += n
        return b

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.f.seek(n, 1)
        self.pos += n

    def scalar(self, fmt: str, size: int, what: str):
        return struct.unpack(fmt, self.read(size, what))[0]

    def u32(self, what: str) -> int:
        return self.scalar("<I", 4, what)

    def u64(self, what: str) -> int:
        return self.scalar("<Q", 8, what)

    def string(self, what: str, limit: int | None = None, keep: bool = True) -> str | None:
        """limit: the most bytes a valid one may have (else: only the file bounds it, and one
        longer than MAX_STRING_BYTES is skipped, not kept)."""
        n = self.u64(f"{what} length")
        if n > (self.size - self.pos if limit is None else limit):
            raise self.fail(f"{what} claims {n} bytes, more than "
                            f"{'the file holds' if limit is None else limit}")
        if n > MAX_STRING_BYTES:
            keep = False
        if not keep:
            self.skip(n, what)
            return None
        try:
            return self.read(n, what).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None

    def value(self, vtype: int, key: str, depth: int = 0):
        if vtype in _SCALAR:
            fmt, size = _SCALAR[vtype]
            return self.scalar(fmt, size, f"value of {key}")
        if vtype == 8:
            return self.string(f"value of {key}")
        if vtype == 9:
            if depth:
                raise self.fail(f"{key}: nested arrays are not supported")
            itype = self.u32(f"array type of {key}")
            count = self.u64(f"array length of {key}")
            min_item = _SCALAR[itype][1] if itype in _SCALAR else 8 if itype == 8 else None
            if min_item is None:
                raise self.fail(f"{key}: unknown array item type {itype}")
            if count * min_item > self.size - self.pos:
                raise self.fail(f"{key} claims {count} items, more than the file holds")
            if itype in _SCALAR and count > KEEP_ARRAY_ITEMS:
                if count > KEEP_LAYER_ITEMS or self.kept_items + count > KEEP_ITEMS_BUDGET:
                    self.skip(count * min_item, f"array {key}")
                    return _Skipped(count)
                self.kept_items += count
                fmt, size = _SCALAR[itype]
                return list(struct.unpack(f"<{count}{fmt[1:]}", self.read(count * size, f"array {key}")))
            keep = count <= KEEP_ARRAY_ITEMS
            items = [self.value(itype, key, 1) if keep or itype != 8
                     else self.string(f"item of {key}", keep=False) for _ in range(count)]
            return items if keep else _Skipped(count)
        raise self.fail(f"{key}: unknown value type {vtype}")


@dataclass(frozen=True)
class _Skipped:
    length: int


def _type_names() -> dict[int, str]:
    from gguf.constants import GGMLQuantizationType  # lazily: numpy comes with it

    return {t.value: t.name for t in GGMLQuantizationType}


def read_header(path: Path) -> GGUFHeader:
    """One GGUF file's header; tensor data is checked to lie inside the file, never read."""
    from advisor.readfile import open_regular

    f, size = open_regular(path)  # a regular file only: a FIFO or device would block or not end
    with f:
        return parse_header(f, size, path)


def parse_header(f, size: int, path: Path) -> GGUFHeader:
    """The header of a GGUF file of `size` bytes open as `f` at its start (only f.read(n) and
    f.seek(n, 1) are used), bounded as the module says; `path` names it in messages (a local path, or
    repo/file on the Hub read by range requests: advisor.files.hub)."""
    names = _type_names()
    blocks = ggml_blocks()
    r = _Reader(f, size, path)
    if r.read(4, "magic") != MAGIC:
        raise AdvisorError(f"{path}: not a GGUF file (no GGUF magic)")
    version = r.u32("version")
    if version not in (2, 3):
        raise r.fail(f"version {version} (known: 2, 3)")
    n_tensors, n_kv = r.u64("tensor count"), r.u64("metadata count")
    # a key-value pair takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8
    if n_kv > MAX_KV or n_tensors > MAX_TENSORS:
        raise r.fail(f"header claims {n_tensors} tensors and {n_kv} metadata keys (limits "
                     f"{MAX_TENSORS} and {MAX_KV})")
    if n_kv * 14 > size - r.pos or n_tensors * 33 > size - r.pos:
        raise r.fail(f"header claims {n_tensors} tensors and {n_kv} metadata keys, more than "
                     f"a {size}-byte file can hold")
    h = GGUFHeader(path=path, version=version, file_bytes=size)
    for _ in range(n_kv):
        key = r.string("metadata key", MAX_KEY_BYTES)
        shown = quote.name(key)  # as a message quotes it: one short printable line
        v = r.value(r.u32(f"type of {shown}"), shown)
        if key in h.metadata or key in h.array_lengths:
            raise r.fail(f"metadata key {shown} appears twice (which value is meant is "
                         "unknowable)")
        if isinstance(v, _Skipped):
            h.array_lengths[key] = v.length
        else:
            if isinstance(v, list):
                h.array_lengths[key] = len(v)
            h.metadata[key] = v
    infos = []
    for _ in range(n_tensors):
        name = r.string("tensor name", MAX_KEY_BYTES)
        shown = quote.name(name)
        n_dims = r.u32(f"dimensions of {shown}")
        if not 1 <= n_dims <= MAX_DIMS:
            raise r.fail(f"tensor {shown} has {n_dims} dimensions (1 to {MAX_DIMS})")
        dims = tuple(r.u64(f"shape of {shown}") for _ in range(n_dims))
        tid = r.u32(f"type of {shown}")
        offset = r.u64(f"offset of {shown}")
        if tid not in names or names[tid] not in blocks:
            raise r.fail(f"tensor {shown} has unknown ggml type {tid}")
        tname = names[tid]
        block, bsize = blocks[tname]
        if any(d == 0 for d in dims) or dims[0] % block:
            raise r.fail(f"tensor {shown} shape {list(dims)} does not fit {tname} blocks of {block}")
        elements = 1
        for d in dims:
            elements *= d
            if elements > size * 64:  # more elements than any type packs into the file
                raise r.fail(f"tensor {shown} shape {list(dims)} is larger than the file")
        infos.append((name, shown, tname, dims, offset, elements // block * bsize))
    align = h.metadata.get("general.alignment", 32)
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        raise r.fail(f"general.alignment {quote.value(align)} is not a power of two")
    h.data_offset = -(-r.pos // align) * align
    if h.data_offset > size:  # an alignment larger than the file: no tensor data at all
        raise r.fail(f"general.alignment {align:,} puts the tensor data at byte {h.data_offset:,}, "
                     f"past the end of the {size:,}-byte file")
    data_bytes = size - h.data_offset
    for name, shown, tname, dims, offset, nbytes in infos:
        if offset % align or offset + nbytes > data_bytes:
            raise AdvisorError(f"{path}: truncated or corrupt GGUF: tensor {shown} "
                               f"({nbytes} bytes at data offset {offset}) lies outside the "
                               f"{data_bytes} bytes of tensor data")
        h.tensors.append(TensorRecord(name, tname, dims, nbytes))
    return h


def split_parts(path: Path) -> list[Path]:
    """All parts of a split GGUF, given any part (or the single file)."""
    m = SPLIT.match(path.name)
    if not m:
        return [path]
    n = int(m.group("n"))
    if n < 1 or n > 9999:
        raise AdvisorError(f"{path}: split count {n} is not valid")
    parts = [path.with_name(f"{m.group('stem')}-{i:05d}-of-{n:05d}.gguf") for i in range(1, n + 1)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise AdvisorError(f"{path}: split GGUF is missing {len(missing)} of {n} parts "
                           f"(first: {missing[0]})")
    return parts


def read_gguf(path: Path) -> GGUFHeader:
    """The whole model: every part of a split file merged (metadata from the first part)."""
    return merge_parts(path, [read_header(p) for p in split_parts(path)])


def merge_parts(path: Path, headers: list[GGUFHeader]) -> GGUFHeader:
    """The headers of a split GGUF's parts (in order) as one: metadata from the first part,
    tensors from all; AdvisorError (naming `path`) when a tensor appears twice or the count
    the first part's split.tensors.count gives is not what the parts hold."""
    first = headers[0]
    for h in headers[1:]:
        first.tensors.extend(h.tensors)
        first.file_bytes += h.file_bytes
    names = [t.name for t in first.tensors]
    if len(set(names)) != len(names):
        raise AdvisorError(f"{path}: a tensor appears twice across the split parts")
    count = first.metadata.get("split.tensors.count")
    if isinstance(count, int) and count != len(names):
        raise AdvisorError(f"{path}: split header says {count} tensors, the parts hold {len(names)}")
    return first


def file_type_name(h: GGUFHeader) -> str | None:
    ft = h.metadata.get("general.file_type")
    if not isinstance(ft, int):
        return None
    from gguf.constants import LlamaFileType

    try:
        name = LlamaFileType(ft).name
    except ValueError:
        return None
    return name.replace("MOSTLY_", "").replace("ALL_", "")
