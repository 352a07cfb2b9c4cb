"""Deleting an organization removes its credentials, inventory, findings, history and automations:
every org-owned table (every model with a foreign key to the organization, present and future) is
counted before and after."""

from __future__ import annotations

from django.apps import apps
from django.urls import reverse

from accounts.models import AuditEvent
from orgs.models import Membership, Organization
from privacy import exports
from privacy.tables import _org_owned_models
from tests.factories import InvitationFactory
from tests.privacy.conftest import estate


def _counts(org_id: int) -> dict[str, int]:
    return {m._meta.label: m._base_manager.filter(org_id=org_id).count() for m in _org_owned_models()}


def _automations(org, user) -> dict[str, list[int]]:
    """One row of each automations table, if the app is installed (issue 14)."""
    if not apps.is_installed("automations"):
        return {}
    automation = apps.get_model("automations", "Automation").objects.create(org=org, name="Daily summary")
    channel = apps.get_model("automations", "Channel").objects.create(org=org, name="Team", kind="email")
    automation.channels.add(channel)
    automation.connections.add(org.connections.first())
    run = apps.get_model("automations", "AutomationRun").objects.create(org=org, automation=automation, key="k1")
    apps.get_model("automations", "Delivery").objects.create(
        org=org, run=run, channel=channel, kind="email", recipient=user.email
    )
    apps.get_model("automations", "Unsubscription").objects.create(org=org, user=user, automation=automation)
    return {"automation": [automation.pk], "channel": [channel.pk]}


def test_deleting_an_org_removes_every_org_owned_row(client_for, owner, member, org, outsider, sudo):
    things = estate(org, user=owner)
    estate(outsider.org, user=outsider)  # another organization's data must stay
    InvitationFactory(org=org, invited_by=owner)
    automation_ids = _automations(org, member)
    job, _ = exports.do_request_export(owner, membership=Membership.objects.for_org(org).get(user=owner))
    exports.build(job.pk)
    job.refresh_from_db()
    export_file = exports.file_path(job)
    rule_ids = [things["rule"].pk]
    others_before = _counts(outsider.org.pk)

    before = _counts(org.pk)
    must_have_rows = {
        "connections.CloudConnection",  # the credentials (encrypted) live on the connection
        "inventory.Resource", "inventory.Relationship", "inventory.SyncRun", "inventory.ResourceChange",
        "inventory.DailyCount", "findings.Finding", "findings.FindingEvent", "findings.RuleStatus",
        "findings.CustomRule", "findings.OrgPolicy", "findings.Baseline", "findings.DailyFindingCount",
        "orgs.Membership", "orgs.Invitation", "accounts.AuditEvent", "privacy.ExportJob",
    }  # fmt: skip
    if automation_ids:
        must_have_rows |= {"automations.Automation", "automations.Channel", "automations.AutomationRun"}
        must_have_rows |= {"automations.Delivery", "automations.Unsubscription"}
    empty = [label for label in must_have_rows if not before.get(label)]
    assert not empty, f"the test organization has no rows in {empty}"

    response = client_for(owner).post(reverse("orgs:delete", args=[org.slug]), {"confirm_name": org.name})
    assert response.status_code == 302

    after = _counts(org.pk)
    assert {label: n for label, n in after.items() if n} == {}
    assert not Organization.objects.filter(pk=org.pk).exists()
    # Many-to-many rows of its rules and automations went with them.
    assert (
        not apps.get_model("findings", "CustomRule")
        .connections.through.objects.filter(customrule_id__in=rule_ids)
        .exists()
    )
    if automation_ids:
        automation_model = apps.get_model("automations", "Automation")
        assert not automation_model.channels.through.objects.filter(
            automation_id__in=automation_ids["automation"]
        ).exists()
    # Files on disk too.
    assert export_file is not None and not export_file.exists()
    # The audit log keeps its entries, detached, as the privacy policy says.
    assert AuditEvent.objects.filter(org__isnull=True, action="org_deleted", metadata__slug=org.slug).exists()
    # Nothing of the other organization was touched.
    assert _counts(outsider.org.pk) == others_before
