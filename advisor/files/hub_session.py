"""A bounded HTTP client for huggingface_hub: what one Hub fetch may cost, enforced on every request.

huggingface_hub sends its requests through one shared httpx2 client, which it builds with a
factory that `huggingface_hub.set_client_factory` replaces. While `bounded()` is active that
factory builds a client whose event hooks (httpx2's public hooks, called for every request and
every redirect hop) hold the fetch to:

- a wall-clock deadline for the whole fetch (HUB_DEADLINE_S), checked before each request and
  as each chunk of a body arrives, and a connect/read timeout on each request (HUB_TIMEOUT_S);
- at most MAX_HUB_REQUESTS requests (redirects included) and MAX_HUB_BYTES of response bodies in
  all, counted as they arrive (a body that claims more is refused before it is read);
- uncompressed bodies only (`Accept-Encoding: identity`; a compressed answer is refused), so the
  bytes counted are the bytes kept: no decompression bomb;
- no waiting on a busy or failing server: an answer of 408, 429 or 5xx stops the fetch at once
  (huggingface_hub would otherwise sleep and retry, as long as a Retry-After header asks);
- plain HTTP only: the headers that switch huggingface_hub to its Xet download client (which
  does its own networking, outside these bounds) are dropped, so a file is read by HTTP.

Going past a bound raises HubLimit, an exception huggingface_hub does not catch or retry, so
the fetch stops with one line saying which bound. Environment proxies are honoured as
huggingface_hub's own client does (httpx2's trust_env).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import httpx2  # this module is imported only to fetch (with huggingface_hub, which needs it)

from advisor.errors import AdvisorError
from advisor.limits import (
    HUB_DEADLINE_S,
    HUB_TIMEOUT_S,
    MAX_HUB_BYTES,
    MAX_HUB_REQUESTS,
)

_BUSY = (408, 429, 500, 502, 503, 504)


class HubLimit(AdvisorError):
    """A fetch from the Hub went past one of its bounds, or the Hub answered busy or failing."""


class Budget:
    """What is left of one fetch: requests, bytes and time; shared by the threads
    huggingface_hub starts (it reads safetensors headers of shards in parallel)."""

    def __init__(self, endpoint: str, *, deadline_s: float | None = None,
                 max_bytes: int | None = None, max_requests: int | None = None,
                 timeout_s: float | None = None):
        """Limits not given are this module's (advisor.limits' values)."""
        deadline_s = HUB_DEADLINE_S if deadline_s is None else deadline_s
        max_bytes = MAX_HUB_BYTES if max_bytes is None else max_bytes
        max_requests = MAX_HUB_REQUESTS if max_requests is None else max_requests
        timeout_s = HUB_TIMEOUT_S if timeout_s is None else timeout_s
        self.endpoint = endpoint
        self.deadline = time.monotonic() + deadline_s
        self.deadline_s, self.timeout_s = deadline_s, timeout_s
        self.max_bytes, self.max_requests = max_bytes, max_requests
        self.bytes = self.requests = 0
        self._lock = threading.Lock()

    def left_s(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise HubLimit(f"the Hugging Face Hub at {self.endpoint} took longer than "
                           f"{self.deadline_s:g} s to answer (the limit for one model)")
        return left

    def request(self) -> None:
        with self._lock:
            self.requests += 1
            if self.requests > self.max_requests:
                raise HubLimit(f"reading the model from the Hugging Face Hub at {self.endpoint} "
                               f"took more than {self.max_requests:,} requests (the limit)")

    def take(self, n: int) -> None:
        with self._lock:
            self.bytes += n
            over = self.bytes > self.max_bytes
        if over:
            raise HubLimit(f"the Hugging Face Hub at {self.endpoint} sent more than "
                           f"{self.max_bytes:,} bytes for one model's config and headers (the "
                           "limit; no weights are downloaded)")
        self.left_s()


class _Counted(httpx2.SyncByteStream):
    """A response body stream (httpx2.SyncByteStream) that charges every chunk to the budget."""

    def __init__(self, inner, budget: Budget):
        self.inner, self.budget = inner, budget

    def __iter__(self):
        for chunk in self.inner:
            self.budget.take(len(chunk))
            yield chunk

    def close(self) -> None:
        self.inner.close()


def _hooks(budget: Budget):
    def on_request(request) -> None:
        budget.request()
        t = min(budget.timeout_s, budget.left_s())
        request.extensions["timeout"] = {"connect": t, "read": t, "write": t, "pool": t}
        request.headers["Accept-Encoding"] = "identity"

    def on_response(response) -> None:
        url = f"{response.request.method} {response.request.url}"
        problem = None
        if response.status_code in _BUSY:
            problem = (f"the Hugging Face Hub answered {response.status_code} to {url}: busy or "
                       "failing; try again later")
        elif response.headers.get("Content-Encoding", "identity").lower() != "identity":
            problem = (f"the Hugging Face Hub answered {url} with a compressed body "
                       f"({response.headers['Content-Encoding']}), though asked for none")
        elif response.request.method != "HEAD":  # a HEAD's Content-Length is the file's size
            try:
                claimed = int(response.headers.get("Content-Length", "0"))
            except ValueError:
                claimed = 0
            if claimed > budget.max_bytes - budget.bytes:
                problem = (f"the Hugging Face Hub answered {url} with {claimed:,} bytes, more "
                           f"than the {budget.max_bytes:,} one model's config and headers may "
                           "take (no weights are downloaded)")
        if problem:
            response.close()
            raise HubLimit(problem)
        for h in [h for h in response.headers if h.lower().startswith("x-xet-")]:
            del response.headers[h]
        if "link" in response.headers and "xet" in response.headers["link"].lower():
            del response.headers["link"]
        response.stream = _Counted(response.stream, budget)

    return on_request, on_response


@contextmanager
def bounded(endpoint: str, **limits):
    """Within the block, huggingface_hub's requests go through a client held to a new Budget
    (yielded); the previous client factory is put back after. Progress bars are off: the
    library never prints."""
    import warnings

    from huggingface_hub.utils import _http, disable_progress_bars, set_client_factory

    budget = Budget(endpoint, **limits)
    on_request, on_response = _hooks(budget)

    def factory():
        return httpx2.Client(
            event_hooks={"request": [_http.hf_request_event_hook, on_request],
                         "response": [on_response]},
            follow_redirects=True, max_redirects=10,
            timeout=httpx2.Timeout(budget.timeout_s))

    previous = getattr(_http, "_GLOBAL_CLIENT_FACTORY", _http.default_client_factory)
    set_client_factory(factory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # HF_HUB_DISABLE_PROGRESS_BARS=0 makes this warn
        quiet = disable_progress_bars()
    try:
        yield budget
    finally:
        set_client_factory(previous)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quiet.__exit__(None, None, None)
