"""Ollama model names (`NAME[:TAG]`, as `ollama run` and `ollama pull` take them) resolved to a
KB model and a precision. Pure: no I/O, no printing.

A tag is SIZE[-VARIANT...][-QUANT]: `32b-instruct-q4_K_M`, `70b-llama-distill-fp16`, `8b`,
`latest` (or no tag at all). Which KB model a tag is cannot be guessed from its spelling
(Ollama's `mistral:7b` is v0.3, `deepseek-r1:70b` the Llama distill, `deepseek-r1:671b` R1
itself), so the mappings are KB aliases (`llama3.1:70b` in kb/models/llama-3.1-70b.yaml, with the
library page as its source); this module only reads the grammar of a tag and tries, most specific
first:

1. `NAME:SIZE-VARIANT...` as written (`qwen3:30b-a3b-instruct-2507`, `deepseek-r1:8b-llama-distill`);
2. the same without the flavour words (instruct, text, chat, it, base), which pick the chat or the
   base checkpoint of one network (`mistral:7b-instruct-v0.3` -> `mistral:7b-v0.3`);
3. `NAME:SIZE` when every variant word is a flavour (`llama3.1:70b-instruct` -> `llama3.1:70b`);
4. `NAME:latest` for a bare name or the `latest` tag: only where a KB alias says what it is.

A variant that is not a flavour (a version, a date, a distill) never falls back to the bare size:
`mistral:7b-instruct-v0.2` is not v0.3, so it is unknown rather than guessed.

The precision: the tag's own quantization (`q4_K_M`, `q8_0`, `fp16` ...), else the model's
`ollama_quant` (the library's tags for that model are another type, Q4_0 for the older ones), else
DEFAULT_QUANT. Ollama runs llama.cpp's engine, so these are llama.cpp file types.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from advisor.errors import AdvisorError

# Ollama's library tags without a quantization (`llama3.1:8b`, `qwen2.5:32b`, `deepseek-r1:70b`,
# `gemma3:27b`, `qwen3:30b`) are the same blob as the tag's `-q4_K_M` one: the library page of
# each model lists the default tag with "quantization Q4_K_M" (https://ollama.com/library/llama3.1:
# 8b = 8b-instruct-q4_K_M, 46e0c10c039e, 4.9 GB; https://ollama.com/library/deepseek-r1, whose 7b
# and 14b report quantization_level Q4_K_M in /api/tags). Older library models whose tags are
# another type (llama3, llama2, gemma2, mixtral: Q4_0) say so in their KB entry's `ollama_quant`.
DEFAULT_QUANT = "Q4_K_M"

# Variant words that choose a checkpoint of the same network (chat-tuned or base), not another
# network: Ollama's library pages list them as "Variations: instruct, text" (mistral, llama3),
# "chat" (llama2), "it" (gemma). The KB counts base and chat checkpoints as one entry.
FLAVOURS = frozenset({"instruct", "text", "chat", "it", "base"})

# A tag part that is a quantization: llama.cpp file types as Ollama spells them (q4_K_M, q8_0,
# iq4_xs, fp16, f16, bf16, mxfp4 ...). Checked against the precisions the sizing knows.
_QUANT = re.compile(r"^(i?q\d[a-z0-9_]*|fp16|f16|bf16|fp32|f32|mxfp4(_moe)?)$", re.IGNORECASE)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*\Z")
_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]*$", re.IGNORECASE)


@dataclass(frozen=True)
class OllamaName:
    """A parsed `NAME[:TAG]`: the library name, the size (None for `latest` or no tag), the
    variant words between size and quantization, and the quantization as written (or None)."""

    spec: str
    name: str
    size: Optional[str]
    variants: tuple[str, ...]
    quant: Optional[str]

    def keys(self) -> list[str]:
        """The alias keys to look up, most specific first (see the module docstring)."""
        if self.size is None:
            return [f"{self.name}:latest"]
        out = []
        if self.variants:
            out.append(f"{self.name}:{self.size}-{'-'.join(self.variants)}")
        core = [v for v in self.variants if v.lower() not in FLAVOURS]
        if core and len(core) < len(self.variants):
            out.append(f"{self.name}:{self.size}-{'-'.join(core)}")
        if not core:
            out.append(f"{self.name}:{self.size}")
        return out


def parse_ollama_name(spec: str) -> Optional[OllamaName]:
    """`NAME[:TAG]` as Ollama spells a library model -> OllamaName, or None when `spec` is not
    one (a path, a Hugging Face `ORG/REPO[:QUANT]`, spaces, an empty part). A quantization the
    sizing does not know (`llama3.1:8b-q9_K`) raises AdvisorError."""
    s = spec.strip()
    if not s or "/" in s or "\\" in s or s.count(":") > 1 or s.endswith((".gguf", ".json", ".safetensors")):
        return None
    name, _, tag = s.partition(":")
    name = name.lower()
    if not _NAME.match(name) or (tag and not _TAG.match(tag)) or (":" in s and not tag):
        return None
    parts = tag.split("-") if tag else []
    if any(not p for p in parts):
        return None
    quant = None
    if parts and _QUANT.match(parts[-1]):
        quant = parts.pop()
        from advisor.sizing.precision import parse_precision

        try:
            parse_precision(quant)
        except AdvisorError:
            raise AdvisorError(f"{spec}: unknown quantization '{quant}' in the Ollama tag (known: "
                               "llama.cpp types such as q4_K_M, q8_0, q4_0, fp16)") from None
    if not parts or parts == ["latest"]:
        return OllamaName(s, name, None, (), quant)
    return OllamaName(s, name, parts[0].lower(), tuple(p.lower() for p in parts[1:]), quant)


@dataclass(frozen=True)
class OllamaMatch:
    """An Ollama name resolved: the KB model, the alias that matched, the precision name to size
    (a llama.cpp type) and where that precision came from, in words for the advisory."""

    model: object
    alias: str
    precision: str
    precision_source: str
    quant_in_tag: bool = False  # the tag names its quantization (qwen2.5:32b-instruct-q4_K_M)
    # the GGUF repo an hf.co/ORG/REPO name pulls from, as the KB spells it (advisor.kb.ollama_hf);
    # None for a library name
    gguf_repo: Optional[str] = None
    # what `ollama run` takes for the name where it is not the name as given (an hf.co name is
    # printed without a scheme and with its host in lower case); None: the name as given
    run_name: Optional[str] = None


def resolve_ollama(find: Callable[[str], object], spec: str) -> Optional[OllamaMatch]:
    """Resolve an Ollama name with `find` (an alias lookup returning a KB model or None). None
    when `spec` is not an Ollama name or no alias matches; AdvisorError for an unknown
    quantization in the tag."""
    parsed = parse_ollama_name(spec)
    if parsed is None:
        return None
    for key in parsed.keys():
        model = find(key)
        if model is None:
            continue
        from advisor.sizing.precision import parse_precision

        if parsed.quant is not None:
            # Ollama's blobs are GGUF: a tag's mxfp4 on a MoE model is llama.cpp's MXFP4_MOE file
            # type (the gpt-oss tags), not the MXFP4 safetensors checkpoint vLLM loads (on a
            # dense model it stays mxfp4, which the sizing refuses as it refuses --precision mxfp4)
            moe = getattr(getattr(model, "architecture", None), "experts_total", 0)
            q = "MXFP4_MOE" if parsed.quant.lower() == "mxfp4" and moe else parsed.quant
            p = parse_precision(q).name
            why = f"the quantization in the Ollama tag {parsed.spec}"
        else:
            p = parse_precision(getattr(model, "ollama_quant", None) or DEFAULT_QUANT).name
            why = f"the quantization of Ollama's {key} tag"
        return OllamaMatch(model, key, p, why, parsed.quant is not None)
    return None
