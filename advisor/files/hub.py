"""Models on the Hugging Face Hub by repo id (`ORG/REPO`, or `ORG/REPO:QUANT` for a GGUF file),
read with huggingface_hub: never weights, only what sizing needs.

- `ORG/REPO`: the repo's file list (HfApi.model_info, with sizes), config.json with
  hf_hub_download (into the standard Hugging Face cache), and the header of every safetensors
  file with HfApi.get_safetensors_metadata (byte-range requests; a sharded repo's index goes to
  the Hugging Face cache too). Sized as a local snapshot would be: the config's architecture,
  the headers' exact dtypes and shapes.
- `ORG/REPO:QUANT`: the repo's GGUF file named like QUANT (every part of a split one), whose
  header (metadata and tensor table) is read by byte-range requests of BLOCK bytes, only the
  blocks the reader reaches.

Everything is pinned to the commit the file list names. What was read besides config.json is
kept in advisor's cache (advisor.files.hub_cache), so the same question is answered without the
network afterwards, also with HF_HUB_OFFLINE=1. HF_ENDPOINT (a mirror, or a stand-in in tests)
and HF_TOKEN (gated and private repos) are read on each call, as huggingface_hub reads them.
Every fetch is bounded in time, requests and bytes (advisor.files.hub_session). Any failure is
one AdvisorError line: gated, missing or private repo, no config.json, no network, offline with
nothing cached, a limit passed.

huggingface_hub is imported only when something is fetched: reading the cache does without it.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath

from advisor.errors import AdvisorError
from advisor.files import hub_cache, quote

DEFAULT_ENDPOINT = "https://huggingface.co"
BLOCK = 1 << 20  # bytes a GGUF header range request asks for
# huggingface_hub's repo-id rule: a namespace and a name of letters, digits, '-', '_', '.',
# at most 96 characters each, starting and ending with a letter or digit, no '--' or '..'.
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"^{_PART}/{_PART}$")
_SPLIT = re.compile(r"^(?P<stem>.*)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")
_TRUE = {"1", "ON", "YES", "TRUE"}


def is_repo_id(spec: str) -> bool:
    """Whether `spec` is spelled as a Hugging Face model repo id (ORG/REPO)."""
    return bool(_REPO_ID.match(spec)) and "--" not in spec and ".." not in spec


def endpoint() -> str:
    """The Hub's address: HF_ENDPOINT, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    """Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids the network, as
    huggingface_hub reads them."""
    return any((os.environ.get(v) or "").upper() in _TRUE
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hf_cache() -> Path:
    from advisor.files.hf import hf_cache_dir

    return hf_cache_dir()


# -- reading back what was fetched ---------------------------------------------------------------

class _NotCached(Exception):
    """A block of a GGUF header that the cache does not hold."""


class _Blocks:
    """A remote file as a read-only file object (read(n), seek(n, 1)) backed by blocks of BLOCK
    bytes at BLOCK-aligned offsets: those in `blocks`, others fetched with `fetch(offset, n)`
    (None: not cached) and then kept in `blocks`."""

    def __init__(self, size: int, blocks: dict[int, bytes], fetch=None):
        self.size, self.blocks, self.fetch, self.pos = size, blocks, fetch, 0

    def read(self, n: int) -> bytes:
        out = bytearray()
        while n > 0 and self.pos < self.size:
            start = self.pos - self.pos % BLOCK
            b = self.blocks.get(start)
            if b is None:
                if self.fetch is None:
                    raise _NotCached(start)
                b = self.blocks[start] = self.fetch(start, min(BLOCK, self.size - start))
            chunk = b[self.pos - start: self.pos - start + n]
            if not chunk:
                break
            out += chunk
            self.pos += len(chunk)
            n -= len(chunk)
        return bytes(out)

    def seek(self, n: int, whence: int = 0) -> int:
        self.pos = self.pos + n if whence == 1 else n
        return self.pos


def _label(repo: str, name: str) -> Path:
    """How a file of a repo is named in messages and inventories: ORG/REPO/file."""
    return Path(f"{repo}/{name}")


def _gguf(repo: str, files: list[tuple[str, int, dict]], fetcher=None):
    """(model, precision) from GGUF parts (name, size, blocks), in order."""
    from advisor.files import gguf_header_model
    from advisor.files.gguf_file import merge_parts, parse_header

    headers = []
    for name, size, blocks in files:
        f = _Blocks(size, blocks, fetcher(name) if fetcher else None)
        headers.append(parse_header(f, size, _label(repo, name)))
    first = _label(repo, files[0][0])
    return gguf_header_model(merge_parts(first, headers), first)


def _safetensors(repo: str, cfg: dict, where: str, files: list[tuple[str, int, bytes]]):
    """(model, precision) from a config and the safetensors headers (name, size, header JSON)."""
    from advisor.files import config_model
    from advisor.files.safetensors_file import parse_header

    shards = (parse_header(raw, size - 8, _label(repo, name)) for name, size, raw in files)
    return config_model(cfg, where, shards, repo, repo.split("/")[-1])


def _snapshot_config(repo: str, commit: str) -> Path | None:
    """config.json of a commit's snapshot in the Hugging Face cache, if it is there."""
    from advisor.files.hf import _inside

    snaps = _hf_cache() / ("models--" + repo.replace("/", "--")) / "snapshots"
    path = snaps / commit / "config.json"
    try:
        return path if path.is_file() and _inside(path.parent, snaps) else None
    except OSError:
        return None


