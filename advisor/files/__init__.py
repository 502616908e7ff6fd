"""Models read from files: a GGUF (split or not), a Hugging Face config.json or snapshot folder
(config plus safetensors headers), or a repo id in the local Hugging Face cache.

A file model is a KB Model (its architecture from the file's metadata) that also carries the
file's exact tensor list (advisor.sizing.inventory.TensorInventory); memory_parts uses that list
instead of the architecture-derived tensors when asked for the file's own precision.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from advisor.errors import AdvisorError
from advisor.kb.schema import Architecture, Model
from advisor.sizing.inventory import TensorInventory

MODEL_SUFFIXES = (".gguf", ".json", ".safetensors")
_HF_LAYER = re.compile(r"(?:^|\.)layers\.(\d{1,6})\.")


@dataclass(frozen=True, kw_only=True)
class FileModel(Model):
    weights_inventory: Optional[TensorInventory] = None


def _model_id(name: str) -> str:
    s = re.sub(r"[^a-z0-9.\-]+", "-", name.lower()).strip("-.") or "model"
    return s if s[0].isalnum() else "m" + s


def _build(name: str, family: str, fields: dict, where: str, inv: TensorInventory | None) -> FileModel:
    from advisor.kb.validate import ValidationError, error_message, validate

    try:
        arch = validate(Architecture, fields)
        model = validate(Model, {"id": _model_id(name), "name": name, "family": family or "unknown",
                                 "architecture": arch,
                                 "sources": [{"fields": ["architecture"], "source": f"file: {where}"}]})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise AdvisorError(f"{where}: cannot size this model: {loc + ': ' if loc else ''}{error_message(err)}") from None
    return FileModel(**vars(model), weights_inventory=inv)


def _gguf_model(path: Path) -> tuple[FileModel, str]:
    from advisor.files.gguf_file import file_type_name, read_gguf
    from advisor.files.gguf_model import gguf_architecture, gguf_precision

    h = read_gguf(path)
    fields, family, name = gguf_architecture(h)
    precision = gguf_precision(h, file_type_name(h))
    inv = TensorInventory(source=str(path), format="gguf", precision=precision,
                          tensors=tuple(h.tensors),
                          assumptions=(f"weights: the {len(h.tensors)} tensors of {path.name} as "
                                       f"stored (ggml types and shapes from the GGUF header)",))
    return _build(name, family, fields, str(path), inv), precision


def _hf_model(folder: Path, config: Path, label: str) -> tuple[FileModel, str]:
    from advisor.files.hf import architecture_fields, checkpoint_precision, read_config
    from advisor.files.safetensors_file import read_safetensors

    cfg = read_config(config)
    fields = architecture_fields(cfg, str(config))
    precision = checkpoint_precision(cfg)
    shards = sorted(folder.glob("*.safetensors"))
    inv = None
    if shards:
        tensors = []
        for s in shards:
            tensors.extend(read_safetensors(s))
        if not tensors:
            raise AdvisorError(f"{label}: the safetensors file(s) hold no tensors: they describe "
                               "no weights to size")
        names = {t.name for t in tensors}
        held = {int(m.group(1)) for m in map(_HF_LAYER.search, names) if m}
        if held and not held.issuperset(range(fields["layers"])):
            raise AdvisorError(f"{label}: {config.name} names {fields['layers']} layers, but the "
                               f"safetensors hold {len(held & set(range(fields['layers'])))} of "
                               "them: the files do not describe the weights of the model")
        if "lm_head.weight" not in names and any(n.endswith("embed_tokens.weight") for n in names):
            fields["tied_embeddings"] = True
        if not fields.get("vocab_size"):
            emb = [t for t in tensors if t.name.endswith("embed_tokens.weight")]
            if emb:
                fields["vocab_size"] = emb[0].shape[0]
        inv = TensorInventory(source=label, format="safetensors", precision=precision,
                              tensors=tuple(tensors),
                              assumptions=(f"weights: the {len(tensors)} tensors of {len(shards)} "
                                           "safetensors file(s) as stored (dtypes and shapes from "
                                           "their headers)",))
    if not fields.get("vocab_size"):
        raise AdvisorError(f"{config}: no vocab_size and no embedding tensor to read it from")
    from advisor.sizing.precision import parse_precision

    try:
        parse_precision(precision)
    except AdvisorError:
        raise AdvisorError(f"{config}: quantization method '{precision}' is not one the sizing "
                           "knows (gptq, awq, bitsandbytes, fp8)") from None
    name = label.rstrip("/").split("/")[-1] if "/" in label else folder.name
    return _build(name, str(cfg.get("model_type", "")), fields, str(config), inv), precision


def load_path(path: Path, label: str | None = None, quant: str | None = None) -> tuple[FileModel, str]:
    """A model file or folder -> (model, the precision it is stored at). `quant` picks one GGUF
    of a folder that holds several (llama.cpp's `-hf repo:Q4_K_M` spelling). A folder or file
    that cannot be read (no permission, a name too long) is an AdvisorError naming it."""
    try:
        return _load_path(path, label, quant)
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, (str, Path)) else path
        raise AdvisorError(f"{where}: cannot read: {exc.strerror or exc}") from None


def _exists(p: Path) -> bool:
    """Whether p exists; False for a name the system refuses (too long, a NUL byte, an
    unreadable parent folder), which then names no file."""
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def _load_path(path: Path, label: str | None, quant: str | None) -> tuple[FileModel, str]:
    if path.is_dir():
        ggufs = sorted(path.rglob("*.gguf") if quant else path.glob("*.gguf"))
        if quant:
            ggufs = [g for g in ggufs if quant.lower() in g.name.lower()]
            if not ggufs:
                raise AdvisorError(f"{label or path}: no GGUF file named like '{quant}' here")
        if ggufs and not (path / "config.json").is_file():
            firsts = [g for g in ggufs if not re.search(r"-\d{5}-of-\d{5}\.gguf$", g.name)
                      or "-00001-of-" in g.name]
            if len(firsts) != 1:
                raise AdvisorError(f"{label or path}: {len(firsts)} GGUF models here; name one (a path, or "
                                   f"repo:QUANT for a cached repo)")
            return _gguf_model(firsts[0])
        if (path / "config.json").is_file():
            return _hf_model(path, path / "config.json", label or str(path))
        raise AdvisorError(f"{path}: no config.json or .gguf file in this folder")
    if path.suffix == ".gguf":
        return _gguf_model(path)
    if path.suffix == ".json":
        return _hf_model(path.parent, path, label or str(path.parent))
    if path.suffix == ".safetensors":
        cfg = path.parent / "config.json"
        if not cfg.is_file():
            raise AdvisorError(f"{path}: no config.json beside it to give the architecture")
        return _hf_model(path.parent, cfg, label or str(path.parent))
    raise AdvisorError(f"{path}: not a model file (.gguf, config.json, .safetensors or a folder)")


def resolve_model(kb, spec: str) -> tuple[Model, str | None]:
    """A KB id/name/alias, an Ollama name (`qwen2.5:32b-instruct-q4_K_M`), a path, or a repo id in
    the local Hugging Face cache. Returns the model and, for a file, the precision it is stored
    at (for an Ollama name, the precision of its tag: advisor.kb.ollama). A KB key wins over a file
    or folder of the same name in the working folder (write ./name for the file)."""
    ollama = kb.ollama(spec)  # an Ollama name (llama3.1:70b): its model and its tag's precision
    if ollama is not None:
        return ollama.model, ollama.precision
    if kb.models.find(spec) is not None:
        return kb.model(spec), None
    try:
        p = Path(spec).expanduser()
    except RuntimeError:  # ~user of a user that does not exist
        raise AdvisorError(f"{spec}: no such file or folder (no such user's home folder)") from None
    if _exists(p):
        return load_path(p)
    repo, _, quant = spec.partition(":")
    if quant and "/" in repo:  # llama.cpp's -hf repo:QUANT
        from advisor.files.hf import cached_snapshot

        snap = cached_snapshot(repo)
        if snap is None:
            raise AdvisorError(f"'{repo}' is not in the local Hugging Face cache (nothing is downloaded)")
        return load_path(snap, label=repo, quant=quant)
    if spec.endswith(MODEL_SUFFIXES) or spec.startswith((".", "/", "~")):
        raise AdvisorError(f"{spec}: no such file or folder")
    try:
        return kb.model(spec), None
    except AdvisorError:
        from advisor.files.hf import cached_snapshot

        snap = cached_snapshot(spec)
        if snap is None:
            raise
        return load_path(snap, label=spec)
