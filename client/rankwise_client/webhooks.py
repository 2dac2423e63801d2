"""Verifying a Rankwise webhook on the receiving side (no server code needed).

Each delivery carries ``X-Rankwise-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 of ``"<t>." + raw body`` keyed with the webhook's secret::

    from rankwise_client.webhooks import signature_verify

    if not signature_verify(secret, request.headers["X-Rankwise-Signature"], request.body):
        return 400
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Rankwise-Signature"


def signature_verify(secret: str, header: str, body: bytes, *, tolerance: float = 300,
                     now: float | None = None) -> bool:  # fmt: skip
    """True if ``header`` signs the raw ``body`` with ``secret`` and its timestamp is within
    ``tolerance`` seconds of now (an old request replayed by a third party fails)."""
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))
