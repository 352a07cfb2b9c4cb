import os

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
        if os.environ.get("AWS_ENDPOINT_URL"):
            self._seed_aws(org, user)
        self._seed_azure(org, user)
        self._seed_automation(org, user)
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(
            f"  Open     {settings.SITE_URL}/o/{org.slug}/\n  Email    {DEMO_EMAIL}\n  Password {DEMO_PASSWORD}"
        )

    def _seed_aws(self, org, user) -> None:
        """A simulated AWS account in the local moto server (scripts/demo starts it), connected and scanned."""
        from demo import aws as demo

        try:
            created = demo.seed_aws_account()
            connection = demo.ensure_demo_connection(org, user)
            run = demo.sync_demo_connection(connection)
        except Exception as exc:  # the demo still starts; say what went wrong
            self.stderr.write(f"Could not set up the simulated AWS account: {type(exc).__name__}: {exc}")
            return
        self.stderr.write(
            f"Simulated AWS account {'created' if created else 'already there'}; "
            f"scan of “{connection.name}”: {run.status}, {run.resource_count} resources "
            f"(+{run.created_count} ~{run.modified_count} -{run.deleted_count})."
        )

    def _seed_azure(self, org, user) -> None:
        """The fake Azure's demo tenant (scripts/demo starts it and passes its principal), connected and scanned."""
        from demo import aws as demo

        principal = demo.azure_demo_principal()
        if principal is None:
            return
        try:
            connection = demo.ensure_demo_azure_connection(org, principal, user)
            run = demo.sync_demo_connection(connection)
        except Exception as exc:  # the demo still starts; say what went wrong
            self.stderr.write(f"Could not set up the simulated Azure tenant: {type(exc).__name__}: {exc}")
            return
        self.stderr.write(
            f"Simulated Azure tenant with {len(connection.subscriptions)} subscriptions; "
            f"scan of “{connection.name}”: {run.status}, {run.resource_count} resources "
            f"(+{run.created_count} ~{run.modified_count} -{run.deleted_count})."
        )

    def _seed_automation(self, org, user) -> None:
        """One automation (a daily summary to the owners by email): its preview, then one run, whose email
        the console backend prints (to the terminal, through stderr: stdout is the login banner)."""
        from demo import automations as demo

        try:
            automation = demo.ensure_demo_automation(org, user)
            self.stderr.write(f"Automation “{automation.name}” ({automation.trigger_summary}); its preview:\n")
            self.stderr.write(demo.preview_text(automation))
            run = demo.run_once(automation, getattr(self.stderr, "_out", None))
        except Exception as exc:  # the demo still starts; say what went wrong
            self.stderr.write(f"Could not set up the demo automation: {type(exc).__name__}: {exc}")
            return
        self.stderr.write(f"Ran “{automation.name}” once: {run.get_status_display() if run else 'not started'}.")
