"""Write kb/schema/model.schema.json and gpu.schema.json from the pydantic models.

Run after changing advisor/kb/schema.py: python tools/gen_kb_schema.py
tests/test_kb_schema_export.py fails while the committed files are stale.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.kb.jsonschema import write_schemas  # noqa: E402

if __name__ == "__main__":
    for p in write_schemas(ROOT / "kb" / "schema"):
        print(p.relative_to(ROOT))
