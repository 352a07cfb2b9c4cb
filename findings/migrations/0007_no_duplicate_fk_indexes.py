"""Findings and their events lose the single-column indexes Django gives a foreign key where a composite index
starts with that column: each index is written for every finding an evaluation creates."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0003_cloudconnection_aws_organization_members'),
        ('findings', '0006_open_finding_counts'),
        ('inventory', '0005_resource_content_hashes'),
        ('orgs', '0002_processing_paused_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='finding',
            name='connection',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='findings', to='connections.cloudconnection'),
        ),
        migrations.AlterField(
            model_name='finding',
            name='org',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='findings', to='orgs.organization'),
        ),
        migrations.AlterField(
            model_name='finding',
            name='resource',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='findings', to='inventory.resource'),
        ),
        migrations.AlterField(
            model_name='findingevent',
            name='finding',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='findings.finding'),
        ),
    ]
