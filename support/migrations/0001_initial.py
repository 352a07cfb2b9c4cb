from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="SupportConsole",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("use_console", "Can use the support console (search, organization and person pages)"),
                    ("resend_verification", "Can resend a verification email"),
                    ("start_scan", "Can start a connection's scan"),
                    ("cancel_scan", "Can cancel a scan"),
                    ("clear_suppression", "Can clear a suppressed email address"),
                    ("extend_trial", "Can extend a trial"),
                    ("cancel_deletion", "Can cancel a pending account deletion"),
                    ("answer_contact", "Can mark a contact request answered"),
                ],
            },
        ),
    ]
