from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts.models import User
from orgs.actions import do_create_organization
from orgs.models import Membership, Organization
from orgs.roles import Role

DEMO_EMAIL = "demo@cloustral.localhost"
DEMO_PASSWORD = "cloustral-demo-1"  # noqa: S105  (a local demo, printed on purpose)
DEMO_ORG_NAME = "Demo Org"
DEMO_ORG_SLUG = "demo-org"


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
        EmailAddress.objects.update_or_create(user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True})
        # The demo organization is found by its slug (unique_slug("Demo Org") is "demo-org" when free).
        org = Organization.objects.filter(slug=DEMO_ORG_SLUG).first() or do_create_organization(user, DEMO_ORG_NAME)
        Membership.objects.for_org(org).update_or_create(user=user, defaults={"role": Role.OWNER})
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(
            f"  Open     {settings.SITE_URL}/o/{org.slug}/\n  Email    {DEMO_EMAIL}\n  Password {DEMO_PASSWORD}"
        )
