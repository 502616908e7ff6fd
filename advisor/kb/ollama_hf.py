"""Ollama's Hugging Face names (`hf.co/ORG/REPO[:TAG]`, `huggingface.co/ORG/REPO[:TAG]`, as
`ollama run` and `ollama pull` take them) resolved to the KB model whose `gguf_repos` lists
ORG/REPO, and the precision of the file the tag names. Pure: no I/O, no printing.

How Ollama reads such a name (ollama/ollama types/model/name.go, ParseNameBare and
DefaultName, read at commit fb30760996871fa9460115c753afd2c60d4ab0f7): the part after the last
`:` that follows the last `/` is the tag, the first part the registry host, and a name without a
tag gets the tag `latest`. Ollama itself picks no file: it asks the host for the manifest of
ORG/REPO:TAG, and Hugging Face's registry answers it (https://huggingface.co/docs/hub/ollama, at
huggingface/hub-docs commit 242f4a1eeb867daf4ac3f44026a5df4a68908a3d): "you can use both hf.co
and huggingface.co as the domain name"; the tag is the quantization, "case-insensitive"
(`:IQ3_M`, `:iq3_m`), or a file's full name (`:Llama-3.2-3B-Instruct-IQ3_M.gguf`); without one
"the Q4_K_M quantization scheme is used, when it's present inside the model repo. If not, we
default to picking one reasonable quant type present inside the repo" (which one is the Hub's
choice, so a repo known to lack Q4_K_M needs a tag here).

Which types a repo carries is advisor/data/gguf_publishers.yaml's (advisor.plans.publishers):
the repo's own list, else its publisher's ladder; a publisher without a ladder (Qwen) or one the
file does not list leaves the types unknown, and any llama.cpp type is taken as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from advisor.errors import AdvisorError, closest
from advisor.kb.ollama import OllamaMatch

# The hosts Hugging Face's registry answers Ollama on, and the file it serves for a name without
# a tag where the repo has one (https://huggingface.co/docs/hub/ollama, "Custom Quantization")
HF_HOSTS = ("hf.co", "huggingface.co")
HF_DEFAULT_QUANT = "Q4_K_M"
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")  # schema's REPO_PATTERN
# An Ollama tag: { alphanum | "_" } { alphanum | "-" | "_" | "." }* (types/model/name.go)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_MAX_PART = 96  # Hugging Face's longest ORG or REPO name
# Ollama's longest tag (types/model/name.go isValidLen, kindTag: 1 to 80, at the commit above)
_MAX_TAG = 80


def _said(text: str, limit: int = 120) -> str:
    """A name the user typed, as an error message quotes it: whole where it is short and
    printable, else repr-quoted and cut (a 10,000-character name is no one-line error)."""
    from advisor.limits import short

    return text if len(text) <= limit and text.isprintable() else short(text, 82)


@dataclass(frozen=True)
class HfName:
    """A parsed Ollama Hugging Face name: as given (stripped), ORG/REPO as written, the tag
    as written (None for no tag or `latest`, the tag Ollama sends without one), and the name as
    `ollama run` is printed with it (no scheme, the host in lower case, the rest as given)."""

    spec: str
    repo: str
    tag: Optional[str]
    run_name: str


def parse_hf_name(spec: str) -> Optional[HfName]:
    """`hf.co/ORG/REPO[:TAG]` (or huggingface.co, the host in any case, an optional https:// as
    Ollama's parser allows) -> HfName; None when `spec` names another host or none. A name on
    those hosts that is not ORG/REPO[:TAG] raises AdvisorError (one line)."""
    s = spec.strip()
    rest = s
    for scheme in ("https://", "http://"):
        if rest.lower().startswith(scheme):
            rest = rest[len(scheme):]
    host, slash, path = rest.partition("/")
    if not slash or host.lower() not in HF_HOSTS:
        return None
    repo, colon, tag = path.partition(":") if path.rfind(":") > path.rfind("/") else (path, "", "")
    if not _REPO.match(repo) or "--" in repo or ".." in repo or any(
            len(part) > _MAX_PART for part in repo.split("/")):
        raise AdvisorError(f"{_said(s)}: an Ollama Hugging Face name is {_said(host, 20)}/ORG/"
                           "REPO[:QUANT] (hf.co/bartowski/Qwen2.5-32B-Instruct-GGUF:Q4_K_M), each "
                           f"of ORG and REPO at most {_MAX_PART} characters of letters, digits, "
                           "'.', '_' and '-'")
    if colon and (not _TAG.match(tag) or len(tag) > _MAX_TAG):
        raise AdvisorError(f"{_said(s)}: the tag after ':' must be a quantization (Q4_K_M, q8_0, "
                           f"IQ4_XS, F16, BF16) or a file name of the repo, at most {_MAX_TAG} "
                           "characters (Ollama's limit)")
    return HfName(s, repo, None if not tag or tag.lower() == "latest" else tag,
                  f"{host.lower()}/{path}")


def tag_file_type(tag: str, moe: bool = False) -> Optional[str]:
    """The llama.cpp file type a tag names, as Hugging Face matches it (case ignored): a type
    name (`q4_k_m` -> Q4_K_M, `f16`/`fp16` -> F16, `bf16` -> BF16, `mxfp4` on a mixture-of-
    experts model -> MXFP4_MOE, gpt-oss's file type), or a file name (`...-IQ3_M.gguf`) whose
    dash- or dot-separated parts include one. None when it names none."""
    from advisor.plans.publishers import known_file_types

    known = {t.lower(): t for t in known_file_types()}
    known.update({"fp16": "F16", **({"mxfp4": "MXFP4_MOE"} if moe else {})})
    word = tag.lower()
    if word.endswith(".gguf"):
        parts = re.split(r"[-.]", word[: -len(".gguf")])
        hits = [known[p] for p in parts if p in known]
        return hits[-1] if hits else None
    return known.get(word)


def _find_repo(models: Iterable, repo: str):
    """(model, ORG/REPO as the KB spells it) of the KB model whose gguf_repos lists `repo` (case
    ignored, as Hugging Face ignores it), the first by id; (None, None) when none does."""
    want = repo.lower()
    for m in sorted(models, key=lambda m: m.id):
        for r in m.gguf_repos:
            if r.lower() == want:
                return m, r
    return None, None


def _other_repo(models: Iterable, repo: str):
    """(the KB model, what the repo holds) where the model's checkpoint repos (instruct_repo,
    an ORG/REPO alias, a checkpoint: "checkpoint") or its MLX conversions (mlx_repos: "MLX
    conversion") name `repo`, case ignored: a repo of safetensors, not GGUF; (None, "") when
    none does."""
    want = repo.lower()
    for m in sorted(models, key=lambda m: m.id):
        names = [m.instruct_repo, *m.aliases, *(ck.repo for ck in m.checkpoints)]
        if any(n and "/" in n and n.lower() == want for n in names):
            return m, "checkpoint"
        if any(n.lower() == want for n in m.mlx_repos):
            return m, "MLX conversion (mlx-lm's safetensors)"
    return None, ""


def resolve_hf_ollama(models: Iterable, spec: str) -> Optional[OllamaMatch]:
    """An Ollama Hugging Face name resolved to an OllamaMatch (the KB model, the name's
    `hf.co/ORG/REPO`, the precision of its tag's file, where that came from, the repo): None
    when `spec` is not such a name. AdvisorError (one line) for a repo no KB model lists as a
    GGUF repo (naming the closest that are), a model's checkpoint repo (not GGUF), a tag that
    is no llama.cpp type, a type the repo is not listed with, and a name without a tag whose
    repo is known to lack Q4_K_M."""
    from advisor.sizing.precision import parse_precision

    name = parse_hf_name(spec)
    if name is None:
        return None
    models = list(models)
    model, repo = _find_repo(models, name.repo)
    if model is None:
        other, holds = _other_repo(models, name.repo)
        if other is not None:
            ggufs = ", ".join(other.gguf_repos[:3])
            raise AdvisorError(
                f"{_said(name.spec)}: {name.repo} is {other.name}'s {holds}, not a GGUF repo; Ollama "
                "pulls GGUF files from Hugging Face" + (f" (its GGUF repos: {ggufs})" if ggufs
                                                        else " and the KB lists none for it"))
        known = sorted({r for m in models for r in m.gguf_repos})
        near = closest(name.repo, known)
        hint = f" (closest known: {', '.join(near)})" if near else ""
        raise AdvisorError(f"{_said(name.spec)}: no KB model lists {name.repo} among its GGUF repos{hint}")
    moe = bool(getattr(model.architecture, "experts_total", 0))
    from advisor.plans.publishers import listed_types, one_file

    types = listed_types(repo)
    if types == ():  # listed with no type: every file is split in parts (-hf and Ollama pull none)
        raise AdvisorError(f"{_said(name.spec)}: advisor/data/gguf_publishers.yaml records no file of "
                           f"{repo} that can be pulled whole (its files are uploaded in parts)")
    if name.tag is None:
        if one_file(repo) and types:
            ftype = types[0]  # the repo's one model file is what the Hub serves without a tag
            why = f"the one model file of {repo}, which Hugging Face serves for {name.spec}"
        elif types is not None and HF_DEFAULT_QUANT not in types:
            listed = ", ".join(types)
            raise AdvisorError(
                f"{_said(name.spec)}: {repo} has no {HF_DEFAULT_QUANT} file, Hugging Face's default without a "
                f"tag, and which file it serves instead is its choice: give a tag ({listed})")
        else:
            ftype = HF_DEFAULT_QUANT
            why = (f"what Hugging Face serves Ollama for {name.spec}, which names no "
                   f"quantization: the repo's {HF_DEFAULT_QUANT} file")
    else:
        ftype = tag_file_type(name.tag, moe)
        if ftype is None:
            raise AdvisorError(
                f"{_said(name.spec)}: {_said(repr(name.tag), 90)} is no llama.cpp quantization the sizing knows (give "
                "one such as Q4_K_M, Q8_0, IQ4_XS, F16 or BF16, as the repo's file names spell it)")
        if types is not None and ftype not in types:
            listed = ", ".join(types)
            raise AdvisorError(f"{_said(name.spec)}: {repo} ships no {ftype} file as far as "
                               f"advisor/data/gguf_publishers.yaml records; it ships {listed}")
        why = f"the quantization in the Ollama tag {name.spec}"
    precision = parse_precision(ftype).name
    return OllamaMatch(model, f"hf.co/{repo}", precision, why, name.tag is not None, repo,
                       name.run_name)
