"""Regenerate advisor/data/ggml_types.json from the gguf package's GGML_QUANT_SIZES.

The table is generated, never typed: tests/test_ggml_types.py fails when it differs from the
installed gguf package. It exists so that `advisor explain` need not import gguf (and numpy,
about 120 ms) for named quantization types.
"""
import json
from pathlib import Path

from gguf.constants import GGML_QUANT_SIZES

out = {t.name: list(v) for t, v in sorted(GGML_QUANT_SIZES.items(), key=lambda kv: kv[0].value)}
path = Path(__file__).resolve().parent.parent / "advisor" / "data" / "ggml_types.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {len(out)} types to {path}")
