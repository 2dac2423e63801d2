"""Exceptions: one base class, one class per kind of failure a caller handles differently.

Every API error carries the server's ``{"error", "detail", "fields"}``: ``code`` is the
machine-readable ``error`` (``invalid``, ``not_found``, ``invalid_import``...), ``detail`` the
sentence, ``fields`` the per-field messages (``{"config.lerning_rate": "unknown ..."}``,
``{"line 17": "completions: 1 item, need 2 to 9"}``).
"""

from __future__ import annotations

from typing import Any


class RankwiseError(Exception):
    """Base of every exception this package raises."""


class ConfigurationError(RankwiseError):
    """No server URL or token: pass them, set RANKWISE_URL / RANKWISE_TOKEN, or run
    ``rankwise login``."""


class ConnectionFailed(RankwiseError):
    """The server could not be reached (after the retries an idempotent call gets)."""

    def __init__(self, message: str, *, method: str = "", url: str = "", attempts: int = 1):
        super().__init__(message)
        self.method = method
        self.url = url
        self.attempts = attempts


class ApiError(RankwiseError):
    """The server answered with an error status."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        fields: dict[str, str] | None = None,
        body: Any = None,
        method: str = "",
        url: str = "",
        attempts: int = 1,
    ):
        self.status = status
        self.code = code
        self.detail = detail
        self.fields = dict(fields or {})
        self.body = body
        self.method = method
        self.url = url
        self.attempts = attempts
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.detail}"
        shown = {k: v for k, v in self.fields.items() if v not in self.detail}
        if shown:
            text += " (" + "; ".join(f"{k}: {v}" for k, v in shown.items()) + ")"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The server's error body (or one in its shape), with the status."""
        body = self.body if isinstance(self.body, dict) else {}
        return {**body, "status": self.status, "error": self.code, "detail": self.detail,
                "fields": self.fields}  # fmt: skip


class BadRequest(ApiError):
    """400: a field failed validation (``fields`` names it), a bad import, a bad export."""


class AuthenticationFailed(ApiError):
    """401: no token, or a wrong or revoked one."""


class PermissionDenied(ApiError):
    """403: authenticated, but the role does not allow it."""


class NotFound(ApiError):
    """404: no such object, or not visible to you (project membership)."""


class Conflict(ApiError):
    """409: the object's state does not allow it (cancel a finished run, download a snapshot
    that is not built, delete a referenced project)."""


class Throttled(ApiError):
    """429: too many requests; ``retry_after`` is the server's Retry-After in seconds."""

    retry_after: float | None = None


class ServerError(ApiError):
    """5xx: the server failed."""


class ServiceUnavailable(ServerError):
    """502, 503 or 504: a proxy, the server or a service behind it (the broker) is down; safe
    to try again later."""


class JobFailed(RankwiseError):
    """A snapshot, training run or generation job ended ``failed`` (or ``cancelled``)."""

    def __init__(self, obj: Any, message: str):
        super().__init__(message)
        self.obj = obj
        self.status = getattr(obj, "status", None)
        self.error = getattr(obj, "error", "") or ""


class WaitTimeout(RankwiseError):
    """``wait()`` / ``watch()`` gave up before the job finished (the job goes on)."""

    def __init__(self, obj: Any, message: str):
        super().__init__(message)
        self.obj = obj


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: Throttled,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def error_class(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError
