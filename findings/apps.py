from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "findings"
    verbose_name = "Findings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from findings import actions
        from inventory import hooks

        # Findings follow the inventory: every sync that wrote it is evaluated at once, in its worker.
        if actions.evaluate_after_sync not in hooks.after_sync:
            hooks.after_sync.append(actions.evaluate_after_sync)

        from findings import retention

        retention.register()  # billing's plans prune finding events and daily counts
