"""Decode speed as a memory-bandwidth bound.

Generating one token reads every weight once (the token embedding table is a lookup: one row)
and the KV cache of the tokens so far. tokens/s = efficiency x bandwidth / bytes read a token.
"""
from __future__ import annotations

from advisor.sizing import constants as c


def decode_tokens_per_s(bytes_per_token: int, bandwidth_gb_s: float,
                        efficiency: float = c.DECODE_BANDWIDTH_EFFICIENCY) -> float:
    return efficiency * bandwidth_gb_s * 1e9 / bytes_per_token


def decode_roofline_tokens_per_s(bytes_per_token: int, bandwidth_gb_s: float) -> float:
    """The physical ceiling: no prediction may exceed it."""
    return bandwidth_gb_s * 1e9 / bytes_per_token


def offload_decode_tokens_per_s(gpu_bytes: int, cpu_bytes: int, gpu_bandwidth_gb_s: float,
                                ram_bandwidth_gb_s: float,
                                efficiency: float = c.DECODE_BANDWIDTH_EFFICIENCY) -> float:
    """Layers on the GPU and layers in system RAM are read one after the other each token."""
    seconds = gpu_bytes / (gpu_bandwidth_gb_s * 1e9) + cpu_bytes / (ram_bandwidth_gb_s * 1e9)
    return efficiency / seconds
