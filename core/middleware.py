"""Give every request an id (the client's ``X-Request-ID`` if it is sane) and a source; answer
503 where a page's work could not be queued."""

from __future__ import annotations

import re
import uuid

from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from core.context import audit_context
from core.dispatch import BrokerUnavailable

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


RETRY_AFTER_S = 30


class BrokerUnavailableMiddleware:
    """Pages that queue work (admin export, recompute) answer 503 when the broker is down.

    The service raised before its transaction committed, so nothing was saved; the REST API
    maps the same exception in ``core.api.errors``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, BrokerUnavailable):
            return None
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            response = JsonResponse(
                {"error": "broker_unavailable", "detail": str(exception), "fields": {}},
                status=503,
            )
        else:
            response = HttpResponse(
                f"<!doctype html><title>Task queue unavailable</title><h1>Task queue "
                f"unavailable</h1><p>{escape(str(exception))}</p>",
                status=503,
            )
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
