from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.usage import register_counter
        from connections.models import CloudConnection

        # An AWS Organization is one connection: its member accounts are not counted (connections/organization.py).
        register_counter(
            "connections",
            lambda org: CloudConnection.objects.for_org(org).exclude(aws_scope=CloudConnection.AwsScope.MEMBER).count(),
        )
