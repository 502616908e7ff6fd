"""GGML block sizes: (elements per block, bytes per block) for every ggml tensor type.

Generated from the gguf package (tools/gen_ggml_types.py); a test keeps it equal to gguf's
GGML_QUANT_SIZES.
"""
import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def ggml_blocks() -> dict[str, tuple[int, int]]:
    path = Path(__file__).resolve().parent.parent / "data" / "ggml_types.json"
    return {k: (v[0], v[1]) for k, v in json.loads(path.read_text()).items()}


def tensor_bytes(ggml_type: str, row_length: int, rows: int) -> int:
    """Bytes of a tensor of `rows` rows of `row_length` elements stored as ggml_type."""
    block, size = ggml_blocks()[ggml_type]
    if row_length % block:
        raise ValueError(f"row length {row_length} is not a multiple of the {ggml_type} block {block}")
    return rows * (row_length // block) * size


def bits_per_weight(ggml_type: str) -> float:
    block, size = ggml_blocks()[ggml_type]
    return size * 8 / block
