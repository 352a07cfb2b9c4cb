"""The django.contrib.sites row that allauth's emails read ("Hello from <site name>!", the site's domain):
kept equal to settings.SITE_URL and the product's name after every migrate, never "example.com"."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

SITE_NAME = "Cloustral"


def site_domain() -> str:
    """The host (and port, when not the default) of SITE_URL."""
    return urlsplit(settings.SITE_URL).netloc or "localhost"


def sync_site(using: str = "default", **kwargs) -> None:
    """post_migrate receiver (connected by accounts' AppConfig with the sites app as sender)."""
    from django.contrib.sites.models import Site

    Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": site_domain(), "name": SITE_NAME}
    )
    Site.objects.clear_cache()
