"""Resources, relationships and changes lose the single-column indexes Django gives a foreign key where a
composite index starts with that column: each index is written for every row a first sync creates."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connections', '0003_cloudconnection_aws_organization_members'),
        ('inventory', '0005_resource_content_hashes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='relationship',
            name='connection',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='connections.cloudconnection'),
        ),
        migrations.AlterField(
            model_name='relationship',
            name='source',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='outgoing', to='inventory.resource'),
        ),
        migrations.AlterField(
            model_name='resource',
            name='connection',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='resources', to='connections.cloudconnection'),
        ),
        migrations.AlterField(
            model_name='resourcechange',
            name='connection',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='connections.cloudconnection'),
        ),
        migrations.AlterField(
            model_name='resourcechange',
            name='resource',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='changes', to='inventory.resource'),
        ),
    ]
