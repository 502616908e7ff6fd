"""Which model architectures each vLLM version loads (issue 14: a `vllm serve` command for a model
that vLLM had no model class for fails at start, so it is never offered).

vLLM's registries are advisor/data/vllm_architectures.yaml, read and answered by
advisor.sizing.runtime_models.ModelClasses, which answers for SGLang's as well; this module keeps
vLLM's functions under the names the rest of advisor and its tests use. `version` is a key of
advisor.sizing.vllm_memory.VLLM_VERSIONS (None: VLLM_DEFAULT_VERSION, "v1").
"""
from __future__ import annotations

from advisor.sizing.runtime_models import VLLM, _key  # noqa: F401 - _key: tests import it here


def vllm_architectures() -> dict:
    """The parsed advisor/data/vllm_architectures.yaml (ModelClasses.data)."""
    return VLLM.data()


def release_of(version: str) -> str:
    """The vLLM release whose registry stands for profile `version` ("0.5" -> "0.5.5")."""
    return VLLM.release_of(version)


def loads(version: str, hf_class: str) -> bool:
    return VLLM.loads(version, hf_class)


def cannot_load(model, version: str | None = None) -> str | None:
    return VLLM.cannot_load(model, version)


def unchecked_note(model, version: str | None = None) -> str | None:
    return VLLM.unchecked_note(model, version)


def release_note(model, version: str | None = None) -> str | None:
    return VLLM.release_note(model, version)
