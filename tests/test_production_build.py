"""The production static build: ``collectstatic`` with the storage production uses (hashed, compressed
names: whitenoise's CompressedManifestStaticFilesStorage, which fails on a reference to a missing file,
e.g. a vendored library's source map), then pages rendered and static files served from its manifest.
Without this, the Docker image cannot build and, without a manifest, every page is a 500."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.fixture
def production_static(settings, tmp_path):
    """STATIC_ROOT in tmp_path, filled by collectstatic with the production storage."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    settings.WHITENOISE_USE_FINDERS = False  # as in production: served from STATIC_ROOT only
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return tmp_path


def test_collectstatic_with_the_manifest_storage_and_the_login_page(production_static, db):
    manifest = json.loads((production_static / "staticfiles.json").read_text())["paths"]
    # Every vendored library made it, with what it references (Chart.js names its source map).
    for name in ("vendor/htmx.min.js", "vendor/chart.umd.min.js", "vendor/cytoscape.min.js"):
        assert name in manifest, name
    chart = (production_static / manifest["vendor/chart.umd.min.js"]).read_text()
    for referenced in re.findall(r"^//# sourceMappingURL=(\S+)$", chart, re.MULTILINE):
        assert (production_static / "vendor" / referenced).is_file(), referenced

    client = Client()  # a new handler: WhiteNoise reads STATIC_ROOT when the middleware starts
    page = client.get(reverse("account_login"))
    html = page.content.decode()
    assert page.status_code == 200
    hashed_css = "/static/" + manifest["css/app.css"]
    assert hashed_css in html and manifest["css/app.css"] != "css/app.css"
    assert "/static/" + manifest["vendor/htmx.min.js"] in html

    # WhiteNoise serves the hashed file, cacheable for ever, and compressed on request.
    static = client.get(hashed_css, HTTP_ACCEPT_ENCODING="gzip")
    assert static.status_code == 200
    assert "immutable" in static["Cache-Control"] and static["Content-Encoding"] == "gzip"
