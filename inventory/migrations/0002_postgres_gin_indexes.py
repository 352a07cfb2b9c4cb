"""GIN indexes on Resource.tags and Resource.config, on PostgreSQL only (SQLite has no GIN: skipped).

tags: the default jsonb_ops, for containment (@>) and key-exists (?) filters ("has tag Owner").
config: jsonb_path_ops, smaller and faster, for containment filters (config @> '{"encrypted": false}').
"""

from django.db import migrations

INDEXES = {
    "inventory_resource_tags_gin": "CREATE INDEX IF NOT EXISTS inventory_resource_tags_gin "
    "ON inventory_resource USING gin (tags)",
    "inventory_resource_config_gin": "CREATE INDEX IF NOT EXISTS inventory_resource_config_gin "
    "ON inventory_resource USING gin (config jsonb_path_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in INDEXES.values():
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
