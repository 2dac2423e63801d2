"""The REST API's one error shape, and the schema's account of it.

Every error response is ``{"error": code, "detail": message, "fields": {name: message}}`` with
a 4xx status. Domain exceptions raised by services (a judgement that breaks a rule, a refused
submission, an import with bad lines) are translated here, so views stay thin and a bad input
never surfaces as a 500.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from core.errors import ServiceError

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


class ApiError(exceptions.APIException):
    """Raise from a view for a 4xx with a specific code and field messages."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        fields: dict[str, str] | None = None,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail=detail, code=code)
        self.code = code
        self.fields = fields or {}
        self.status_code = status_code
        self.extra = extra or {}


def error_body(code: str, detail: str, fields: dict | None = None, **extra) -> dict:
    return {"error": code, "detail": detail, "fields": fields or {}, **extra}


def _flatten(errors: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error lists/dicts as {"field.sub[0]": "first message"}."""
    out: dict[str, str] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = key if not prefix else f"{prefix}.{key}"
            out.update(_flatten(value, name))
    elif isinstance(errors, list):
        if errors and all(not isinstance(e, (dict, list)) for e in errors):
            out[prefix or NON_FIELD] = " ".join(str(e) for e in errors)
        else:
            for i, value in enumerate(errors):
                if value:
                    out.update(_flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix or NON_FIELD] = str(errors)
    return out


def _summary(fields: dict[str, str]) -> str:
    if not fields:
        return "Invalid input."
    name, message = next(iter(fields.items()))
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return f"{name}: {message}{more}"


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


def _domain_error(exc: Exception) -> ApiError | None:
    """Map service-layer exceptions to API errors."""
    if isinstance(exc, ServiceError):
        error = ApiError(
            exc.code, exc.api_detail(), fields=exc.api_fields(), status_code=exc.status,
            extra=exc.api_extra(),
        )  # fmt: skip
        if exc.retry_after:
            error.wait = exc.retry_after  # Retry-After
        return error
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            fields = {k: " ".join(str(m) for m in v) for k, v in exc.message_dict.items()}
        else:
            fields = {NON_FIELD: " ".join(exc.messages)}
        return ApiError("invalid", _summary(fields), fields=fields)
    if isinstance(exc, ProtectedError):
        names = sorted({obj._meta.verbose_name for obj in exc.protected_objects})
        return ApiError(
            "protected",
            f"Still referenced by {', '.join(names)}; delete those first.",
            status_code=status.HTTP_409_CONFLICT,
        )
    return None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every handled error in the one JSON shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    domain = _domain_error(exc)
    if domain is not None:
        exc = domain
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django log it and answer 500

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, ApiError):
        body = error_body(exc.code, str(exc.detail), exc.fields, **exc.extra)
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        body = error_body("invalid", _summary(fields), fields)
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None)
        detail = exc.detail
        if isinstance(detail, (list, dict)):
            detail = _summary(_flatten(detail))
        body = error_body(code or getattr(detail, "code", "error"), str(detail))
    return Response(body, status=exc.status_code, headers=headers)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Machine-readable code, e.g. invalid, not_found.")
    detail = serializers.CharField(help_text="Human-readable message.")
    fields = serializers.DictField(
        child=serializers.CharField(),
        help_text='Per-field messages, e.g. {"ranking": "unknown completion \'Z\'"} or '
        '{"line 17": "completions: 1 item, need 2 to 9"}.',
    )


_ERROR_TEXTS = {
    400: "Invalid input; `fields` names each bad field.",
    401: "Not authenticated.",
    403: "Authenticated but not allowed (role), or a session write without its CSRF token.",
    404: "Not found, or not visible to you (project membership); also an invalid cursor.",
    409: "Conflict with the current state.",
    410: "Gone: the file is missing from the artifacts volume.",
    415: "The body's content type (or its encoding) is not one the operation reads.",
    429: "Too many requests.",
    503: "The task queue is unreachable; nothing was saved (`broker_unavailable`).",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """extend_schema(responses=...) entries for the error statuses an endpoint can give."""
    return {c: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXTS.get(c, "")) for c in codes}


def _sample_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: each operation documents the errors it can answer,
    derived from the one permission table (core.policy) and the operation's inputs,
    so the schema cannot forget one that a view's own ``error_responses`` left out:

    * 401 unless the rule is public;
    * 403 where the rule names roles, and on every write (CSRF on a session write);
    * 404 where the path has parameters (object or project) or the list takes a cursor;
    * 400 where the operation reads a body or query parameters, and 415 where it reads a body.
    """
    from django.urls import Resolver404, resolve

    from core.policy import PUBLIC, SIGNED_IN, rule_for

    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        try:
            view_name = resolve(_sample_path(path)).view_name
        except Resolver404:
            continue
        rule = rule_for(view_name)
        for method, operation in operations.items():
            access = rule.get(method.upper())
            parameters = operation.get("parameters", [])
            codes = set()
            if access != PUBLIC:
                codes.add(401)
            if (access not in (PUBLIC, SIGNED_IN)) or method != "get":
                codes.add(403)
            if "{" in path or any(p.get("name") == "cursor" for p in parameters):
                codes.add(404)
            if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
                codes.add(400)
            if "requestBody" in operation:
                codes.add(415)
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(
                    str(code),
                    {"content": {"application/json": {"schema": error}},
                     "description": _ERROR_TEXTS[code]},
                )  # fmt: skip
    return result


# --- Django's error views: JSON under /api/, pages elsewhere -------------------------------
# They answer what no view did: an unknown URL (404), a request Django refused before any view
# (400), or a bug (500). DRF views answer their own errors through exception_handler above.


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_404(request, exception=None):
    if _is_api(request):
        body = error_body("not_found", "No such URL in the API; see /api/docs/.")
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)


def error_400(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request was refused."), status=400)
    return defaults.bad_request(request, exception)


def error_500(request):
    if _is_api(request):
        body = error_body("server_error", "Something went wrong on our side; it is logged.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
