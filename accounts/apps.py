from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.conf import settings
        from django.db.models.signals import post_migrate

        from accounts import checks, signals  # noqa: F401  (registers receivers and system checks)
        from cloustral import crypto, sites

        # After the sites app made its default row: emails say "Cloustral" and the real address.
        post_migrate.connect(sites.sync_site, sender=apps.get_app_config("sites"), dispatch_uid="cloustral-site")

        if not settings.DEBUG:
            # A missing or malformed key ring stops start-up with a clear message.
            crypto.key_ring()
