from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    """Automations: schedules and after-scan triggers, summaries (digests), channels (email, Slack, signed
    webhooks), and the record of every delivery (docs/automations.md)."""

    name = "automations"
    verbose_name = "Automations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        from automations import engine
        from automations.tracking import record_tracking_event
        from inventory import hooks

        # After the findings engine (an earlier app), so a summary sees the scan's findings.
        if engine.on_scan_finished not in hooks.after_sync:
            hooks.after_sync.append(engine.on_scan_finished)
        tracking.connect(record_tracking_event, dispatch_uid="automations.record_tracking_event")

        from automations import retention

        retention.register()  # billing's plans prune old deliveries and runs
