"""Pages of the API that are not the API itself: the reference (Swagger UI over /api/v1/schema/, served
from drf-spectacular-sidecar's files, under our CSP: no inline script or style) and the OCSF export of
an organization's findings (streamed, the findings list's filters)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from api import ocsf
from findings import queries
from orgs.decorators import org_view
from orgs.roles import Capability

EXPORT_CHUNK = 2000


def reference(request: HttpRequest) -> HttpResponse:
    """The API reference, public like the schema it renders (it holds no data)."""
    return render(request, "api/reference.html", {"schema_url": reverse("api:schema")})


@org_view(Capability.VIEW)
def ocsf_export(request: HttpRequest) -> HttpResponse:
    """The filtered findings (the list page's parameters) as a JSON array of OCSF events."""
    findings, filters = queries.filter_findings(request.org, request.GET)
    if filters.errors:
        # Exporting more than was asked for would be worse than exporting nothing.
        return HttpResponseBadRequest("\n".join(filters.errors), content_type="text/plain; charset=utf-8")
    rows = (
        findings.select_related("connection", "resource")
        .defer("detail", "resource__config")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    stream = ocsf.json_array(ocsf.events(rows, request.org, request.org.slug))
    response = StreamingHttpResponse(stream, content_type="application/json")
    stamp = timezone.localtime(timezone.now()).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="findings-{request.org.slug}-{stamp}.ocsf.json"'
    response["Cache-Control"] = "no-store"
    return response
