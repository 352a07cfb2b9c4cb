from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Simulated clouds for the local demo (scripts/demo): outside the product, which never imports it."""

    name = "demo"
    verbose_name = "Demo"
