"""Which GGUF files a publisher's Hugging Face repositories carry, and how llama.cpp's `-hf`
names them (advisor/data/gguf_publishers.yaml).

The file maps a publisher (the ORG of ORG/REPO) to the llama.cpp file types its GGUF repos carry
(`types`, the publisher's ladder), and may list single repos under `repos:` with their own
`types` (a publisher whose repos differ, as Qwen's official ones do, has an empty ladder and
lists each repo it was checked for). A repo's list replaces its publisher's. Types are
llama.cpp's names: the GGUF quantization types (Q4_K_M ...) and the 16-bit files BF16 and F16.

How `llama-server -hf ORG/REPO:TAG` finds the file (llama.cpp common/download.cpp,
find_best_model, read at commit 0216dab364b886a4638020856333c07044453dd9): it lists the repo's
files and takes the first `.gguf` (not an mmproj, imatrix or draft file; of a split file, the
first part) whose path matches the regular expression `TAG[.-]`, ignoring case. So `Q4_K_M`
finds `qwen2.5-7b-instruct-q4_k_m.gguf`, `Model.Q4_K_M.gguf` and
`Q4_K_M/Model-Q4_K_M-00001-of-00002.gguf` alike, but `F16` does not find `...-fp16.gguf` (a
repo's `tags:` then spells the tag: `{F16: FP16}`), and `F16` also matches `...-BF16.gguf`,
which sorts first: a repo with both is offered only its BF16 file (gguf_repo_for). Without a
tag llama.cpp takes Q4_K_M, then Q8_0, then the first model file."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from advisor.kb.schema import Model
from advisor.sizing.precision import Precision, parse_precision

# The llama.cpp file type of a 16-bit plan's GGUF (llama-quantize / convert_hf_to_gguf --outtype)
FLOAT_FILE_TYPES = {"bf16": "BF16", "fp16": "F16"}
_PUBLISHER_KEYS = {"types", "one_file", "source", "note", "repos"}
_REPO_KEYS = {"types", "tags", "source", "note"}


def data_path() -> Path:
    """advisor/data/gguf_publishers.yaml."""
    return Path(__file__).resolve().parent.parent / "data" / "gguf_publishers.yaml"


def known_file_types() -> frozenset[str]:
    """The type names a publisher's or a repo's `types` may hold: llama.cpp's GGUF types as
    advisor.sizing.precision spells them, and BF16 and F16."""
    from advisor.sizing.precision import _ALL

    return frozenset([p.name for p in _ALL if p.family == "gguf"] + list(FLOAT_FILE_TYPES.values()))


# Google's QAT Gemma 3 GGUFs are a format of their own (precision qat-q4_0: F16 embeddings,
# advisor.sizing.gguf_mix.F16_EMBED_OUTPUT) whose one file is tagged Q4_0 in its repo; a plain
# Q4_0 is never taken from such a repo, which would load a file larger than Q4_0 is sized.
QAT, QAT_FILE_TYPE = "qat-q4_0", "Q4_0"


def is_qat_repo(repo: str) -> bool:
    return "qat-q4_0" in repo.lower()


def file_type(p: Precision) -> str | None:
    """The llama.cpp file type of a plan at precision p (Q4_K_M; BF16 for bf16, F16 for fp16),
    or None for a format no GGUF repo carries (fp32, checkpoints)."""
    if p.family == "gguf":
        return QAT_FILE_TYPE if p.name == QAT else p.name
    return FLOAT_FILE_TYPES.get(p.name)


@lru_cache(maxsize=1)
def _publishers() -> dict:
    from advisor.cache import data_file

    data = data_file(data_path())
    if _shape_errors(data):
        # the cached data is damaged: re-read with the node tree for the line, and say so
        from advisor.errors import AdvisorError

        raise AdvisorError(check_publishers()[0])
    return data


def _entry(repo: str) -> dict:
    """The repo's own entry, else its publisher's."""
    pub = _publishers().get(repo.split("/", 1)[0]) or {}
    return (pub.get("repos") or {}).get(repo) or pub


def repo_types(repo: str) -> tuple[str, ...]:
    """The llama.cpp file types the repo is known to carry (its own list, else its publisher's);
    () for a publisher the data file does not list."""
    return tuple(_entry(repo).get("types") or ())


def listed_types(repo: str) -> tuple[str, ...] | None:
    """The types the file records for the repo, or None where it records none: the repo's own
    list (possibly empty: no file `-hf` or Ollama can pull), else its publisher's ladder; None
    for a publisher the file does not name, or one without a ladder (Qwen, whose repos differ)
    that does not list this repo. Unlike repo_types, tells "none" from "not known"."""
    pub = _publishers().get(repo.split("/", 1)[0]) or {}
    own = (pub.get("repos") or {}).get(repo)
    if own is not None:
        return tuple(own.get("types") or ())
    return tuple(pub["types"]) if pub.get("types") else None


def one_file(repo: str) -> bool:
    """Whether the repo's publisher puts one model file in each repo (`one_file`: ggml-org)."""
    return bool((_publishers().get(repo.split("/", 1)[0]) or {}).get("one_file"))


def gguf_repo_for(model: Model, p: Precision) -> str | None:
    """The first of the model's GGUF repos known to carry a file of p's type (file_type; a QAT
    repo carries only qat-q4_0, and qat-q4_0 comes only from one), or None: the file must be
    made. An F16 file is not taken from a
    repo that also carries BF16 unless the repo spells its F16 tag (`-hf REPO:F16` would match
    the BF16 file, listed first)."""
    t = file_type(p)
    if t is None:
        return None
    for repo in model.gguf_repos:
        if is_qat_repo(repo) or p.name == QAT:
            if is_qat_repo(repo) and p.name == QAT:
                return repo
            continue
        types = repo_types(repo)
        if t not in types:
            continue
        if t == "F16" and "BF16" in types and "F16" not in (_entry(repo).get("tags") or {}):
            continue
        return repo
    return None


# The GGUF type a checkpoint format becomes when llama.cpp runs the model (gguf_of_checkpoint):
# - mxfp4 (a MoE released with MXFP4 experts, gpt-oss): MXFP4_MOE, the experts kept as published
#   and the other tensors at Q8_0 (llama.cpp's file type for it, LLAMA_FTYPE_MOSTLY_MXFP4_MOE; the
#   file ggml-org/gpt-oss-20b-GGUF publishes);
# - fp8 / fp8-ffn (DeepSeek V3/R1, Qwen3 FP8 ...): Q8_0, the 8-bit GGUF type: convert_hf_to_gguf.py
#   dequantizes FP8 blocks (weight_scale_inv) and llama-quantize writes Q8_0, the 8-bit file GGUF
#   publishers carry (unsloth/DeepSeek-R1-GGUF's Q8_0).
# Other checkpoint formats (AWQ, GPTQ, int4 ...) have no GGUF of the same format: None.
CHECKPOINT_GGUF_TYPES = {"mxfp4": "MXFP4_MOE", "fp8": "Q8_0", "fp8-ffn": "Q8_0"}


def gguf_of_checkpoint(model: Model, p: Precision) -> Precision | None:
    """The GGUF type llama.cpp runs a checkpoint format as (CHECKPOINT_GGUF_TYPES): MXFP4_MOE
    for a mixture of experts released at MXFP4, Q8_0 for FP8; None for other formats, for a
    precision that is not a checkpoint format, and for MXFP4 on a dense model (MXFP4_MOE
    quantizes only expert tensors)."""
    name = CHECKPOINT_GGUF_TYPES.get(p.name) if p.family == "checkpoint" else None
    if name is None or (name == "MXFP4_MOE" and not model.architecture.experts_total):
        return None
    return parse_precision(name)


def hf_spec(repo: str, p: Precision) -> str:
    """What follows `llama-server -hf`: REPO:TAG, where llama.cpp picks the file whose name
    carries the tag (the module's doc): the type's llama.cpp name, or the repo's own spelling of
    it (`tags`); REPO alone for a publisher whose repos hold one model file (`one_file`), whose
    name need not carry the type's llama.cpp name (ggml-org's gpt-oss-20b-mxfp4.gguf is
    MXFP4_MOE)."""
    if (_publishers().get(repo.split("/", 1)[0]) or {}).get("one_file"):
        return repo
    t = file_type(p) or p.name
    return f"{repo}:{(_entry(repo).get('tags') or {}).get(t, t)}"


def _shape_errors(data) -> list[tuple[tuple, str]]:
    """(location, message) for each thing wrong in the parsed file, without line numbers:
    a location is the path of keys to the offending value."""
    out: list[tuple[tuple, str]] = []
    if not isinstance(data, dict):
        return [((), "expected a mapping of publishers")]
    known = known_file_types()

    def types_of(where: tuple, entry: dict) -> None:
        types = entry.get("types", [])
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            out.append((where + ("types",), "'types' must be a list of llama.cpp file type names"))
            return
        for i, t in enumerate(types):
            if t not in known:
                from advisor.errors import closest

                near = closest(t, sorted(known))
                hint = f" (closest known: {', '.join(near)})" if near else ""
                out.append((where + ("types", i), f"unknown GGUF type '{t}'{hint}"))
        if len(set(types)) != len(types):
            out.append((where + ("types",), "a type is listed twice"))

    for org, pub in data.items():
        if not isinstance(pub, dict):
            out.append(((org,), f"publisher '{org}': expected a mapping"))
            continue
        for k in pub:
            if k not in _PUBLISHER_KEYS:
                out.append(((org, k), f"publisher '{org}': unknown field '{k}' "
                                      f"(known: {', '.join(sorted(_PUBLISHER_KEYS))})"))
        if "source" not in pub:
            out.append(((org,), f"publisher '{org}': no source"))
        types_of((org,), pub)
        repos = pub.get("repos") or {}
        if not isinstance(repos, dict):
            out.append(((org, "repos"), f"publisher '{org}': 'repos' must map ORG/REPO to an entry"))
            continue
        for repo, entry in repos.items():
            where = (org, "repos", repo)
            if not isinstance(repo, str) or repo.split("/", 1)[0] != org or repo.count("/") != 1:
                out.append((where, f"repo '{repo}' is not a repo of {org} (ORG/REPO)"))
                continue
            if not isinstance(entry, dict):
                out.append((where, f"repo '{repo}': expected a mapping"))
                continue
            for k in entry:
                if k not in _REPO_KEYS:
                    out.append((where + (k,), f"repo '{repo}': unknown field '{k}' "
                                              f"(known: {', '.join(sorted(_REPO_KEYS))})"))
            if "source" not in entry:
                out.append((where, f"repo '{repo}': no source"))
            if "types" not in entry:
                out.append((where, f"repo '{repo}': no types"))
            types_of(where, entry)
            tags = entry.get("tags") or {}
            if not isinstance(tags, dict):
                out.append((where + ("tags",), f"repo '{repo}': 'tags' must map a type to its tag"))
                continue
            for t in tags:
                if t not in (entry.get("types") or []):
                    out.append((where + ("tags", t), f"repo '{repo}': tag for '{t}', which is not "
                                                     "among its types"))
    return out


def check_publishers(models: dict[str, Model] | None = None, path: Path | None = None) -> list[str]:
    """Every problem in the publishers file as `path:line: message`: unknown fields or type
    names, a repo entry without source or types, and (given the KB's models by id) a repo that no
    model's gguf_repos names, whose entry no plan would ever read."""
    from advisor.kb.store import _line_of
    from advisor.yamlfile import YamlFileError, read_yaml

    path = path or data_path()
    try:
        node, data = read_yaml(path)
    except YamlFileError as exc:
        return [f"{path}:{exc.line}: {exc.message}"]

    def line(loc: tuple) -> int:  # mappings are walked by key, sequences by index
        return _line_of(node, loc) if loc else 1

    errors = [f"{path}:{line(loc)}: {msg}" for loc, msg in _shape_errors(data)]
    if models is not None and isinstance(data, dict):
        named = {r for m in models.values() for r in m.gguf_repos}
        for org, pub in data.items():
            repos = pub.get("repos") if isinstance(pub, dict) else None
            for repo in repos if isinstance(repos, dict) else ():
                if repo not in named:
                    errors.append(f"{path}:{line((org, 'repos', repo))}: repo '{repo}' is in no KB "
                                  "model's gguf_repos")
    return errors
