"""Trigram indexes for the explorer's free-text search, on PostgreSQL only (SQLite: skipped).

Django compiles ``name__icontains`` to ``UPPER("name"::text) LIKE UPPER(%s)``: the indexes are on that
very expression, so a search for a fragment of a name or an ARN is an index scan instead of reading
every resource of the organization. pg_trgm is a trusted extension (PostgreSQL 13+): the database
owner may create it.
"""

from django.db import migrations

INDEXES = {
    "inventory_resource_name_trgm": "CREATE INDEX IF NOT EXISTS inventory_resource_name_trgm "
    'ON inventory_resource USING gin ((UPPER("name"::text)) gin_trgm_ops)',
    "inventory_resource_native_id_trgm": "CREATE INDEX IF NOT EXISTS inventory_resource_native_id_trgm "
    'ON inventory_resource USING gin ((UPPER("native_id"::text)) gin_trgm_ops)',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for sql in INDEXES.values():
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_explorer_indexes")]

    operations = [migrations.RunPython(create, drop)]
