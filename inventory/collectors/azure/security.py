"""Microsoft Defender for Cloud, per subscription: its plans (``Microsoft.Security/pricings``, one record per
plan: Servers, App Service, Storage, Containers...), and its settings as one record per subscription
(``azure.security.settings``): security contacts and alert notifications, the Defender for Cloud Apps and
Defender for Endpoint integrations, and the Microsoft cloud security benchmark ("ASC Default") policy
assignment. The settings record exists for every subscription where the security contacts can be listed
(the collector's main call), so "no security contact" is judged like any setting; the integrations and
the policy assignment, when they cannot be read, are null and listed in ``config.unreadable``.

Contact e-mail addresses and phone numbers are personal data: only whether they are set is kept.
"""

from __future__ import annotations

from collections.abc import Iterator

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from inventory.collectors.azure import _arm
from inventory.collectors.azure._util import iso, props, rid
from inventory.collectors.azure.context import AzureContext
from inventory.collectors.base import ResourceRecord, collector

PRICINGS_API_VERSION = "2024-01-01"
CONTACTS_API_VERSION = "2020-01-01-preview"
SETTINGS_API_VERSION = "2022-05-01"
POLICY_API_VERSION = "2022-06-01"
DEFAULT_POLICY_ASSIGNMENT = "SecurityCenterBuiltIn"  # the Microsoft cloud security benchmark initiative
POLICY_KEYS = ("default_policy_assigned", "default_policy_enforcement", "default_policy_disabled")


@collector("azure", "security.defender_plan", service="Microsoft.Security", regional=False)
def defender_plans(ctx: AzureContext) -> Iterator[ResourceRecord]:
    path = f"/subscriptions/{ctx.subscription_id}/providers/Microsoft.Security/pricings"
    for pricing in _arm.items(ctx, path, PRICINGS_API_VERSION):
        p = props(pricing)
        tier = p.get("pricingTier")
        config = {
            "plan": pricing.get("name"),
            "pricing_tier": tier,
            "enabled": str(tier or "").lower() == "standard",
            "sub_plan": p.get("subPlan"),
            "deprecated": bool(p.get("deprecated")),
            "replaced_by": sorted(p.get("replacedBy") or []),
            "enablement_time": iso(p.get("enablementTime")),
            "extensions": sorted(
                (
                    {"name": ext.get("name"), "enabled": str(ext.get("isEnabled") or "").lower() == "true"}
                    for ext in p.get("extensions") or []
                ),
                key=lambda ext: str(ext["name"]),
            ),
        }
        # freeTrialRemainingTime is left out: it changes on every read.
        yield ResourceRecord(
            native_id=rid(pricing), name=str(pricing.get("name") or ""), config=config, region="global"
        )


def settings_id(subscription_id: str) -> str:
    """The settings record's id: the subscription's Microsoft.Security namespace (not an ARM resource)."""
    return f"/subscriptions/{subscription_id}/providers/microsoft.security".lower()


@collector("azure", "security.settings", service="Microsoft.Security", regional=False)
def settings(ctx: AzureContext) -> Iterator[ResourceRecord]:
    sub = f"/subscriptions/{ctx.subscription_id}"
    details = _arm.ArmDetails(ctx)
    config: dict = {}
    # The main listing (it raises): a subscription where Defender for Cloud cannot be read at all is
    # "denied", not a record of unknowns.
    contacts = list(_arm.items(ctx, f"{sub}/providers/Microsoft.Security/securityContacts", CONTACTS_API_VERSION))
    config.update(_contacts(contacts))
    integrations = details.items_path(
        ("mcas_integration", "mde_integration"), f"{sub}/providers/Microsoft.Security/settings", SETTINGS_API_VERSION
    )
    enabled = {str(s.get("name") or "").upper(): bool(props(s).get("enabled")) for s in integrations or []}
    config["mcas_integration"] = None if integrations is None else enabled.get("MCAS", False)
    config["mde_integration"] = None if integrations is None else enabled.get("WDATP", False)
    config.update(_default_policy(ctx, details, sub))
    yield ResourceRecord(
        native_id=settings_id(ctx.subscription_id),
        name="Defender for Cloud settings",
        config=details.finish(config),
        region="global",
    )


def _contacts(contacts: list[dict]) -> dict:
    emails: set[str] = set()
    phone = alerts = by_role = False
    severity = None
    roles: set[str] = set()
    for contact in contacts:
        p = props(contact)
        emails.update(e.strip().lower() for e in str(p.get("emails") or p.get("email") or "").split(";") if e.strip())
        phone = phone or bool(p.get("phone"))
        notifications = p.get("alertNotifications") or {}
        if str(notifications.get("state") or "").lower() == "on":
            alerts = True
            severity = notifications.get("minimalSeverity") or severity
        role_notes = p.get("notificationsByRole") or {}
        if str(role_notes.get("state") or "").lower() == "on":
            by_role = True
            roles.update(str(r) for r in role_notes.get("roles") or [])
    return {
        "contact_configured": bool(contacts),
        "contact_email_count": len(emails),
        "contact_phone_set": phone,
        "alert_notifications": alerts,
        "alert_minimal_severity": severity,
        "notify_roles_enabled": by_role,
        "notify_roles": sorted(roles),
    }


def _default_policy(ctx: AzureContext, details: _arm.ArmDetails, sub: str) -> dict:
    path = f"{sub}/providers/Microsoft.Authorization/policyAssignments/{DEFAULT_POLICY_ASSIGNMENT}"
    try:
        assignment = _arm.get(ctx, path, POLICY_API_VERSION)
    except ResourceNotFoundError:  # not assigned: known, not unknown
        return {"default_policy_assigned": False, "default_policy_enforcement": None, "default_policy_disabled": []}
    except HttpResponseError as error:
        details._failed_all(POLICY_KEYS, error)
        return dict.fromkeys(POLICY_KEYS)
    p = props(assignment)
    parameters = p.get("parameters") or {}
    disabled = sorted(
        name
        for name, value in parameters.items()
        if isinstance(value, dict) and str(value.get("value") or "").lower() == "disabled"
    )
    return {
        "default_policy_assigned": True,
        "default_policy_enforcement": p.get("enforcementMode") or "Default",
        "default_policy_disabled": disabled,
    }
