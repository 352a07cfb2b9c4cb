"""The findings list's indexes: trigram indexes for its text search (PostgreSQL only, SQLite: skipped),
and one holding every column of the headline counts.

The search (``findings.queries.filter_findings``: ``q``) matches a fragment of the resource's name, its
id or the finding's title, which Django compiles to ``UPPER(col::text) LIKE UPPER(%s)``: the indexes are
on those very expressions, so a search is a bitmap index scan instead of reading every finding of every
organization (twice: the capped count and the page). pg_trgm is created by inventory's migration 0004.
"""

from django.db import migrations, models

COLUMNS = ("resource_name", "native_id", "title")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS findings_finding_{column}_trgm "
            f'ON findings_finding USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS findings_finding_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("findings", "0004_finding_event_severity_changed"), ("inventory", "0004_postgres_trigram_search")]

    operations = [
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="finding",
            index=models.Index(
                fields=["org", "status", "connection", "severity", "category", "monthly_usd"],
                name="finding_open_counts",
            ),
        ),
    ]
