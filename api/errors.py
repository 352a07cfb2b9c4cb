"""One shape for every error the API answers: ``{"code": "...", "message": "..."}`` (plus ``errors``
with the details of an invalid request), whatever raised it — DRF, Django's 404/403, or a bug (a 500,
logged, with nothing of the exception in the answer)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ValidationError: "invalid_request",
    exceptions.PermissionDenied: "permission_denied",
}
MESSAGES = {
    "not_authenticated": "Send an API key: Authorization: Bearer <key>.",
    "not_found": "Not found.",
}


class ApiError(exceptions.APIException):
    """An error with its own status and code, e.g. ``ApiError(409, "scan_not_allowed", "...")``."""

    def __init__(self, status_code: int, code: str, message: str, errors: Any = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.errors = errors


def error_body(code: str, message: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, ApiError):
        return exc.code
    # DRF's own exceptions get our names; our subclasses (invalid_api_key, insufficient_scope ...) keep theirs.
    return CODES.get(type(exc)) or str(getattr(exc, "default_code", "error"))


def _message_of(exc: exceptions.APIException, code: str) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "The request is not valid: see errors."
    if isinstance(exc, exceptions.Throttled):
        return f"Too many requests with this key: try again in {exc.wait and int(exc.wait) or 60} seconds."
    if type(exc) in (exceptions.NotAuthenticated, exceptions.NotFound):
        return MESSAGES[code]
    detail = exc.detail
    if isinstance(detail, str) and detail:
        return str(detail)
    return MESSAGES.get(code, "The request could not be served.")


def exception_handler(exc: Exception, context: dict) -> Response:
    response = drf_exception_handler(exc, context)  # Http404/PermissionDenied become DRF's, headers set
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(error_body("server_error", "Something went wrong on our side; it was logged."), status=500)
    api_exc = exc
    if not isinstance(api_exc, exceptions.APIException):
        api_exc = exceptions.NotFound() if response.status_code == 404 else exceptions.PermissionDenied()
    code = _code_of(api_exc)
    errors = api_exc.detail if isinstance(api_exc, exceptions.ValidationError) else getattr(api_exc, "errors", None)
    response.data = error_body(code, _message_of(api_exc, code), errors)
    return response


@csrf_exempt  # a POST to a path that does not exist is a 404, not a CSRF refusal (the API has no cookies)
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /api/v1/: a JSON 404, like the API's own."""
    return JsonResponse(error_body("not_found", "No such endpoint: see /api/v1/schema/."), status=404)


class JsonOnly(BaseContentNegotiation):
    """The API speaks JSON whatever the Accept header says (no 406 for a browser's text/html)."""

    def select_parser(self, request, parsers):
        for parser in parsers:
            if request.content_type.split(";")[0].strip().lower() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
