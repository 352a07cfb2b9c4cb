"""The staff groups "support" (read-only everywhere, plus the console's safe actions) and "superuser"
(everything). Permissions are made here first: Django creates them only after the whole migrate."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from support.permissions import SUPERUSER_GROUP, SUPPORT_GROUP, sync_staff_groups


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    sync_staff_groups(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[SUPPORT_GROUP, SUPERUSER_GROUP]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("accounts", "0003_knowndevice_signinevent"),
        ("orgs", "0002_processing_paused_at"),
        ("billing", "0001_initial"),
        ("connections", "0002_cloudconnection_scan_frequency"),
        ("inventory", "0004_postgres_trigram_search"),
        ("findings", "0002_scope_suppressions"),
        ("api", "0001_initial"),
        ("automations", "0001_initial"),
        ("privacy", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
