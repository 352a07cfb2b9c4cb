from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from support.permissions import sync_staff_groups_after_migrate

        # A model added later gets its view permission in the support group at the next migrate.
        post_migrate.connect(sync_staff_groups_after_migrate, sender=self, dispatch_uid="support_staff_groups")
