"""advisor/data/ggml_types.json is generated from the gguf package; it must stay equal to it."""
from gguf.constants import GGML_QUANT_SIZES

from advisor.sizing.ggml_types import ggml_blocks


def test_table_equals_gguf_package():
    ours = ggml_blocks()
    theirs = {t.name: tuple(v) for t, v in GGML_QUANT_SIZES.items()}
    assert ours == theirs, "run: python tools/gen_ggml_types.py"
