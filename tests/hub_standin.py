"""A stand-in Hugging Face Hub on 127.0.0.1 for tests: serves what huggingface_hub asks of the
Hub when advisor reads a model (advisor.files.hub), and records every request.

Requests served (as huggingface_hub 2.x sends them):
- GET  /api/models/{org}/{name}[/revision/{rev}]?blobs=True  (HfApi.model_info): id, sha and
  siblings (rfilename, size, blobId); 404 + X-Error-Code: RepoNotFound for an unknown repo.
- HEAD /{org}/{name}/resolve/{rev}/{file}  (hf_hub_download, HfApi.file_exists): 200 with
  X-Repo-Commit, ETag and Content-Length; 404 + X-Error-Code: EntryNotFound (and X-Repo-Commit)
  for a missing file; 401 + X-Error-Code: GatedRepo for a gated repo without the right token.
- GET  /{org}/{name}/resolve/{rev}/{file}, whole or with `Range: bytes=a-b` (206 with
  Content-Range: bytes a-b/size): config.json, a safetensors index, and byte ranges of the
  safetensors headers (HfApi.get_safetensors_metadata asks bytes=0-100000, then the rest) and of
  GGUF headers (advisor asks 1 MiB blocks).

A file may be "virtual": its first bytes (a header) and the size it claims; a range beyond the
bytes held reads zeros, and a whole GET of one is answered 500 (advisor must never download
weights).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class File:
    data: bytes
    size: int | None = None  # claimed size when larger than data (a virtual file)

    @property
    def total(self) -> int:
        return self.size if self.size is not None else len(self.data)


@dataclass
class Repo:
    files: dict[str, File]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    gated_token: str | None = None  # gated: only this token (Authorization: Bearer ...) reads files


@dataclass
class StandIn:
    repos: dict[str, Repo] = field(default_factory=dict)
    log: list[tuple] = field(default_factory=list)  # (method, path, range, authorization)
    status: int | None = None  # answer every request with this status (503: a busy Hub)
    endless: bool = False  # a whole GET streams without end (a hostile Hub)
    drip: float = 0.0  # a whole GET sends a byte every `drip` seconds, without end (a slow one)
    list_sizes: bool = True  # the file list gives each file's size (a mirror may not)

    def start(self) -> str:
        standin = self

        class Handler(_Handler):
            hub = standin

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [p for m, p, *_ in self.log if method in (None, m)]


_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    hub: StandIn

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
              length: int | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, extra: dict | None = None) -> None:
        self._send(status, json.dumps({"error": code}).encode(),
                   {"X-Error-Code": code, "Content-Type": "application/json", **(extra or {})})

    def do_HEAD(self):
        self._serve()

    def do_GET(self):
        self._serve()

    def _serve(self):
        path = self.path.split("?")[0]
        self.hub.log.append((self.command, self.path, self.headers.get("Range"),
                             self.headers.get("Authorization")))
        if self.hub.status:
            return self._send(self.hub.status, b"busy", {"Retry-After": "3600"})
        m = _API.match(path)
        if m and self.command == "GET":
            repo = self.hub.repos.get(m.group("repo"))
            if repo is None:
                return self._error(404, "RepoNotFound")
            info = {"id": m.group("repo"), "sha": repo.commit, "private": False,
                    "gated": "manual" if repo.gated_token else False,
                    "siblings": [{"rfilename": n, "blobId": hashlib.sha1(f.data).hexdigest(),
                                  **({"size": f.total} if self.hub.list_sizes else {})}
                                 for n, f in sorted(repo.files.items())]}
            return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
        m = _RESOLVE.match(path)
        if not m:
            return self._send(404, b"not found")
        repo = self.hub.repos.get(m.group("repo"))
        if repo is None:
            return self._error(404, "RepoNotFound")
        if repo.gated_token and self.headers.get("Authorization") != f"Bearer {repo.gated_token}":
            return self._error(401, "GatedRepo")
        if m.group("rev") not in ("main", repo.commit):
            return self._error(404, "RevisionNotFound")
        from urllib.parse import unquote

        f = repo.files.get(unquote(m.group("file")))
        if f is None:
            return self._error(404, "EntryNotFound", {"X-Repo-Commit": repo.commit})
        head = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes",
                "ETag": '"' + hashlib.sha256(f.data).hexdigest() + '"'}
        if self.command == "HEAD":
            return self._send(200, b"", head, length=f.total)
        rng = self.headers.get("Range")
        if rng is None:
            if self.hub.endless or self.hub.drip:
                self.send_response(200)
                self.send_header("X-Repo-Commit", repo.commit)
                self.end_headers()
                try:
                    while True:
                        if self.hub.drip:
                            time.sleep(self.hub.drip)
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        else:
                            self.wfile.write(b" " * 65536)
                except OSError:
                    return
            if f.size is not None:
                return self._send(500, b"a whole virtual file was asked for")
            return self._send(200, f.data, head)
        r = _RANGE.match(rng)
        if not r:
            return self._send(416, b"bad range")
        a = int(r.group(1))
        b = min(int(r.group(2)) if r.group(2) else f.total - 1, f.total - 1)
        if a > b:
            return self._send(416, b"range not satisfiable", {"Content-Range": f"bytes */{f.total}"})
        body = f.data[a:b + 1]
        body += b"\0" * (b + 1 - a - len(body))  # a virtual file's data: zeros
        return self._send(206, body, {**head, "Content-Range": f"bytes {a}-{b}/{f.total}"})
