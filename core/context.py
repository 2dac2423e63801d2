"""Where the current work comes from (api, admin, command, worker ...) and its request id.

The request middleware sets it for each request, management commands and the worker set it
around their work, and the audit log reads it, so services need not thread the request
through every call. Outside any of these it is ``system`` with no request id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

SOURCES = ("api", "admin", "web", "command", "worker", "system")


@dataclass(frozen=True)
class AuditContext:
    source: str = "system"
    request_id: str = ""


SYSTEM = AuditContext()
_current: ContextVar[AuditContext | None] = ContextVar("rankwise_audit_context", default=None)


def audit_context_current() -> AuditContext:
    return _current.get() or SYSTEM


@contextmanager
def audit_context(*, source: str, request_id: str = "") -> Iterator[AuditContext]:
    """Run the block as coming from ``source`` (one of SOURCES)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    context = AuditContext(source=source, request_id=request_id)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
