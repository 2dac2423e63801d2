"""Give every request an id (the client's ``X-Request-ID`` if it is sane) and a source."""

from __future__ import annotations

import re
import uuid

from core.context import audit_context

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# URL prefixes and the source an audit event from them records; anything else is "web".
SOURCE_PREFIXES = (("/api/", "api"), ("/admin/", "admin"))


def request_source(path: str) -> str:
    return next((source for prefix, source in SOURCE_PREFIXES if path.startswith(prefix)), "web")


class RequestContextMiddleware:
    """Sets ``request.request_id`` and the audit context, and echoes the id in the response,
    so a client's report and the audit log can be matched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        with audit_context(source=request_source(request.path_info), request_id=request.request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
