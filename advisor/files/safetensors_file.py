"""Read safetensors headers: an 8-byte little-endian length, then that many bytes of JSON naming
every tensor's dtype, shape and byte range. Bounded: the length is checked against the file size
and a cap before anything is read; every range must lie in the file and match its shape."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from advisor.errors import AdvisorError
from advisor.sizing.inventory import TensorRecord

MAX_HEADER_BYTES = 100 << 20   # the safetensors crate refuses headers over 100 MB too
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
               "F8_E8M0": 1}


def read_safetensors(path: Path) -> list[TensorRecord]:
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
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AdvisorError(f"{path}: not a valid safetensors file: header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise AdvisorError(f"{path}: not a valid safetensors file: header is not a JSON object")
    data_bytes = size - 8 - n
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise AdvisorError(f"{path}: tensor {name}: needs dtype, shape and data_offsets") from None
        if dtype not in DTYPE_BYTES:
            raise AdvisorError(f"{path}: tensor {name}: unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise AdvisorError(f"{path}: tensor {name}: shape {shape!r} is not a list of sizes")
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data_bytes):
            raise AdvisorError(f"{path}: truncated or corrupt safetensors: tensor {name} bytes "
                               f"[{begin}, {end}) lie outside the {data_bytes} bytes of data")
        elements = 1
        for d in shape:
            elements *= d
        if elements * DTYPE_BYTES[dtype] != end - begin:
            raise AdvisorError(f"{path}: tensor {name}: {end - begin} bytes do not hold shape "
                               f"{shape} of {dtype}")
        out.append(TensorRecord(name, dtype, tuple(shape), end - begin))
    return out