def cached(repo: str, quant: str | None = None):
    """(model, precision) of `repo` from what an earlier fetch kept (no network), or None."""
    m = hub_cache.load(repo, quant)
    if m is None:
        return None
    from advisor.files.safetensors_file import MAX_HEADER_BYTES

    if m["kind"] == "gguf":
        files = []
        for f in m["files"]:
            blocks = {}
            for offset, sha in f["blocks"]:
                data = hub_cache.blob(sha, BLOCK)
                if data is None:
                    return None
                blocks[offset] = data
            files.append((f["name"], f["size"], blocks))
        if not files:
            return None
        try:
            return _gguf(repo, files)
        except _NotCached:
            return None
    config = _snapshot_config(repo, m["commit"])
    if config is None:
        return None
    from advisor.files.hf import read_config

    files = []
    for f in m["files"]:
        raw = hub_cache.blob(f["header"], MAX_HEADER_BYTES)
        if raw is None:
            return None
        files.append((f["name"], f["size"], raw))
    return _safetensors(repo, read_config(config), str(config), files)


# -- fetching ------------------------------------------------------------------------------------

def load_repo(repo: str, quant: str | None = None, *, unknown: str | None = None):
    """(model, the precision it is stored at) of a Hub repo (a GGUF file of it, given `quant`):
    from the cache when an earlier call kept it, else fetched (bounded; see the module).
    `unknown`: what the caller could not find it as (the KB's message), said first when the repo
    is offline-unavailable or missing. AdvisorError, one line, for every failure."""
    hit = cached(repo, quant)
    if hit is not None:
        return hit
    if offline():
        what = f"'{repo}'" + (f" with a GGUF file named like '{quant}'" if quant else "")
        where = (f"{unknown}; nor is it in the local Hugging Face cache" if unknown
                 else f"{what} is not in the local Hugging Face cache")
        raise AdvisorError(f"{where}, and HF_HUB_OFFLINE is set: nothing is fetched from the Hub")
    return _fetching(repo, lambda api: _fetch_model(api, repo, quant), unknown)


def fetch_config(repo: str) -> tuple[dict, str]:
    """(config.json of a Hub repo, its commit-pinned page address) for `advisor kb add --from
    ORG/REPO`: from the Hugging Face cache when a fetch put it there, else fetched."""
    m = hub_cache.load(repo, None)
    config = _snapshot_config(repo, m["commit"]) if m else None
    if config is None:
        from advisor.files.hf import cached_snapshot

        snap = cached_snapshot(repo)
        if snap is not None and (snap / "config.json").is_file():
            config = snap / "config.json"
    if config is None:
        if offline():
            raise AdvisorError(f"'{repo}' is not in the local Hugging Face cache, and "
                               "HF_HUB_OFFLINE is set: nothing is fetched from the Hub")
        config = _fetching(repo, lambda api: _download_config(api, repo, _info(api, repo))[0])
    from advisor.files.hf import read_config

    commit = config.parent.name
    return read_config(config), f"{endpoint()}/{repo}/blob/{commit}/config.json"


