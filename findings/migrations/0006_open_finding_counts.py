"""Open findings counted per (connection, rule, severity, category) as they change (findings/tallies.py),
and the counts of the findings already there. The index that served counting every open finding per
request goes: nothing counts them that way any more, and every finding written paid for it."""

import django.db.models.deletion
from django.db import migrations, models


def count_existing(apps, schema_editor):
    Finding = apps.get_model("findings", "Finding")
    OpenFindingCount = apps.get_model("findings", "OpenFindingCount")
    grouped = (
        Finding.objects.filter(status="open")
        .values_list("org_id", "connection_id", "rule_id", "severity", "category")
        .annotate(n=models.Count("*"), usd=models.Sum("monthly_usd"), title=models.Max("title"))
        .order_by()
    )
    OpenFindingCount.objects.bulk_create(
        (
            OpenFindingCount(
                org_id=org_id,
                connection_id=connection_id,
                rule_id=rule_id,
                title=title,
                severity=severity,
                category=category,
                count=n,
                monthly_usd=usd,
            )
            for org_id, connection_id, rule_id, severity, category, n, usd, title in grouped.iterator()
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0003_cloudconnection_aws_organization_members"),
        ("findings", "0005_finding_search_and_count_indexes"),
        ("orgs", "0002_processing_paused_at"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="finding", name="finding_open_counts"),
        migrations.CreateModel(
            name="OpenFindingCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("rule_id", models.CharField(max_length=200)),
                ("title", models.CharField(max_length=300)),
                (
                    "severity",
                    models.CharField(
                        choices=[
                            ("critical", "Critical"),
                            ("high", "High"),
                            ("medium", "Medium"),
                            ("low", "Low"),
                            ("info", "Info"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("security", "Security"),
                            ("cost", "Cost"),
                            ("drift", "Drift"),
                            ("hygiene", "Hygiene"),
                        ],
                        max_length=16,
                    ),
                ),
                ("count", models.PositiveIntegerField(default=0)),
                ("monthly_usd", models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="connections.cloudconnection"
                    ),
                ),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="orgs.organization"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["org", "rule_id"], name="openfindingcount_org_rule")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "rule_id", "severity", "category"), name="openfindingcount_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
