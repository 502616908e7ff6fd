"""Which GGUF files a publisher's Hugging Face repositories carry, and how llama.cpp's `-hf`
names them (advisor/data/gguf_publishers.yaml)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from advisor.kb.schema import Model
from advisor.sizing.precision import Precision


@lru_cache(maxsize=1)
def _publishers() -> dict:
    from advisor.cache import data_file

    return data_file(Path(__file__).resolve().parent.parent / "data" / "gguf_publishers.yaml")


def gguf_repo_for(model: Model, p: Precision) -> str | None:
    """The first of the model's GGUF repos known to carry a file of type p (a QAT repo carries
    its one type), or None: the file must be made."""
    for repo in model.gguf_repos:
        org = repo.split("/", 1)[0]
        if "qat-q4_0" in repo.lower():
            if p.name == "Q4_0":
                return repo
            continue
        if p.name in _publishers().get(org, {}).get("types", ()):
            return repo
    return None


def hf_spec(repo: str, p: Precision) -> str:
    """What follows `llama-server -hf`: REPO:TYPE, where llama.cpp picks the file whose name
    carries the type; REPO alone for a publisher whose repos hold one model file (`one_file`),
    whose name need not carry the type's llama.cpp name (ggml-org's gpt-oss-20b-mxfp4.gguf is
    MXFP4_MOE)."""
    if _publishers().get(repo.split("/", 1)[0], {}).get("one_file"):
        return repo
    return f"{repo}:{p.name}"
