from django.core.management.base import BaseCommand

from cloustral import crypto


class Command(BaseCommand):
    help = "Print a new ENCRYPTION_KEYS entry. Put it first in the list to make it the encrypting key."

    def add_arguments(self, parser):
        parser.add_argument("--kid", default=None, help="Key id (default: k<yyyymmdd>).")

    def handle(self, *args, kid=None, **options):
        from django.utils import timezone

        self.stdout.write(crypto.generate_key_entry(kid or f"k{timezone.now():%Y%m%d}"))
