"""Deployment checks: they run with `manage.py check --deploy` and at start-up."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from cloustral import crypto


@register(Tags.security, deploy=True)
def check_production_services(app_configs, **kwargs):
    problems = []
    backend = settings.CACHES["default"]["BACKEND"]
    if "locmem" in backend or "dummy" in backend:
        problems.append(
            Warning(
                "Rate limits need a cache shared by every process.",
                hint="Set REDIS_URL in production.",
                id="cloustral.W001",
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append(
            Warning("Celery runs tasks in the web process.", hint="Set REDIS_URL in production.", id="cloustral.W002")
        )
    return problems


@register(Tags.security)
def check_encryption_keys(app_configs, **kwargs):
    try:
        crypto.key_ring()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="cloustral.E001")]
    return []
