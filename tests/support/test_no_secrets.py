"""No admin page shows a secret: every page of every model registered in the admin (list, search,
change, history and delete confirmation), the console's own pages and every safe action's confirmation
page are rendered, as a superuser and as support, over an organization that holds a known value of
every secret the product keeps. None of those strings may appear."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from support.safe_actions import ACTIONS
from tests.support import world as secret_world

pytestmark = pytest.mark.django_db
PER_MODEL = 5


@pytest.fixture
def world(db):
    return secret_world.build()


def model_pages(model, model_admin) -> list[str]:
    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    # Searches that match the rows holding secrets (a search for a secret would only echo the query).
    pages = [changelist, f"{changelist}?q=EXAMPLE", f"{changelist}?q=customer", f"{changelist}?q=secretive"]
    for obj in model_admin.get_queryset(_Request())[:PER_MODEL]:
        for view in ("change", "history", "delete"):
            pages.append(reverse("admin:{}_{}_{}".format(*info, view), args=[obj.pk]))
    return pages


class _Request:
    """Enough of a request for ``ModelAdmin.get_queryset`` (the stock one only reads the ordering)."""

    user = None
    GET: dict = {}


def console_pages(world) -> list[str]:
    from allauth.account.models import EmailAddress

    from automations.models import Suppression
    from connections.models import CloudConnection
    from inventory.models import SyncRun
    from privacy.models import ContactRequest, DeletionRequest

    org, owner = world.org, world.owner
    unverified = EmailAddress.objects.create(user=owner, email="second@customer.example", verified=False)
    samples = {
        "resend-verification": unverified.pk,
        "start-scan": CloudConnection.objects.for_org(org).first().pk,
        "cancel-scan": SyncRun.objects.for_org(org).first().pk,
        "clear-suppression": Suppression.objects.first().pk,
        "extend-trial": org.pk,
        "cancel-deletion": DeletionRequest.objects.first().pk,
        "answer-contact": ContactRequest.objects.first().pk,
    }
    assert set(samples) == set(ACTIONS), "every safe action's confirmation page is checked"
    pages = [
        reverse("admin:index"),
        reverse("admin:support_search") + "?q=customer",
        reverse("admin:support_search") + "?q=secretive",
        reverse("admin:support_org", args=[org.pk]),
        reverse("admin:support_user", args=[owner.pk]),
        reverse("admin:support_user", args=[DeletionRequest.objects.first().user_id]),
    ]
    pages += [reverse("admin:support_action", args=[key, pk]) for key, pk in samples.items()]
    pages += [reverse("admin:app_list", args=[label]) for label in {m._meta.app_label for m in admin.site._registry}]
    return pages


def test_every_registered_model_has_a_sample_row(world):
    empty = [m._meta.label for m in admin.site._registry if not m._base_manager.exists()]
    assert not empty, f"add a row of these to tests/support/world.py so their pages are checked: {empty}"


@pytest.mark.parametrize("persona", ["chief_client", "support_client"])
def test_no_admin_page_shows_a_secret(world, persona, request):
    client = request.getfixturevalue(persona)
    secrets = {name: value for name, value in world.secrets.items() if value}
    assert len(secrets) >= 25
    pages = console_pages(world)
    for model, model_admin in admin.site._registry.items():
        pages += model_pages(model, model_admin)
    shown = 0
    for page in pages:
        response = client.get(page)
        # An app's index is a 404 to staff who may see none of its models (support: allauth's Google accounts).
        allowed = (200, 403, 404) if page.count("/") == 3 else (200, 403)
        assert response.status_code in allowed, (page, response.status_code)
        shown += response.status_code == 200
        body = response.content.decode()
        leaked = [name for name, value in secrets.items() if value in body]
        assert not leaked, f"{page} shows {leaked}"
    assert shown > 100  # most pages render (support gets 403 on edits and the superuser-only log)
