"""Change history indexes end with the id: a sync's changes share one timestamp, and the lists read the newest
first by (created_at, id)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0003_cloudconnection_aws_organization_members'),
        ('inventory', '0006_no_duplicate_fk_indexes'),
        ('orgs', '0002_processing_paused_at'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='resourcechange',
            name='change_resource_timeline',
        ),
        migrations.RemoveIndex(
            model_name='resourcechange',
            name='change_conn_created',
        ),
        migrations.RemoveIndex(
            model_name='resourcechange',
            name='change_org_created',
        ),
        migrations.AddIndex(
            model_name='resourcechange',
            index=models.Index(fields=['resource', '-created_at', '-id'], name='change_resource_timeline_id'),
        ),
        migrations.AddIndex(
            model_name='resourcechange',
            index=models.Index(fields=['connection', '-created_at', '-id'], name='change_conn_created_id'),
        ),
        migrations.AddIndex(
            model_name='resourcechange',
            index=models.Index(fields=['org', '-created_at', '-id'], name='change_org_created_id'),
        ),
    ]
