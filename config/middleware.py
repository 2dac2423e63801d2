"""Request checks that come before any view."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.core.signals import got_request_exception
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render


def _answer(request, message: str):
    if request.path.startswith("/api/"):
        body = {"error": "bad_request", "detail": message, "fields": {}}
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class RejectNulMiddleware:
    """A NUL in the path or the query string is a 400 for every URL.

    Path converters such as ``<str:username>`` and query filters pass text straight to the
    database, and PostgreSQL refuses a NUL in a string literal with an error (a 500), so it is
    turned away here once rather than in each view.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return _answer(request, "A NUL character is not allowed in a URL.")
        return self.get_response(request)


class FriendlyErrorsMiddleware:
    """Friendly 403, 404 and 500 pages in every setting, DEBUG (the demo) included.

    Listed before the middleware that answers exceptions of its own (BrokerUnavailable's 503),
    so those answer first (process_exception runs in reverse order).

    A page that refuses (PermissionDenied) or finds nothing (Http404) gets the site's own page
    with the reason, as a plain response: no traceback in the log for an expected refusal, and
    no debug page listing the URL patterns when DEBUG is on. /api/ answers JSON on its own.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and not request.path.startswith("/api/")
            and not getattr(response, "rankwise_friendly", False)
            and "text/html" in response.get("Content-Type", "")
        ):
            # An unknown URL (the resolver's 404 bypasses process_exception).
            return friendly_error(request, 404)
        return response

    def process_exception(self, request, exception):
        if request.path.startswith("/api/"):
            return None
        if isinstance(exception, Http404):
            return friendly_error(request, 404)
        if isinstance(exception, PermissionDenied):
            return friendly_error(request, 403, str(exception))
        if settings.DEBUG and not isinstance(exception, (SuspiciousOperation, BadRequest)):
            # The demo runs with DEBUG on: a bug gets the friendly page there too (without DEBUG
            # Django's handler500 renders it), its traceback in the log as always; the signal
            # lets the test client re-raise it.
            logger.error("Internal Server Error: %s", request.path, exc_info=exception)
            got_request_exception.send(sender=None, request=request)
            return friendly_error(request, 500)
        return None


logger = logging.getLogger("django.request")


def friendly_error(request, status: int, reason: str = ""):
    response = render(request, f"{status}.html", {"exception": reason}, status=status)
    response.rankwise_friendly = True
    return response
