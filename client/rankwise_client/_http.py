"""The one place that talks HTTP: authentication, retries, error mapping, cursor pages,
verified downloads.

Retries: a call is retried with exponential backoff (and the server's Retry-After, when it
sends one) on 502/503/504, 429 and transport errors only when sending it twice cannot do
anything twice: GET/HEAD/OPTIONS/PUT/DELETE, and the POSTs the caller marks idempotent
(scoring, which writes nothing; a prompt import, which leaves a line it already stored
unchanged; adding members). Any request whose connection was refused is retried, whatever
its method: it never reached the server.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from rankwise_client import __version__
from rankwise_client.errors import ApiError, ConnectionFailed, RankwiseError, Throttled, error_class

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# 503s that a retry cannot help: the server lacks the means (e.g. no torch for scoring).
PERMANENT_CODES = frozenset({"scoring_unavailable"})
MAX_RETRY_AFTER = 60.0
# Failures where the request cannot have reached the server.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


def _permanent(response: httpx.Response, stream: bool) -> bool:
    """The error's code says retrying is pointless (read only from a small JSON answer)."""
    if stream or "json" not in response.headers.get("Content-Type", ""):
        return False
    try:
        return response.json().get("error") in PERMANENT_CODES
    except ValueError:
        return False


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:200]
    return f"{response.reason_phrase}: {text}" if text else response.reason_phrase or "error"


def api_error(response: httpx.Response, *, method: str, url: str, attempts: int) -> ApiError:
    """The server's ``{"error", "detail", "fields"}`` as an exception (or, from something that
    is not the API, e.g. a proxy's HTML page, an error in the same shape)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code, detail = body["error"], str(body.get("detail") or body["error"])
        raw_fields = body.get("fields")
        fields = (
            {str(k): str(v) for k, v in raw_fields.items()} if isinstance(raw_fields, dict) else {}
        )
    else:
        code, detail, fields = f"http_{status}", _snippet(response), {}
    exc = error_class(status)(
        status, code, detail, fields=fields, body=body, method=method, url=url, attempts=attempts
    )
    if isinstance(exc, Throttled):
        exc.retry_after = _retry_after(response)
    return exc


class Http:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        transport: httpx.BaseTransport | None = None,
    ):
        if not url.startswith(("http://", "https://")):
            raise RankwiseError(f"the server URL must start with http:// or https://, not {url!r}")
        self.root = url.rstrip("/")
        self.api = self.root + "/api/v1/"
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep: Callable[[float], None] = time.sleep
        headers = {"Accept": "application/json", "User-Agent": f"rankwise-client/{__version__}"}
        if token:  # none only to exchange a password for a token (Client.token_for)
            headers["Authorization"] = f"Token {token}"
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        """``path`` relative to /api/v1/; a root-relative path (``/api/v1/...``, as the API's
        ``url`` fields and Location headers give) or an absolute URL is taken on this client's
        server, so a proxy or a server that names another host does not lead it astray."""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith("/"):
            return self.root + path
        return self.api + path

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)  # jitter: clients that failed together spread

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        files: Callable[[], dict] | None = None,
        data: dict | None = None,
        idempotent: bool | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send, retrying what is safe to retry; raise an ApiError for a 4xx/5xx answer."""
        method = method.upper()
        url = self.url(path)
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempt = 0
        while True:
            attempt += 1
            try:
                request = self._client.build_request(
                    method, url, params=params, json=json, data=data,
                    files=files() if files is not None else None,
                )  # fmt: skip
                response = self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if (safe or isinstance(exc, NOT_SENT)) and attempt <= self.retries:
                    self.sleep(self._delay(attempt, None))
                    continue
                raise ConnectionFailed(
                    f"{method} {url}: {type(exc).__name__}: {exc or 'connection failed'}"
                    f" (after {attempt} attempt{'s' if attempt > 1 else ''})",
                    method=method, url=url, attempts=attempt,
                ) from exc  # fmt: skip
            status = response.status_code
            if (status in RETRY_STATUSES and safe and attempt <= self.retries
                    and not _permanent(response, stream)):  # fmt: skip
                wait = _retry_after(response)
                if wait is None or wait <= MAX_RETRY_AFTER:
                    response.close()
                    self.sleep(self._delay(attempt, wait))
                    continue
            if status >= 400:
                if stream:
                    response.read()
                raise api_error(response, method=method, url=url, attempts=attempt)
            return response

    def call(self, method: str, path: str, **kwargs) -> Any:
        """``request`` and the decoded JSON body (None for an empty one, e.g. a 204)."""
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def get(self, path: str, params: dict | None = None) -> Any:
        return self.call("GET", path, params=params)

    def paginate(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a list endpoint, following cursor pages (``{"next", "results"}``);
        an endpoint answering a bare list is one page. The next page is asked from our own URL
        with the cursor of the server's ``next``, so a proxy that rewrites hosts does not
        matter."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        while True:
            page = self.get(path, query)
            if isinstance(page, list):
                yield from page
                return
            yield from page.get("results", [])
            following = page.get("next")
            if not following:
                return
            query = dict(parse_qsl(urlsplit(following).query, keep_blank_values=True))

    def download(
        self,
        path: str,
        dest: Path,
        *,
        params: dict | None = None,
        on_bytes: Callable[[int, int | None], None] | None = None,
    ) -> str:
        """Stream a file to ``dest`` (written to a temporary name, renamed when complete) and
        return its SHA-256; a server's ``X-Content-SHA256`` that does not match is an error
        and leaves nothing at ``dest``. Interrupted transfers start again (a GET)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        for attempt in range(1, self.retries + 2):
            response = self.request("GET", path, params=params, stream=True)
            digest, done = hashlib.sha256(), 0
            total = (
                int(response.headers["Content-Length"])
                if "Content-Length" in response.headers
                else None
            )
            try:
                with open(tmp, "wb") as f:
                    for chunk in response.iter_bytes(1 << 20):
                        f.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if on_bytes:
                            on_bytes(done, total)
            except httpx.TransportError as exc:
                tmp.unlink(missing_ok=True)
                if attempt > self.retries:
                    raise ConnectionFailed(
                        f"GET {self.url(path)}: {exc}", attempts=attempt
                    ) from exc
                self.sleep(self._delay(attempt, None))
                continue
            finally:
                response.close()
            expected = response.headers.get("X-Content-SHA256")
            if expected and expected != digest.hexdigest():
                tmp.unlink(missing_ok=True)
                raise RankwiseError(
                    f"downloaded {done} bytes with SHA-256 {digest.hexdigest()}, but the server "
                    f"says {expected}: the transfer was corrupted; nothing was written to {dest}"
                )
            os.replace(tmp, dest)
            return digest.hexdigest()
        raise AssertionError("unreachable")  # pragma: no cover
