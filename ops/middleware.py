from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from ops.dispatch import BrokerUnavailable

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
