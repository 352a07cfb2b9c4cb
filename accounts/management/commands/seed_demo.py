from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import User

DEMO_EMAIL = "demo@cloustral.localhost"
DEMO_PASSWORD = "cloustral-demo-1"


class Command(BaseCommand):
    help = "Create (or reset) the demo user and organization for local use. Never run in production."

    def handle(self, *args, **options):
        user, _ = User.objects.get_or_create(
            email=DEMO_EMAIL,
            defaults={"first_name": "Demo", "last_name": "User", "signup_org_name": "Demo Org"},
        )
        user.set_password(DEMO_PASSWORD)
        user.age_confirmed_at = user.age_confirmed_at or timezone.now()
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True}
        )
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  Open     http://127.0.0.1:8000/\n  Email    {DEMO_EMAIL}\n  Password {DEMO_PASSWORD}")
