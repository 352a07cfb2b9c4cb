from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The pages that join inventory and findings: the organization's home page, the inventory explorer,
    the resource page and the architecture map. It sits above both apps, so neither knows of the other's
    pages (docs/architecture.md, "Layers")."""

    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from dashboard import map_cache
        from inventory import hooks

        # After the findings engine's hook (findings comes first in INSTALLED_APPS): the map's cache key
        # carries the findings' stamp, which the evaluation moves.
        if map_cache.warm_after_sync not in hooks.after_sync:
            hooks.after_sync.append(map_cache.warm_after_sync)
