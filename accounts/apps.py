from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from accounts import checks, signals  # noqa: F401  (registers receivers and system checks)
        from cloustral import crypto

        if not settings.DEBUG:
            # A missing or malformed key ring stops start-up with a clear message.
            crypto.key_ring()
