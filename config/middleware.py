"""Request checks that come before any view."""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse


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
