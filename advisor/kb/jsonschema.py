"""JSON Schema of KB entries, exported by pydantic from the entry classes (advisor.kb.validate).

The exported files (kb/schema/<kind>.schema.json) let editors check a YAML entry as it is typed
(yaml-language-server: `# yaml-language-server: $schema=../schema/gpu.schema.json`) and let
other tools read the KB. They are generated, never edited: `python tools/gen_kb_schema.py`
rewrites them and a test fails when they are stale.

The JSON Schema says what one field may hold; the cross-field checks (every set fact has a
source, price with date, memory against the size the id states, parameters against the
architecture) live in advisor/kb/schema.py and advisor/kb/checks.py and run on `advisor kb validate`.
"""
from __future__ import annotations

import json
from pathlib import Path

from advisor.kb.schema import GPU, Model

SCHEMAS = {"model": Model, "gpu": GPU}


def schema_of(kind: str) -> dict:
    from advisor.kb.validate import adapter

    s = adapter(SCHEMAS[kind]).json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **s}


def schema_text(kind: str) -> str:
    return json.dumps(schema_of(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in SCHEMAS:
        path = out_dir / f"{kind}.schema.json"
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written