def _fetching(repo: str, work, unknown: str | None = None):
    """work(HfApi) within a bounded session, huggingface_hub's errors said as one line."""
    from advisor.files.hub_session import bounded

    ep = endpoint()
    try:
        with bounded(ep):
            from huggingface_hub import HfApi

            return work(HfApi(endpoint=ep))
    except AdvisorError:
        raise
    except Exception as exc:  # noqa: BLE001 - each kind said below; anything else is the Hub's
        raise AdvisorError(_say(exc, repo, ep, unknown)) from None


def _say(exc: Exception, repo: str, ep: str, unknown: str | None) -> str:
    """One line for an error huggingface_hub (or httpx2 under it) raised."""
    import httpx2
    from huggingface_hub import errors as e

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, e.GatedRepoError):
        return (f"'{repo}' is a gated repo on the Hugging Face Hub ({status}): accept its terms "
                f"at {ep}/{repo} and set HF_TOKEN to a token of that account")
    if isinstance(exc, e.RepositoryNotFoundError):
        first = f"{unknown}; and " if unknown else ""
        return (f"{first}the Hugging Face Hub at {ep} has no model repo '{repo}' ({status}; a "
                "private one needs HF_TOKEN set to a token with access)")
    if isinstance(exc, e.RevisionNotFoundError):
        return f"'{repo}' on the Hugging Face Hub has no branch main ({status})"
    if isinstance(exc, e.RemoteEntryNotFoundError):
        return f"'{repo}' on the Hugging Face Hub lacks a file it lists ({status}: {exc.response.url})"
    if isinstance(exc, e.OfflineModeIsEnabled):
        return (f"'{repo}' is not in the local Hugging Face cache, and HF_HUB_OFFLINE is set: "
                "nothing is fetched from the Hub")
    if isinstance(exc, e.HfHubHTTPError) and status is not None:
        return (f"the Hugging Face Hub at {ep} answered {status} for '{repo}' "
                f"({exc.response.request.method} {exc.response.url})")
    if isinstance(exc, httpx2.TimeoutException):
        return f"the Hugging Face Hub at {ep} did not answer in time for '{repo}' ({type(exc).__name__})"
    if isinstance(exc, (httpx2.TransportError, e.LocalEntryNotFoundError, e.FileMetadataError)):
        reason = quote.name(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 160)
        if unknown:
            return f"{unknown}; and the Hugging Face Hub at {ep} cannot be reached: {reason}"
        return f"cannot reach the Hugging Face Hub at {ep} for '{repo}': {reason}"
    if isinstance(exc, e.SafetensorsParsingError):
        return f"{repo}: a safetensors header on the Hub is not valid: {quote.name(str(exc), 200)}"
    if isinstance(exc, OSError) and exc.filename is not None:   # this machine's files, not the Hub
        return (f"'{repo}': the local Hugging Face cache cannot be used ({exc.strerror or exc}: "
                f"{quote.name(str(exc.filename), 160)}); check HF_HOME and HF_HUB_CACHE")
    return (f"the Hugging Face Hub at {ep} gave an answer for '{repo}' that huggingface_hub "
            f"cannot read ({type(exc).__name__}: {quote.name(str(exc), 160)})")


def _info(api, repo: str):
    """(commit, {file name: size}) of the repo's main branch (HfApi.model_info with sizes)."""
    from advisor.limits import HUB_TIMEOUT_S

    info = api.model_info(repo, files_metadata=True, timeout=HUB_TIMEOUT_S)
    commit = info.sha
    if not isinstance(commit, str) or not hub_cache.COMMIT.match(commit):
        raise AdvisorError(f"the Hugging Face Hub at {endpoint()} gave no commit hash for "
                           f"'{repo}' (got {quote.value(commit)})")
    sizes = {}  # file name -> its size, None where the Hub did not say
    for s in info.siblings or []:
        size = s.lfs.size if getattr(s, "lfs", None) else s.size
        if isinstance(s.rfilename, str):
            sizes[s.rfilename] = size if isinstance(size, int) and size >= 0 else None
    return commit, sizes


