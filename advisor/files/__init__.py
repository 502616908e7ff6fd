"""Models read from files: a GGUF (split or not), a Hugging Face config.json or snapshot folder
(config plus safetensors headers), a repo id in the local Hugging Face cache, or a repo id on the
Hugging Face Hub (its config and headers fetched and kept: advisor.files.hub).

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
from advisor.files import quote
from advisor.kb.schema import Architecture, Model
from advisor.sizing.inventory import TensorInventory

MODEL_SUFFIXES = (".gguf", ".json", ".safetensors")


@dataclass(frozen=True, kw_only=True)
class FileModel(Model):
    weights_inventory: Optional[TensorInventory] = None
    # the format the file or folder stores its weights at (its config.json or headers), set
    # by the question that names it: a runtime loads that format from it as it is
    # (runtimes.no_checkpoint)
    stored_precision: Optional[str] = None


def _model_id(name: str) -> str:
    s = re.sub(r"[^a-z0-9.\-]+", "-", name.lower()).strip("-.") or "model"
    return s if s[0].isalnum() else "m" + s


def _build(name: str, family: str, fields: dict, where: str, inv: TensorInventory | None,
           yarn: dict | None = None, hf_architecture: str | None = None) -> FileModel:
    """yarn: the config's own YaRN rope scaling (advisor.files.hf.yarn_scaling): the model's
    context reaches original x factor (Model.advertised_context), and plans beyond the config's
    positions carry that scaling (Model.rope_scaling) as they do a KB model's, with the file as
    the source of both. hf_architecture: the class config.json names (hf_class), which vLLM's
    registry is checked for (advisor.sizing.vllm_models)."""
    from advisor.kb.schema import RopeScaling
    from advisor.kb.validate import ValidationError, error_message, validate

    facts = ["architecture"] + (["advertised_context"] if yarn else [])
    try:
        arch = validate(Architecture, fields)
        extra = {"hf_architecture": hf_architecture} if hf_architecture else {}
        model = validate(Model, {"id": _model_id(name), "name": name, "family": family or "unknown",
                                 "architecture": arch, **extra,
                                 "sources": [{"fields": facts + list(extra),
                                              "source": f"file: {where}"}]})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise AdvisorError(f"{where}: cannot size this model: {loc + ': ' if loc else ''}{error_message(err)}") from None
    if yarn:  # the config is the source, not a model card's page (RopeScaling.source's URL)
        rope = RopeScaling(type="yarn", factor=yarn["factor"], original_context=yarn["original_context"],
                           rope_theta=yarn["rope_theta"], source=f"file: {where}",
                           note="rope_scaling declared in the config")
        return FileModel(**(vars(model) | {"advertised_context": yarn["context"], "rope_scaling": rope}),
                         weights_inventory=inv)
    return FileModel(**vars(model), weights_inventory=inv)


def _gguf_model(path: Path) -> tuple[FileModel, str]:
    from advisor.files.gguf_file import read_gguf

    return gguf_header_model(read_gguf(path), path)


def gguf_header_model(h, path: Path) -> tuple[FileModel, str]:
    """A GGUF header (advisor.files.gguf_file.GGUFHeader, all parts merged) -> (model, the
    precision it is stored at); `path` names the file in messages and the inventory."""
    from advisor.files.gguf_file import file_type_name
    from advisor.files.gguf_model import check_parameter_count, gguf_architecture, gguf_precision

    from advisor.render import md_text  # the note is markdown: the file's name is text in it

    fields, family, name = gguf_architecture(h)
    precision = gguf_precision(h, file_type_name(h))
    inv = TensorInventory(source=str(path), format="gguf", precision=precision,
                          tensors=tuple(h.tensors),
                          assumptions=(f"weights: the {len(h.tensors)} tensors of {md_text(path.name)} as "
                                       f"stored (ggml types and shapes from the GGUF header)",))
    model = _build(name, family, fields, str(path), inv)
    check_parameter_count(path, model.architecture, h.tensors)
    return model, precision


MAX_INDEX_BYTES = 64 << 20     # DeepSeek-V3's index (91,000 tensors) is 9 MB
MAX_SET_TENSORS = 1 << 20      # tensors of all shards together (a GPTQ Kimi K2: 280,000)
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.safetensors$")


def _index_shards(folder: Path, label: str) -> list[Path] | None:
    """The shards a *.safetensors.index.json names (None when there is no index); AdvisorError
    when the index is not one, or when any shard it names is not in the folder: a partial
    download sized from the shards present would be a smaller model than the config's."""
    from advisor.files.hf import _plain_name, read_json

    indexes = sorted(folder.glob("*.safetensors.index.json"))
    if not indexes:
        return None
    main = folder / "model.safetensors.index.json"
    if len(indexes) > 1 and main not in indexes:
        raise AdvisorError(f"{label}: {len(indexes)} safetensors index files here "
                           f"({', '.join(quote.name(i.name) for i in indexes[:3])}): cannot tell "
                           "which one is the model")
    index = main if main in indexes else indexes[0]
    data = read_json(index, MAX_INDEX_BYTES, "safetensors index")
    wmap = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(wmap, dict) or not wmap \
            or not all(isinstance(v, str) and _plain_name(v) for v in wmap.values()):
        raise AdvisorError(f"{index}: not a safetensors index: needs a weight_map of tensor names "
                           "to shard file names in this folder")
    names = sorted(set(wmap.values()))
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise AdvisorError(f"{label}: {len(missing)} of the {len(names)} safetensors shards "
                           f"{index.name} names are missing (first: {quote.name(missing[0])}): a "
                           "partial download? Finish it, or size the model by its id")
    return [folder / n for n in names]


