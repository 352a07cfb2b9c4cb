"""The architecture map's data as the page downloads it: built once per state of the inventory and of
the findings, then served from the cache, and trimmed to what the first view draws.

Building the map of a large organization reads tens of thousands of resources and relationships (about
a second at 100,000 resources), while what it depends on changes only when a sync writes the inventory
(``inventory.stats.inventory_stamp``) or a finding opens, resolves, is suppressed or lifted (each of
these writes a ``FindingEvent``: the newest event's id). The cache key carries both stamps, so an entry
is never read after either changed: a new stamp is a new key. A rule whose severity is edited changes
open findings without an event; entries therefore also expire after ``CACHE_SECONDS``.

The page never uses an aggregate's full member list (expanding asks the server again), only member names
for its search: each aggregate carries at most ``MAX_NAMES`` of them, so the payload is bounded by the
node limit whatever the organization's size. An organization with more than ``FIRST_VIEW_MAX`` resources
to map opens on its largest (connection, region) rather than on everything, and the inventory hook
``warm_after_sync`` builds that first view as soon as a sync and its findings are written, so the
first visitor after a sync finds it ready. Asked for everything (or a whole connection) past that size,
the map is ``topology.build_overview``: counts per region and type aggregated in SQL, a few queries and
a few kilobytes whatever the size (about 30 ms uncached at 100,000 resources, where reading every row
for a cut map took 0.8 s; bench/map_topology.py); clicking one of its aggregates draws that region.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache

from dashboard import topology
from findings.models import FindingEvent
from inventory.models import GLOBAL_REGION
from inventory.stats import grouped_counts, inventory_stamp

CACHE_SECONDS = 300
FIRST_VIEW_MAX = 5_000  # resources to map past which a first visit opens on one region
MAX_NAMES = 100  # member names an aggregate carries for the page's search
EMPTY_MESSAGE = "No resources to map in this scope: choose another connection or region, or scan again."


def map_stamp(org) -> str:
    """The inventory's stamp and the newest finding event's id (which moves whenever a finding of the
    organization changes status), in one query."""
    return inventory_stamp(org, FindingEvent)


def _key(org, scope: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(scope, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"dashboard:map:v1:{org.pk}:{map_stamp(org)}:{digest}"


def map_json(org, **scope: Any) -> bytes:
    """The JSON document of ``build(org, **scope)`` for the page, encoded (see the
    module's docstring). One small query when cached; the build's handful more when not."""
    key = _key(org, {k: sorted(v) if isinstance(v, (set, frozenset, list, tuple)) else v for k, v in scope.items()})
    body = cache.get(key)
    if body is None:
        built = build(org, **scope)
        payload = first_view(built.as_json())
        payload["empty"] = built.total == 0 and not built.nodes
        if payload["empty"]:
            payload["message"] = EMPTY_MESSAGE
        body = json.dumps(payload, separators=(",", ":")).encode()
        cache.set(key, body, CACHE_SECONDS)
    return body


def build(org, **scope: Any) -> topology.Topology:
    """The map of ``scope``: an overview (``topology.build_overview``) when no region narrows a scope of
    more than FIRST_VIEW_MAX resources to map, whose every drawing would read them all for a cut map;
    the region's map once one of the overview's aggregates is expanded; else ``build_topology``."""
    if scope.get("region") is None and scope.get("network") is None:
        expand = list(scope.get("expand") or ())
        chosen = next((r for r in map(topology.overview_region, expand) if r is not None), None)
        if chosen is not None:  # an overview's aggregate clicked: that region's map, at once
            connection, region = chosen
            if scope.get("connection") in (None, connection):
                return topology.build_topology(org, **{**scope, "connection": connection, "region": region})
        counts = grouped_counts(org)
        if mapped_count(counts, scope.get("connection")) > FIRST_VIEW_MAX:
            return topology.build_overview(org, counts, connection=scope.get("connection"), types=scope.get("types"))
    return topology.build_topology(org, **scope)


def mapped_count(counts, connection_id: int | None = None) -> int:
    """Resources to map (map types and their networks, outside the global region) in the organization or
    one of its connections."""
    mapped = {*topology.MAP_TYPES, *topology.CONTAINER_TYPES}
    return sum(
        n
        for conn_id, _provider, rtype, region, n in counts
        if rtype in mapped and region != GLOBAL_REGION and connection_id in (None, conn_id)
    )


def first_view(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload less what the page does not draw: an aggregate's member ids, and member names past
    MAX_NAMES (with how many there are in all)."""
    for node in payload["elements"]["nodes"]:
        data = node["data"]
        if data.get("kind") != "aggregate":
            continue
        data.pop("members", None)
        names = data.get("names") or []
        if len(names) > MAX_NAMES:
            data["names"] = names[:MAX_NAMES]
            data["names_total"] = len(names)
    return payload


def first_view_scope(counts) -> tuple[int, str, int] | None:
    """(connection id, region, resources to map in the organization) of the scope a first visit opens
    on when the whole organization has more than FIRST_VIEW_MAX resources to map (drawing them all
    takes seconds and shows a cut map): the (connection, region) with the most; None otherwise."""
    mapped = {*topology.MAP_TYPES, *topology.CONTAINER_TYPES}
    per_scope: dict[tuple[int, str], int] = {}
    for conn_id, _provider, rtype, region, n in counts:
        if rtype in mapped and region != GLOBAL_REGION:
            per_scope[(conn_id, region)] = per_scope.get((conn_id, region), 0) + n
    total = sum(per_scope.values())
    if total <= FIRST_VIEW_MAX:
        return None
    (conn_id, region), _ = max(per_scope.items(), key=lambda kv: (kv[1], -kv[0][0], kv[0][1]))
    return conn_id, region, total


def first_view_params(org) -> dict[str, Any]:
    """The scope of the data the map page asks for when opened with no parameter (map_views.map_page)."""
    first = first_view_scope(grouped_counts(org))
    scope = {"connection": None, "region": None} if first is None else {"connection": first[0], "region": first[1]}
    return {**scope, "network": None, "types": None, "expand": [], "show_empty": False}


def warm_after_sync(run) -> None:
    """The inventory hook: build the map's first view once a sync and its findings are written (this
    hook runs after the findings engine's), so the first visitor after a sync finds it cached."""
    from orgs.models import Organization

    org = Organization.objects.get(pk=run.org_id)
    map_json(org, **first_view_params(org))
