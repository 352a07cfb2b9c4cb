"""manage.py sync_connection <connection id>: scan a connection now, in this process."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from connections.models import CloudConnection
from inventory import actions, sync
from inventory.models import SyncRun


class Command(BaseCommand):
    help = "Scan one connection now, in this process, and print the outcome."

    def add_arguments(self, parser):
        parser.add_argument("connection_id", type=int)

    def handle(self, *args, connection_id: int, **options):
        connection = CloudConnection.objects.unscoped().filter(pk=connection_id).first()  # an operator's command
        if connection is None:
            raise CommandError(f"No connection {connection_id}.")
        try:
            run, started = actions.do_start_sync(connection, trigger=SyncRun.Trigger.MANUAL, enqueue=False)
        except actions.SyncNotAllowed as exc:
            raise CommandError(str(exc)) from None
        if not started:
            raise CommandError(f"A scan of this connection is already {run.status} (run {run.pk}); it was joined.")
        try:
            run = sync.run_sync(run.pk)
        except sync.SyncBusy:
            raise CommandError("Another worker holds this connection's scan lock; try again later.") from None
        self.stdout.write(
            f"run {run.pk}: {run.status} · {run.resource_count} resources · +{run.created_count} "
            f"~{run.modified_count} -{run.deleted_count} · {run.api_calls} API calls · "
            f"{run.completeness_percent:.1f}% complete"
        )
        for warning in run.warnings[:20]:
            self.stdout.write(f"  {warning['status']}: {warning['type']} in {warning['region']}: {warning['code']}")
        for error in run.errors:
            self.stdout.write(f"  error: {error['code']}: {error['message']}")
        if run.status not in SyncRun.WROTE_INVENTORY:
            raise CommandError(f"The scan {run.status}.")