def _glob_shards(folder: Path, label: str) -> list[Path]:
    """The folder's *.safetensors; a shard named -0000i-of-0000N.safetensors needs all N."""
    shards = sorted(folder.glob("*.safetensors"))
    for s in shards:
        m = _SHARD.match(s.name)
        if not m:
            continue
        n = int(m.group("n"))
        want = [folder / f"{m.group('stem')}-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
        missing = [w for w in want if not w.is_file()]
        if missing:
            raise AdvisorError(f"{label}: {len(missing)} of the {n} safetensors shards are "
                               f"missing (first: {quote.name(missing[0].name)}): a partial "
                               "download? Finish it, or size the model by its id")
    return shards


def _hf_model(folder: Path, config: Path, label: str) -> tuple[FileModel, str]:
    from advisor.files.hf import read_config
    from advisor.files.safetensors_file import read_safetensors

    cfg = read_config(config)
    shards = _index_shards(folder, label)
    if shards is None:
        shards = _glob_shards(folder, label)
    return config_model(cfg, str(config), (read_safetensors(s) for s in shards), label,
                        _model_name(folder, label))


def _model_name(folder: Path, label: str) -> str:
    """The name a model read from `folder` goes by: the repository's for a Hub id or a cache
    folder (`label` ORG/REPO), else the folder's own name, resolved, so that `.`, `./` or
    `./config.json` name the folder they are in (an empty name was refused: hostile pass 14A);
    "model" for the file system's root."""
    if "/" in label and not Path(label).exists():
        return label.rstrip("/").split("/")[-1]
    return folder.resolve().name or "model"


# safetensors dtypes of unquantized weights -> the precision they store
_STORED = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F8_E4M3": "fp8", "F8_E5M2": "fp8"}


def _stored_precision(tensors, named: str, label: str, where: str) -> str:
    """The precision an unquantized checkpoint's tensors are stored at: the dtype holding most
    of their bytes (norms kept in F32 beside BF16 weights do not change it), whatever config's
    torch_dtype says (`named`, kept when it agrees). AdvisorError when that dtype is no
    floating-point weight format and no quantization_config says how to read it."""
    by_dtype: dict[str, int] = {}
    for t in tensors:
        by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.nbytes
    most = max(sorted(by_dtype), key=lambda d: by_dtype[d])
    if most not in _STORED:
        raise AdvisorError(f"{label}: most of the weights' bytes are {most} tensors, but "
                           f"{Path(where).name} has no quantization_config that says how they "
                           "are stored: cannot size them as a known format")
    return named if _STORED[most] == named else _STORED[most]


def hf_class(cfg: dict) -> str | None:
    """The Hugging Face architecture class a config.json names (architectures[0]: the class
    transformers and vLLM load the checkpoint with), or None where it names none, or names it in
    a form no class has (advisor.kb.schema.HF_CLASS_PATTERN)."""
    from advisor.kb.schema import HF_CLASS_PATTERN

    archs = cfg.get("architectures") if isinstance(cfg, dict) else None
    first = archs[0] if isinstance(archs, list) and archs else None
    return first if isinstance(first, str) and re.fullmatch(HF_CLASS_PATTERN, first) else None


def config_model(cfg: dict, where: str, shards, label: str, name: str) -> tuple[FileModel, str]:
    """A transformers config (parsed config.json; `where` names it) and the tensor lists of its
    safetensors files (an iterable of lists of TensorRecord, one a file; empty when there are
    none, and the model is sized from the config alone) -> (model, the precision it is stored
    at). AdvisorError when the tensors are not the weights the config describes."""
    from advisor.files.hf import architecture_fields, checkpoint_precision, yarn_scaling

    fields = architecture_fields(cfg, where)
    yarn = yarn_scaling(cfg, fields["max_context"], where)
    precision = checkpoint_precision(cfg, where)
    inv = None
    tensors, n_files = [], 0
    for records in shards:
        n_files += 1
        tensors.extend(records)
        if len(tensors) > MAX_SET_TENSORS:
            raise AdvisorError(f"{label}: the safetensors hold more than {MAX_SET_TENSORS:,} "
                               "tensors (the limit); no real model holds that many")
    if n_files:
        if not tensors:
            raise AdvisorError(f"{label}: the safetensors file(s) hold no tensors: they describe "
                               "no weights to size")
        names = {t.name for t in tensors}
        if len(names) != len(tensors):
            raise AdvisorError(f"{label}: a tensor appears in two safetensors shards: the files "
                               "are not one model")
        n_layers = fields["layers"]
        held = {i for i in (t.layer for t in tensors) if i is not None}
        if not held.issuperset(range(n_layers)):
            raise AdvisorError(f"{label}: {Path(where).name} names {n_layers} layers, but the "
                               f"safetensors hold {len(held & set(range(n_layers)))} of them "
                               f"({len(tensors)} tensors in {n_files} file(s)): the files do "
                               "not describe the weights of the model (a partial download?)")
        if "lm_head.weight" not in names and any(n.endswith("embed_tokens.weight") for n in names):
            fields["tied_embeddings"] = True
        if not fields.get("vocab_size"):
            emb = [t for t in tensors if t.name.endswith("embed_tokens.weight")]
            if emb:
                fields["vocab_size"] = emb[0].shape[0]
        if cfg.get("quantization_config") is None and cfg.get("quantization") is None:
            precision = _stored_precision(tensors, precision, label, where)
        inv = TensorInventory(source=label, format="safetensors", precision=precision,
                              tensors=tuple(tensors),
                              assumptions=(f"weights: the {len(tensors)} tensors of {n_files} "
                                           "safetensors file(s) as stored (dtypes and shapes from "
                                           "their headers)",))
    if not fields.get("vocab_size"):
        raise AdvisorError(f"{where}: no vocab_size and no embedding tensor to read it from")
    from advisor.sizing.precision import parse_precision

    try:
        stored = parse_precision(precision)
    except AdvisorError:
        raise AdvisorError(f"{where}: quantization method {quote.value(precision)} is not one "
                           "the sizing knows (gptq, awq, bitsandbytes, fp8)") from None
    model = _build(name, str(cfg.get("model_type", "")), fields, where, inv, yarn, hf_class(cfg))
    if inv is not None and (stored.family == "float" or stored.name in ("fp8", "fp8-ffn")):
        # one element a weight (packed 4-bit formats hold several in one): the GGUF check holds
        from advisor.files.gguf_model import check_parameter_count

        check_parameter_count(label, model.architecture, inv.tensors)
    return model, precision


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
        if _exists(path / "config.json"):  # not a regular file: read_config names what it is
            return _hf_model(path, path / "config.json", label or str(path))
        raise AdvisorError(f"{path}: no config.json or .gguf file in this folder")
    if path.suffix.lower() == ".gguf":
        return _gguf_model(path)
    if path.suffix.lower() == ".json":
        return _hf_model(path.parent, path, label or str(path.parent))
    if path.suffix.lower() == ".safetensors":
        cfg = path.parent / "config.json"
        if not cfg.is_file():
            raise AdvisorError(f"{path}: no config.json beside it to give the architecture")
        return _hf_model(path.parent, cfg, label or str(path.parent))
    if _is_gguf(path):  # llama.cpp reads a GGUF by its magic, whatever its name (model.bin)
        return _gguf_model(path)
    raise AdvisorError(f"{path}: not a model file (.gguf, config.json, .safetensors or a folder)")


def _is_gguf(path: Path) -> bool:
    """Whether a regular file starts with GGUF's magic (a FIFO or device is never opened)."""
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        return fh.read(4) == b"GGUF"


def _model_snapshot(repo: str) -> Path | None:
    """The repo's snapshot folder in the local Hugging Face cache, if it holds a config.json or
    a GGUF file (a folder an interrupted download left empty is none)."""
    from advisor.files.hf import cached_snapshot

    snap = cached_snapshot(repo)
    try:
        if snap is not None and ((snap / "config.json").exists()
                                 or next(snap.rglob("*.gguf"), None) is not None):
            return snap
    except OSError as exc:
        raise AdvisorError(f"{snap}: cannot read: {exc.strerror or exc}") from None
    return None


def resolve_model(kb, spec: str) -> tuple[Model, str | None]:
    """A KB id/name/alias, an Ollama name (`qwen2.5:32b-instruct-q4_K_M`), a path, a repo id in
    the local Hugging Face cache, or else a repo id on the Hugging Face Hub (`ORG/REPO`, a GGUF
    one as `ORG/REPO:QUANT`; advisor.files.hub reads its config and headers). Returns the model and, for a file, the precision it is stored
    at (for an Ollama name, the precision of its tag: advisor.kb.ollama). A KB key wins over a file
    or folder of the same name in the working folder (write ./name for the file)."""
    if not spec.strip():  # Path('') is the working folder: never read it for an empty name
        raise AdvisorError("the model is empty: give a KB id or name (llama-3.1-8b), a model "
                           "folder or a .gguf file")
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
        from advisor.files import hub

        snap = _model_snapshot(repo)
        if snap is not None and any(quant.lower() in g.name.lower() for g in snap.rglob("*.gguf")):
            return load_path(snap, label=repo, quant=quant)  # the local files win
        hit = hub.cached(repo, quant) if hub.is_repo_id(repo) else None
        if hit is not None:  # read from the Hub before: its header, no network
            return hit
        if snap is not None and (hub.offline() or not hub.is_repo_id(repo)):
            return load_path(snap, label=repo, quant=quant)  # says what the folder lacks
        if not hub.is_repo_id(repo):
            raise AdvisorError(f"'{repo}' is not in the local Hugging Face cache, and is no "
                               "Hugging Face repo id (ORG/REPO) to fetch")
        return hub.load_repo(repo, quant)
    if spec.lower().endswith(MODEL_SUFFIXES) or spec.startswith((".", "/", "~")):
        raise AdvisorError(f"{spec}: no such file or folder")
    try:
        return kb.model(spec), None
    except AdvisorError as unknown:
        from advisor.files import hub

        if hub.is_repo_id(spec):
            hit = hub.cached(spec)  # read from the Hub before: its headers, no network
            if hit is not None:
                return hit
        snap = _model_snapshot(spec)
        if snap is not None and (not hub.is_repo_id(spec) or hub.offline()
                                 or next(snap.glob("*.safetensors"), None) is not None):
            return load_path(snap, label=spec)
        if not hub.is_repo_id(spec):
            raise
        try:  # a cached config without weights: the Hub has their headers
            return hub.load_repo(spec, unknown=str(unknown))
        except AdvisorError:
            if snap is None:
                raise
            return load_path(snap, label=spec)  # the Hub cannot say more: the config alone
