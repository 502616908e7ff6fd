"""An exact tensor list, read from a model file, that weights sizing uses instead of the tensors
derived from the architecture. Pure data: the readers live in advisor.files."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

_LAYER = re.compile(r"(?:^|\.)(?:blk|layers|h|block|blocks)\.(\d+)\.")
_EMBED = ("token_embd.weight", "embed_tokens.weight", "wte.weight", "tok_embeddings.weight")


@dataclass(frozen=True)
class TensorRecord:
    name: str
    dtype: str              # ggml type name (GGUF) or safetensors dtype
    shape: tuple[int, ...]
    nbytes: int

    @property
    def layer(self) -> int | None:
        m = _LAYER.search(self.name)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class TensorInventory:
    source: str                       # where it was read (path or repo id)
    format: str                       # gguf | safetensors
    precision: str                    # the precision name the file is stored at
    tensors: tuple[TensorRecord, ...]
    assumptions: tuple[str, ...] = ()

    # The sums below walk every tensor once per inventory, not once per plan: a question sizes
    # dozens of plans, and a file may hold a quarter of a million tensors. (cached_property
    # writes the instance __dict__, which a frozen dataclass allows; the fields stay frozen.)
    @cached_property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def breakdown(self) -> dict[str, int]:
        """Same keys as weights_breakdown_bytes: embedding, output (everything outside the
        layers but the embedding), layers, largest_layer. A copy of the memoised sums."""
        return dict(self._breakdown)

    @cached_property
    def _breakdown(self) -> dict[str, int]:
        per_layer: dict[int, int] = {}
        embedding = output = 0
        for t in self.tensors:
            i = t.layer
            if i is not None:
                per_layer[i] = per_layer.get(i, 0) + t.nbytes
            elif t.name.endswith(_EMBED):
                embedding += t.nbytes
            else:
                output += t.nbytes
        return {"embedding": embedding, "output": output, "layers": sum(per_layer.values()),
                "largest_layer": max(per_layer.values(), default=0)}

    def dtype_bytes(self) -> dict[str, int]:
        return dict(self._dtype_bytes)

    @cached_property
    def _dtype_bytes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + t.nbytes
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))
