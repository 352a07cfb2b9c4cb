from django.core.management.base import BaseCommand
from django.db import transaction

from cloustral import crypto


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of ENCRYPTION_KEYS and report counts."

    def handle(self, *args, **options):
        ring = crypto.key_ring()
        totals = {"rotated": 0, "current": 0, "failed": 0}
        for model, field, aad in crypto.encrypted_fields():
            counts = {"rotated": 0, "current": 0, "failed": 0}
            # The base manager, on purpose: every organization's rows.
            for obj in model._base_manager.all().iterator(chunk_size=500):
                token = getattr(obj, field)
                if not token:
                    continue
                if not crypto.needs_rotation(token):
                    counts["current"] += 1
                    continue
                try:
                    new = crypto.rotate(token, aad=aad(obj))
                except crypto.DecryptionError:
                    counts["failed"] += 1  # never overwritten: an unreadable secret stays as it was
                    continue
                with transaction.atomic():
                    model._base_manager.filter(pk=obj.pk, **{field: token}).update(**{field: new})
                counts["rotated"] += 1
            label = f"{model._meta.label}.{field}"
            self.stdout.write(
                f"{label}: {counts['rotated']} rotated, {counts['current']} already current, {counts['failed']} failed"
            )
            for key in totals:
                totals[key] += counts[key]
        self.stdout.write(
            f"Total: {totals['rotated']} rotated, {totals['current']} already current, {totals['failed']} failed "
            f"(encrypting key: {ring.primary})"
        )
        if totals["failed"]:
            self.stderr.write(
                "Some secrets could not be decrypted with any key in ENCRYPTION_KEYS; they were left unchanged."
            )
