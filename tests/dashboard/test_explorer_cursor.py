"""Forged explorer cursors: the cursor is an opaque token in the URL, so anyone can send any bytes. Every
malformed one is treated as "no cursor": the first page with a warning (full page and htmx partial), and
the export (which ignores the cursor) still streams the whole filtered set. Never a 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from findings import resource_search as ex
from tests.factories import CloudConnectionFactory, ResourceFactory


def _token(payload: object) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(sort: str, value: object, pk: object = 1, d: str = "n") -> str:
    return _token({"s": sort, "v": value, "i": pk, "d": d})


# (sort, cursor): each malformed in its own way.
FORGED = [
    ("last_seen", _cursor("last_seen", "2024-13-45T00:00:00+00:00")),  # well-formed, impossible date
    ("-last_seen", _cursor("-last_seen", "2024-02-30T10:00:00Z", d="p")),
    ("last_seen", _cursor("last_seen", "2024-01-01T00:00:00+99:99")),  # impossible offset
    ("first_seen", _cursor("first_seen", "0001-01-01T00:00:00+14:00")),  # before year 1 in UTC
    ("-last_seen", _cursor("-last_seen", "9999-12-31T23:59:59-14:00")),  # after year 9999 in UTC
    ("last_seen", _cursor("last_seen", "yesterday")),
    ("last_seen", _cursor("last_seen", "2024-05-01T12:00:00")),  # naive
    ("last_seen", _cursor("last_seen", 1714564800)),  # wrong type
    ("name", _cursor("name", "web", pk="7")),  # pk as text
    ("name", _cursor("name", "web", pk=True)),
    ("name", _cursor("name", "web", pk=-1)),
    ("name", _cursor("name", {"a": 1})),
    ("name", _cursor("name", "web", d="sideways")),
    ("name", _cursor("-name", "web")),  # made for another sort
    ("name", _cursor("colour", "web")),
    ("name", _token(b'{"s":"name","v":"\\ud800","i":1,"d":"n"}')),  # lone surrogate: no driver encodes it
    ("name", _token(b"[" * 3000 + b"]" * 3000)),  # deep nesting: RecursionError in json
    ("name", _token(b'{"s":"name","v":"x","i":' + b"9" * 5000 + b',"d":"n"}')),  # int too long to parse
    ("name", _token([1, 2, 3])),
    ("name", _token(b"\xff\xfe not utf-8")),
    ("name", "not base64 at all !!"),
    ("name", "éé"),  # not ASCII
    ("name", "abc"),  # bad padding
    ("name", "A" * (ex.MAX_CURSOR + 4)),
]


@pytest.fixture
def resources(org):
    conn = CloudConnectionFactory(org=org, name="Prod")
    t = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return [ResourceFactory(connection=conn, name=f"r-{i}", first_seen=t, last_seen=t) for i in range(3)]


@pytest.mark.parametrize(("sort", "token"), FORGED)
def test_decode_cursor_rejects_forgeries_without_raising(sort, token):
    assert ex.decode_cursor(token, sort) is None


@pytest.mark.parametrize(("sort", "token"), FORGED)
def test_page_after_gives_the_first_page_for_forgeries(org, resources, sort, token):
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    rows, _, prev = ex.page_after(qs, sort, token, size=2)
    assert len(rows) == 2 and prev is None


@pytest.mark.parametrize(("sort", "token"), FORGED)
def test_page_partial_and_export_answer_a_forged_cursor(client_for, member, org, resources, sort, token):
    c = client_for(member)
    query = urlencode({"sort": sort, "cursor": token})
    url = reverse("dashboard:explorer", args=[org.slug]) + "?" + query

    page = c.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "out of date or damaged" in html and html.count('data-testid="resource-row"') == 3

    partial = c.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="explorer-results")
    html = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in html
    assert "out of date or damaged" in html and html.count('data-testid="resource-row"') == 3

    for fmt in ("csv", "json"):
        export = c.get(reverse("dashboard:explorer_export", args=[org.slug, fmt]) + "?" + query)
        assert export.status_code == 200
        body = b"".join(export.streaming_content).decode()
        rows = json.loads(body) if fmt == "json" else body.strip().splitlines()[1:]
        assert len(rows) == 3


def test_a_genuine_time_cursor_still_pages(client_for, member, org):
    conn = CloudConnectionFactory(org=org)
    for i in range(5):
        ResourceFactory(connection=conn, name=f"t-{i}", last_seen=datetime(2024, 5, 1 + i, tzinfo=UTC))
    qs = ex.filtered_resources(org, ex.ExplorerFilters())
    first, nxt, _ = ex.page_after(qs, "-last_seen", None, size=2)
    assert ex.decode_cursor(nxt, "-last_seen").value == datetime(2024, 5, 4, tzinfo=UTC)
    page = client_for(member).get(
        reverse("dashboard:explorer", args=[org.slug]) + "?" + urlencode({"sort": "-last_seen", "cursor": nxt})
    )
    html = page.content.decode()
    assert page.status_code == 200 and "out of date or damaged" not in html
    assert "t-2" in html and "t-4" not in html
