from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The pages that join inventory and findings: the organization's home page, the inventory explorer,
    the resource page and the architecture map. It sits above both apps, so neither knows of the other's
    pages (docs/architecture.md, "Layers")."""

    name = "dashboard"
    verbose_name = "Dashboard"