def _download_config(api, repo: str, info) -> tuple[Path, str, dict]:
    from advisor.files.hf import hf_cache_dir
    from advisor.limits import MAX_CONFIG_BYTES

    commit, sizes = info
    if "config.json" not in sizes:
        ggufs = [n for n in sizes if n.lower().endswith(".gguf")]
        hint = (f": a GGUF repo, whose files are named by their quant, as {repo}:Q4_K_M"
                if ggufs else ": not a transformers model repo")
        raise AdvisorError(f"'{repo}' on the Hugging Face Hub has no config.json{hint}")
    if (sizes["config.json"] or 0) > MAX_CONFIG_BYTES:
        raise AdvisorError(f"{repo}/config.json on the Hugging Face Hub is "
                           f"{sizes['config.json']:,} bytes, more than the {MAX_CONFIG_BYTES:,} "
                           "any real one has")
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(repo, "config.json", revision=commit, cache_dir=hf_cache_dir(),
                           endpoint=endpoint())
    return Path(path), commit, sizes


def _fetch_model(api, repo: str, quant: str | None):
    info = _info(api, repo)
    if quant:
        return _fetch_gguf(api, repo, quant, *info)
    from advisor.files.hf import read_config

    config, commit, sizes = _download_config(api, repo, info)
    cfg = read_config(config)
    files, kept = [], {}
    if "model.safetensors" in sizes or "model.safetensors.index.json" in sizes:
        from advisor.files import MAX_INDEX_BYTES

        if (sizes.get("model.safetensors.index.json") or 0) > MAX_INDEX_BYTES:
            raise AdvisorError(f"{repo}/model.safetensors.index.json on the Hugging Face Hub is "
                               f"{sizes['model.safetensors.index.json']:,} bytes, more than the "
                               f"{MAX_INDEX_BYTES:,} any real one has")
        meta = api.get_safetensors_metadata(repo, revision=commit)
        for name in sorted(meta.files_metadata):
            if name not in sizes:
                raise AdvisorError(f"{repo}: the safetensors index names {quote.name(name)}, "
                                   "which the repo on the Hugging Face Hub does not hold")
            fm = meta.files_metadata[name]
            header = {"__metadata__": fm.metadata} if fm.metadata else {}
            header.update({k: {"dtype": t.dtype, "shape": list(t.shape),
                               "data_offsets": list(t.data_offsets)}
                           for k, t in fm.tensors.items()})
            raw = json.dumps(header, separators=(",", ":")).encode()
            size = sizes[name] if sizes[name] is not None else _file_size(repo, name, commit)
            files.append((name, size, raw))
            kept[hub_cache.digest(raw)] = raw
    model = _safetensors(repo, cfg, str(config), files)
    hub_cache.save(repo, None, "safetensors", commit,
                   [{"name": n, "size": s, "header": hub_cache.digest(r)} for n, s, r in files],
                   kept)
    return model


