from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory.collectors import registry

        registry.load_all()

        from inventory import retention

        retention.register()  # billing's plans: the resource count and the history they prune

        from inventory import first_scan

        first_scan.register()  # a new connection starts its first scan (connections.hooks)

        from inventory import org_members

        org_members.register()  # an AWS Organization's scan discovers and scans its member accounts
