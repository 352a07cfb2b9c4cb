from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.usage import register_counter
        from connections.models import CloudConnection

        register_counter("connections", lambda org: CloudConnection.objects.for_org(org).count())