def _file_size(repo: str, name: str, commit: str) -> int:
    """A file's size from a HEAD request (get_hf_file_metadata), for a Hub whose file list did
    not give it; AdvisorError when the answer does not either."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    from advisor.limits import HUB_TIMEOUT_S

    meta = get_hf_file_metadata(hf_hub_url(repo, name, revision=commit, endpoint=endpoint()),
                                timeout=HUB_TIMEOUT_S)
    if not isinstance(meta.size, int) or meta.size < 0:
        raise AdvisorError(f"{repo}/{name}: the Hugging Face Hub does not say how large it is")
    return meta.size


def pick_gguf(names: list[str], quant: str, repo: str) -> list[str]:
    """The GGUF file of a repo's file list that QUANT names (every part, in order, of a split
    one). A name holding QUANT between separators (-, _, ., /) wins over one merely containing
    it (Q4_K names ...-Q4_K.gguf, not ...-Q4_K_M.gguf); vision projectors (mmproj-*) are never
    picked. AdvisorError when none or several match, or a part is missing."""
    ggufs = [n for n in names if n.lower().endswith(".gguf")
             and not PurePosixPath(n).name.lower().startswith("mmproj")]
    q = quant.lower()
    exact = re.compile(rf"(?:^|[-_./]){re.escape(q)}(?:$|[-./])")
    hits = [n for n in ggufs if exact.search(n.lower()[:-5])]
    if not hits:
        hits = [n for n in ggufs if q in PurePosixPath(n).name.lower()]
    if not hits:
        some = ", ".join(quote.name(PurePosixPath(n).name) for n in sorted(ggufs)[:4])
        raise AdvisorError(f"'{repo}' on the Hugging Face Hub has no GGUF file named like "
                           f"'{quote.name(quant, 40)}'" + (f" (it has {len(ggufs)}: {some}"
                                                           f"{' ...' if len(ggufs) > 4 else ''})"
                                                           if ggufs else " (it has no GGUF file)"))
    firsts = sorted(n for n in hits if not _SPLIT.match(n) or "-00001-of-" in n)
    if len(firsts) != 1:
        some = ", ".join(quote.name(n) for n in firsts[:4])
        raise AdvisorError(f"'{repo}': {len(firsts)} GGUF models on the Hugging Face Hub are "
                           f"named like '{quote.name(quant, 40)}' ({some}): name one more exactly")
    m = _SPLIT.match(firsts[0])
    if not m:
        return firsts
    n = int(m.group("n"))
    parts = [f"{m.group('stem')}-{i:05d}-of-{n:05d}.gguf" for i in range(1, n + 1)]
    missing = [p for p in parts if p not in names]
    if missing:
        raise AdvisorError(f"'{repo}': the split GGUF {quote.name(firsts[0])} on the Hugging Face "
                           f"Hub lacks {len(missing)} of its {n} parts (first: "
                           f"{quote.name(missing[0])})")
    return parts


def _fetch_gguf(api, repo: str, quant: str, commit: str, sizes: dict):
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    from advisor.limits import HUB_TIMEOUT_S

    names = pick_gguf(sorted(sizes), quant, repo)
    headers = build_hf_headers()

    def fetcher(name):
        url = hf_hub_url(repo, name, revision=commit, endpoint=endpoint())

        def fetch(start: int, n: int) -> bytes:
            try:
                return _range(start, n)
            except AdvisorError:
                raise
            except Exception as exc:  # noqa: BLE001 - as _fetching says them (an HTTP error
                # is an OSError, which the GGUF reader would take for a local read error)
                raise AdvisorError(_say(exc, repo, endpoint(), None)) from None

        def _range(start: int, n: int) -> bytes:
            r = get_session().get(url, headers={**headers, "Range": f"bytes={start}-{start + n - 1}"},
                                  timeout=HUB_TIMEOUT_S)
            hf_raise_for_status(r)
            got = r.headers.get("Content-Range", "")
            if r.status_code != 206 or not got.startswith(f"bytes {start}-"):
                raise AdvisorError(f"{repo}/{name}: the Hugging Face Hub did not answer the byte "
                                   f"range {start}-{start + n - 1} with that range ({r.status_code}"
                                   f"{', ' + quote.name(got, 60) if got else ''})")
            if len(r.content) != n:
                raise AdvisorError(f"{repo}/{name}: the Hugging Face Hub sent {len(r.content):,} "
                                   f"bytes for a range of {n:,}")
            return r.content
        return fetch

    files = [(name, sizes[name] if sizes[name] is not None else _file_size(repo, name, commit), {})
             for name in names]
    model = _gguf(repo, files, fetcher)
    kept = {}
    listed = []
    for name, size, blocks in files:
        refs = []
        for offset in sorted(blocks):
            sha = hub_cache.digest(blocks[offset])
            kept[sha] = blocks[offset]
            refs.append([offset, sha])
        listed.append({"name": name, "size": size, "blocks": refs})
    hub_cache.save(repo, quant, "gguf", commit, listed, kept)
    return model
