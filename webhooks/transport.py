"""Posting a delivery: the SSRF guard and one HTTP request, no redirects.

A webhook URL is typed by a project's admin, but the request leaves from inside the server's
network, so a URL must not reach what only the server can: loopback, private, link-local
(cloud metadata at 169.254.169.254), multicast or reserved addresses are refused unless
``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is on (tests, a receiver on the same host). The check runs
when a webhook is saved (a clear 400 naming ``url``) and again at every delivery, on the
addresses the name resolves to then; the connection goes to the address that was checked
(TLS still verifies the host name), so a DNS answer that changes between check and connect
(rebinding) cannot steer it elsewhere. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

RESPONSE_KEEP = 2000  # characters of a response body kept in the log


class TargetRefused(Exception):
    """The URL may not be posted to (scheme, host, or an address the guard refuses)."""


@dataclass
class PostResult:
    status: int | None
    body: str
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))


def _refused_address(ip: ipaddress._BaseAddress) -> bool:
    return (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )  # fmt: skip


def target_resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for ``url``, or TargetRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise TargetRefused("has no host")
    if parts.username or parts.password:
        raise TargetRefused("must not carry a user name or password (use the secret)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"host {parts.hostname!r} does not resolve") from exc
    addresses = [info[4][0] for info in infos]
    if not _allow_private():
        for address in addresses:
            if _refused_address(ipaddress.ip_address(address.split("%")[0])):
                raise TargetRefused(
                    f"host {parts.hostname!r} resolves to a loopback, private or reserved "
                    "address; such targets are refused (WEBHOOKS_ALLOW_PRIVATE_TARGETS)"
                )
    return parts.scheme, parts.hostname, port, addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a checked address while TLS verifies the URL's host name."""

    def __init__(self, host, port, address, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._context = context

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> PostResult:
    """POST ``body`` to ``url``; never raises for network trouble (it is in ``error``)."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, address = target_resolve(url)
    except TargetRefused as exc:
        return PostResult(None, "", elapsed(), f"refused: url {exc}")
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if scheme == "https":
        conn = _PinnedHTTPSConnection(host, port, address, timeout, ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    try:
        conn.request("POST", path, body=body, headers={**headers, "Host": host_header})
        response = conn.getresponse()
        text = response.read(RESPONSE_KEEP * 4).decode("utf-8", "replace")[:RESPONSE_KEEP]
        return PostResult(response.status, text, elapsed())
    except (OSError, http.client.HTTPException) as exc:
        return PostResult(None, "", elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    finally:
        conn.close()
