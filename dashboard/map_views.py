"""The architecture map: the page (scope selectors, type filter, legend, the canvas) and its data, the
Cytoscape elements of ``dashboard.topology.build_topology`` for the same parameters.

Parameters (both views): ``connection`` (id), ``region``, ``network`` (a VPC/VNet's resource id),
``type`` (repeatable, a map type), ``empty=show`` (draw the empty networks, which are otherwise one
"N empty networks" node), and for the data only ``expand`` (aggregate node ids). A malformed
parameter is a 400 with a message; another organization's connection or VPC is a 404, as if it did
not exist. Queries: a fixed handful per request whatever the inventory's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse

from connections.access import get_connection_for_member
from connections.models import CloudConnection
from dashboard import map_cache, topology
from inventory.models import GLOBAL_REGION, Resource
from inventory.stats import grouped_counts
from orgs.decorators import org_view
from orgs.roles import Capability

ORG = "o/<slug:org_slug>/"
MAX_NETWORK_OPTIONS = 500


class BadParameter(ValueError):
    pass


@dataclass
class MapParams:
    connection: CloudConnection | None = None
    region: str = ""
    network: dict | None = None  # {id, name, resource_type, connection_id, region}
    types: frozenset[str] | None = None  # None: the defaults
    expand: list[str] = field(default_factory=list)
    show_empty: bool = False

    def query(self) -> dict[str, object]:
        """The scope as query parameters (types apart)."""
        found: dict[str, object] = {}
        if self.connection is not None:
            found["connection"] = self.connection.pk
        if self.region:
            found["region"] = self.region
        if self.network is not None:
            found["network"] = self.network["id"]
        if self.show_empty:
            found["empty"] = "show"
        return found


def _int(request: HttpRequest, name: str, what: str) -> int | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadParameter(f"Choose {what} from the list.")
    return int(raw)


def parse_params(request: HttpRequest, *, with_expand: bool = False) -> MapParams:
    """The map's parameters, checked. BadParameter for malformed input; Http404 for an id that is not
    this organization's."""
    params = MapParams()
    connection_id = _int(request, "connection", "a connection")
    if connection_id is not None:
        params.connection = get_connection_for_member(request, connection_id)
    region = request.GET.get("region", "").strip()
    if region:
        if not topology.valid_region(region):
            raise BadParameter("Unknown region: choose one from the list.")
        params.region = region
    network_id = _int(request, "network", "a VPC or VNet")
    if network_id is not None:
        network = (
            Resource.objects.for_org(request.org)
            .filter(pk=network_id)
            .values("id", "name", "resource_type", "connection_id", "region")
            .first()
        )
        if network is None:
            raise Http404("No such VPC or VNet.")
        if network["resource_type"] not in topology.NETWORK_TYPES:
            raise BadParameter("That resource is not a VPC or VNet.")
        if params.connection is not None and network["connection_id"] != params.connection.pk:
            raise BadParameter("That VPC or VNet belongs to another connection.")
        if params.region and network["region"] != params.region:
            raise BadParameter("That VPC or VNet is in another region.")
        params.network = network
    params.show_empty = request.GET.get("empty") == "show"
    try:
        params.types = topology.parse_types(request.GET.getlist("type"))
    except topology.TopologyError as exc:
        raise BadParameter(str(exc)) from exc
    if with_expand:
        expand = [e for e in request.GET.getlist("expand") if e]
        if len(expand) > topology.MAX_EXPAND or any(not topology.EXPAND_ID.match(e) for e in expand):
            raise BadParameter("Unknown group to expand.")
        params.expand = expand
    return params


def _scope(org, params: MapParams):
    qs = Resource.objects.for_org(org).exclude(region=GLOBAL_REGION)
    if params.connection is not None:
        qs = qs.filter(connection=params.connection)
    if params.region:
        qs = qs.filter(region=params.region)
    return qs


@org_view(Capability.VIEW)
def map_page(request: HttpRequest) -> HttpResponse:
    connections = list(
        CloudConnection.objects.for_org(request.org).order_by("name", "id").values("id", "name", "provider")
    )
    context: dict[str, object] = {"connections": connections}
    if not connections:
        return render(request, "dashboard/map.html", context)
    status = 200
    try:
        params = parse_params(request)
    except BadParameter as exc:
        params, status = MapParams(), 400
        context["error"] = str(exc)
    counts = grouped_counts(request.org)
    if status == 200 and not any(name in request.GET for name in ("connection", "region", "network")):
        first = map_cache.first_view_scope(counts)
        if first is not None:  # a large organization opens on its largest region, not on everything
            params.connection = get_connection_for_member(request, first[0])
            params.region = first[1]
            context["first_view"] = {"total": f"{first[2]:,}", "connection": params.connection.name, "region": first[1]}
    providers = {params.connection.provider} if params.connection is not None else {c["provider"] for c in connections}
    scope = _scope(request.org, params)
    selected_types = params.types if params.types is not None else topology.DEFAULT_TYPES
    # Regions and "anything to map?" from the inventory's cached group counts: no scan of the
    # organization's resources (a DISTINCT over 100,000 rows took most of this page's time).
    groups = [
        (region, rtype)
        for conn_id, _provider, rtype, region, _n in counts
        if region != GLOBAL_REGION and (params.connection is None or conn_id == params.connection.pk)
    ]
    mapped = {*topology.MAP_TYPES, *topology.CONTAINER_TYPES}
    context.update(
        params=params,
        regions=sorted({region for region, _ in groups}),
        networks=list(
            scope.filter(resource_type__in=topology.NETWORK_TYPES)
            .order_by("region", "name", "id")
            .values("id", "name", "region", "resource_type")[:MAX_NETWORK_OPTIONS]
        ),
        type_options=[
            {"type": t.rtype, "label": t.label, "family": t.family, "checked": t.rtype in selected_types}
            for t in topology.MAP_TYPES.values()
            if t.rtype.split(".", 1)[0] in providers
        ],
        has_resources=any(
            rtype in mapped and (not params.region or region == params.region) for region, rtype in groups
        ),
        data_url=reverse("dashboard:map_data", kwargs={"org_slug": request.org.slug}) + _query_string(params.query()),
        export_name=f"cloustral-map-{request.org.slug}",
        empty_toggle_url=_query_string({**params.query(), "empty": "" if params.show_empty else "show"}),
    )
    return render(request, "dashboard/map.html", context, status=status)


@org_view(Capability.VIEW)
def map_data(request: HttpRequest) -> JsonResponse:
    try:
        params = parse_params(request, with_expand=True)
        body = map_cache.map_json(
            request.org,
            connection=params.connection.pk if params.connection is not None else None,
            region=params.region or None,
            network=params.network["id"] if params.network else None,
            types=params.types,
            expand=params.expand,
            show_empty=params.show_empty,
        )
    except (BadParameter, topology.TopologyError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return HttpResponse(body, content_type="application/json")


def _query_string(query: dict[str, object]) -> str:
    query = {k: v for k, v in query.items() if v != ""}
    return f"?{urlencode(query)}" if query else ""


urlpatterns = [
    path(f"{ORG}map/", map_page, name="map"),
    path(f"{ORG}map/data.json", map_data, name="map_data"),
]
