"""Read safetensors headers: an 8-byte little-endian length, then that many bytes of JSON naming
every tensor's dtype, shape and byte range. Bounded: the length is checked against the file size
and a cap before anything is read; every range must lie in the file and match its shape."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from advisor.errors import AdvisorError
from advisor.files import quote
from advisor.sizing.inventory import TensorRecord

MAX_HEADER_BYTES = 100 << 20   # the safetensors crate refuses headers over 100 MB too
# Tensors in one file: as the GGUF reader's cap (a shard of an unmerged MoE holds a few thousand)
MAX_TENSORS = 1 << 18
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
               "F8_E8M0": 1}


def read_safetensors(path: Path) -> list[TensorRecord]:
    """The tensors a local safetensors file's header names (dtype, shape, bytes), each checked
    to lie inside the file; AdvisorError naming the file otherwise."""
    from advisor.readfile import open_regular

    f, size = open_regular(path)  # a regular file only: a FIFO or device would block or not end
    with f:
        head = f.read(8)
        if len(head) != 8:
            raise AdvisorError(f"{path}: not a safetensors file: shorter than its 8-byte header length")
        n = struct.unpack("<Q", head)[0]
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise AdvisorError(f"{path}: not a valid safetensors file: header claims {n} bytes "
                               f"(file {size} bytes, limit {MAX_HEADER_BYTES})")
        raw = f.read(n)
    return parse_header(raw, size - 8 - n, path)


def parse_header(raw: bytes, data_bytes: int, path) -> list[TensorRecord]:
    """The tensors of a safetensors header (its JSON bytes, without the 8-byte length), each
    range checked to lie in the `data_bytes` bytes of data that follow it and to hold its shape
    exactly. `path` names the file in messages (a local path, or repo/file on the Hub)."""
    # every tensor entry names its data_offsets: count them before parsing (a 42 MB header of
    # 500,000 entries takes seconds to parse only to be refused)
    entries = raw.count(b'"data_offsets"')
    if entries > MAX_TENSORS:
        raise AdvisorError(f"{path}: not a valid safetensors file: header holds {entries:,} "
                           f"tensor entries (limit {MAX_TENSORS:,}); no real shard holds that many")
    from advisor.files.hf import strict_json

    try:
        header = strict_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AdvisorError(f"{path}: not a valid safetensors file: header is not JSON "
                           f"({quote.name(str(exc), 120)})") from None
    except ValueError as exc:  # an integer of too many digits, a tensor named twice
        raise AdvisorError(f"{path}: not a valid safetensors file: header holds {exc}") from None
    if not isinstance(header, dict):
        raise AdvisorError(f"{path}: not a valid safetensors file: header is not a JSON object")
    if len(header) > MAX_TENSORS + 1:  # + __metadata__
        raise AdvisorError(f"{path}: not a valid safetensors file: header names {len(header):,} "
                           f"tensors (limit {MAX_TENSORS:,}); no real shard holds that many")
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shown = quote.name(name)  # the name in a message: one short printable line
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise AdvisorError(f"{path}: tensor {shown}: needs dtype, shape and data_offsets") from None
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise AdvisorError(f"{path}: tensor {shown}: unknown dtype {quote.value(dtype)}")
        if not (isinstance(shape, list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise AdvisorError(f"{path}: tensor {shown}: shape {quote.value(shape)} is not a list "
                               "of sizes")
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data_bytes):
            raise AdvisorError(f"{path}: truncated or corrupt safetensors: tensor {shown} bytes "
                               f"[{quote.value(begin)}, {quote.value(end)}) lie outside the "
                               f"{data_bytes} bytes of data")
        elements = 0 if 0 in shape else 1
        for d in shape if elements else ():
            elements *= d
            if elements > end - begin:  # every dtype takes a byte or more an element
                break
        if elements * DTYPE_BYTES[dtype] != end - begin:
            raise AdvisorError(f"{path}: tensor {shown}: {end - begin} bytes do not hold shape "
                               f"{quote.value(shape)} of {dtype}")
        out.append(TensorRecord(name, dtype, tuple(shape), end - begin))
    return out
