"""Signatures of webhook deliveries: ``X-Rankwise-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed with the webhook's secret, of ``"<t>." + body`` (the raw request
body bytes). Signing the timestamp with the body lets a receiver refuse a replayed request
older than its tolerance. docs/api.md ("Webhooks") has the receiver's side in ten lines; this
module's ``signature_verify`` is the same check, used by the tests' receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Rankwise-Signature"
TOLERANCE_SECONDS = 300


def signature_compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time() if timestamp is None else timestamp)
    return f"t={t},v1={signature_compute(secret, t, body)}"


def signature_verify(
    secret: str, header: str, body: bytes, *, now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:  # fmt: skip
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature_compute(secret, t, body)
    return hmac.compare_digest(expected, parts.get("v1", ""))
