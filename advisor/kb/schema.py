"""pydantic v2 schema of a KB entry. Strict: unknown keys and wrong types are errors.

Every fact field that is set must be named by one of the entry's `sources`; identity fields
(id, name, aliases, family, siblings, vendor) need none.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Source(_Strict):
    fields: list[str] = Field(min_length=1)
    source: str = Field(min_length=5)
    note: Optional[str] = None


def _check_sources(entry: BaseModel, fact_fields: list[str]) -> None:
    covered = {f for s in entry.sources for f in s.fields}
    unknown = covered - set(fact_fields)
    if unknown:
        raise ValueError(f"sources name unknown field(s): {', '.join(sorted(unknown))}")
    missing = [f for f in fact_fields if getattr(entry, f) is not None and f not in covered]
    if missing:
        raise ValueError(f"fact(s) without a source: {', '.join(missing)}")


class Architecture(_Strict):
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    ffn_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    tied_embeddings: bool
    max_context: int = Field(gt=0)
    qkv_bias: bool = False
    norms_per_layer: int = Field(default=2, ge=0)
    experts_total: Optional[int] = Field(default=None, gt=1)
    experts_active: Optional[int] = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Architecture":
        if self.attention_heads % self.kv_heads:
            raise ValueError(
                f"kv_heads {self.kv_heads} does not divide attention_heads {self.attention_heads}"
            )
        if (self.experts_total is None) != (self.experts_active is None):
            raise ValueError("experts_total and experts_active go together")
        if self.experts_total and self.experts_active > self.experts_total:
            raise ValueError("experts_active exceeds experts_total")
        return self


class Model(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    family: str
    aliases: list[str] = []
    siblings: list[str] = []
    architecture: Architecture
    published_parameters: Optional[int] = Field(default=None, gt=0)
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _sourced(self) -> "Model":
        _check_sources(self, ["architecture", "published_parameters"])
        return self


class GPU(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    vendor: Literal["nvidia", "amd", "apple", "intel"]
    aliases: list[str] = []
    architecture: str
    memory_bytes: int = Field(gt=0)
    memory_type: Optional[str] = None
    bandwidth_gb_s: float = Field(gt=0)
    fp16_tflops: Optional[float] = Field(default=None, gt=0)
    bf16_tflops: Optional[float] = Field(default=None, gt=0)
    fp8_tflops: Optional[float] = Field(default=None, gt=0)
    int8_tops: Optional[float] = Field(default=None, gt=0)
    shader_cores: Optional[int] = Field(default=None, gt=0)
    tensor_cores: Optional[int] = Field(default=None, gt=0)
    interconnect: Optional[str] = None
    interconnect_gb_s: Optional[float] = Field(default=None, gt=0)
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _sourced(self) -> "GPU":
        _check_sources(
            self,
            [
                "architecture", "memory_bytes", "memory_type", "bandwidth_gb_s", "fp16_tflops",
                "bf16_tflops", "fp8_tflops", "int8_tops", "shader_cores", "tensor_cores",
                "interconnect", "interconnect_gb_s",
            ],
        )
        return self

    @property
    def native_fp8(self) -> bool:
        return self.fp8_tflops is not None
