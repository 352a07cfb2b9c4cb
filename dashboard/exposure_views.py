"""A resource's exposure (findings/exposure.py) for the map: the path as the map's node and edge ids, so
``static/dashboard/js/exposure_map.js`` can highlight it (``/map/?...&exposure=<resource id>``).
The resource page renders the same answer server-side (``exposure_context``)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse

from findings.exposure import ASSESSED_TYPES, EXPOSED, GROUP_TYPES, Exposure, exposure_of_resource
from inventory.access import get_resource_for_member
from orgs.decorators import org_view
from orgs.roles import Capability

ORG = "o/<slug:org_slug>/"
INTERNET_NODE = "internet"  # dashboard.topology.INTERNET_ID


def node_id(resource_id: int) -> str:
    return f"r{resource_id}"  # dashboard.topology._Builder.rnode


def map_url(org, resource) -> str:
    """The map scoped to the resource's connection and region, with its exposure path highlighted."""
    query = {"connection": resource.connection_id, "region": resource.region, "exposure": resource.pk}
    return reverse("dashboard:map", kwargs={"org_slug": org.slug}) + "?" + urlencode(query)


def exposure_context(request: HttpRequest, resource) -> dict | None:
    """What the resource page's exposure panel shows; None for a type that has no internet path."""
    if resource.resource_type not in ASSESSED_TYPES | GROUP_TYPES:
        return None
    exposure = exposure_of_resource(request.org, resource)
    return {
        "exposure": exposure,
        "map_url": map_url(request.org, resource) if exposure.state == EXPOSED else "",
    }


def as_map_json(exposure: Exposure, resource) -> dict:
    steps = [
        {
            "name": s.name,
            "type": s.resource_type,
            "link": s.link,
            "node": INTERNET_NODE if s.resource_type == "internet" else (node_id(s.id) if s.id is not None else None),
        }
        for s in exposure.path
    ]
    nodes = [s["node"] for s in steps if s["node"]]
    target = node_id(resource.pk)
    return {
        "state": exposure.state,
        "summary": exposure.summary(),
        "resource": target,
        "steps": steps,
        "nodes": nodes,
        "edges": [f"exp:{target}"] if exposure.state == EXPOSED else [],
    }


@org_view(Capability.VIEW)
def resource_exposure(request: HttpRequest, resource_id: int) -> JsonResponse:
    resource = get_resource_for_member(request, resource_id)
    return JsonResponse(as_map_json(exposure_of_resource(request.org, resource), resource))


urlpatterns = [
    path(f"{ORG}resources/<int:resource_id>/exposure.json", resource_exposure, name="resource_exposure"),
]
