"""The two staff groups: ``support`` sees every product model (read-only) and may take the console's safe
actions; ``superuser`` may do everything. Created by migration 0002 and kept current by every migrate
(a model added later gets its view permission in ``support``). Only ever adds permissions: one
granted by hand is not taken away here."""

from __future__ import annotations

SUPPORT_GROUP = "support"
SUPERUSER_GROUP = "superuser"

# The apps whose rows support staff look at ("account" is allauth's email addresses).
VISIBLE_APPS = ("accounts", "orgs", "billing", "connections", "inventory", "findings", "api", "automations")
VISIBLE_APPS += ("privacy", "account")
# The whole audit log (staff views and actions included) is for superusers; support sees an
# organization's recent events on its page.
SUPERUSER_ONLY_VIEWS = ("view_auditevent",)


def sync_staff_groups(apps) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    support, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    superuser, _ = Group.objects.get_or_create(name=SUPERUSER_GROUP)
    views = Permission.objects.filter(content_type__app_label__in=VISIBLE_APPS, codename__startswith="view_").exclude(
        codename__in=SUPERUSER_ONLY_VIEWS
    )
    console = Permission.objects.filter(content_type__app_label="support")
    support.permissions.add(*views, *console)
    superuser.permissions.add(*Permission.objects.all())


def sync_staff_groups_after_migrate(sender, apps=None, **kwargs) -> None:
    if apps is None:
        from django.apps import apps
    sync_staff_groups(apps)
