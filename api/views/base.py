"""What every endpoint shares: key authentication, the per-key rate limit (checked before the role, so
refused requests count too), the role/scope check, JSON in and out, ``no-store`` answers, and
``query`` for reading parameters."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from api.auth import ApiKeyAuthentication
from api.errors import ApiError, JsonOnly
from api.permissions import KeyCapability
from api.serializers import ErrorSerializer
from api.throttling import PerKeyRateThrottle
from orgs.roles import Capability

_ERROR = OpenApiResponse(ErrorSerializer)
# Every endpoint can answer these; each also lists its own (400, 404, 409 ...).
COMMON_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No key, or an invalid, expired or revoked one."),
    403: OpenApiResponse(ErrorSerializer, description="The key's scope or role does not allow this."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests with this key: see Retry-After."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {400: "Invalid parameters or body.", 404: "No such object in this organization.", 409: "Conflict."}
    return {**COMMON_ERRORS, **{c: OpenApiResponse(ErrorSerializer, description=described.get(c, "")) for c in codes}}


class ApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [KeyCapability]
    throttle_classes = [PerKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    content_negotiation_class = JsonOnly
    metadata_class = None  # no OPTIONS introspection: 405
    #: The capability each method needs (orgs/roles.py), read by the permission and by the role walk.
    capabilities: dict[str, Capability] = {"GET": Capability.VIEW}

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        # DRF's order (authenticate, permissions, throttle), but the rate limit comes before the role check.
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        self.check_throttles(request)
        self.check_permissions(request)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    @property
    def principal(self):
        return self.request.auth

    @property
    def org(self):
        return self.request.auth.org

    def body(self, serializer_class):
        """The request's JSON body, validated (400 with the field errors otherwise)."""
        if not isinstance(self.request.data, dict):
            raise ApiError(400, "invalid_request", "Send a JSON object.")
        serializer = serializer_class(data=self.request.data)
        try:
            valid = serializer.is_valid()
        except (OverflowError, ValueError):  # e.g. a date that leaves the calendar once in UTC
            raise ApiError(400, "invalid_request", "The request holds a value out of range.") from None
        if not valid:
            raise ApiError(400, "invalid_request", "The request is not valid: see errors.", serializer.errors)
        return serializer.validated_data


def single(params, name: str, default: str = "") -> str:
    values = params.getlist(name)
    return values[0] if values else default
