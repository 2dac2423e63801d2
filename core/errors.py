"""The base of every refusal a service raises on bad input or a state that forbids the request.

A service knows *why* it refuses (which field, which rule); the API layer knows *how* to say
it. ``ServiceError`` carries the first, and ``core.api.errors`` turns any of them into the one
error shape (``{"error": code, "detail": message, "fields": {name: message}}``) with the
subclass's status, so the API's error handling knows no feature app's exceptions by name.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal: ``code`` for clients, ``message`` for people, ``field`` where one input is at
    fault. Subclasses set ``code`` and ``status`` (and may override the ``api_*`` methods for a
    richer body)."""

    code = "invalid"
    status = 400
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def api_detail(self) -> str:
        return self.message

    def api_fields(self) -> dict[str, str]:
        return {self.field: self.message} if self.field else {}

    def api_extra(self) -> dict[str, Any]:
        return {}
