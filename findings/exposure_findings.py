"""The exposure pass of an evaluation: severity by real reachability, and the combined findings.

``apply_exposure(index, matches)`` runs in ``lifecycle.evaluate_connection`` after the rules matched and
before the findings are written. ``matches`` is ``{rule id: {resource id: (monthly usd, detail)}}``:

* A **reachability rule** (``SEVERITY_BY_EXPOSURE``: a public IP, ``PubliclyAccessible``, an
  internet-facing scheme, a security group / NSG open to the world) keeps its matches; each detail gets
  ``exposure``: the state (findings/exposure.py), the path or the missing link, and the severity: the
  rule's exposed severity only when the resource is exposed, its latent one otherwise. ``severity_for``
  is what the lifecycle copies onto the finding, so a finding becoming exposed (or latent) changes
  severity through the normal update, with a "severity" event in its history.
* A **combined rule** ("toxic combination", ``COMBINED``) is a catalog rule whose condition is the
  part the rule language can say (an instance with a public IP and an instance profile; a public bucket a
  trail logs to; a public, unencrypted database). The pass keeps only the matches whose whole chain
  holds (exposed, the role allows admin...) and stores the chain; the others are dropped, so where the
  rule was evaluated they resolve like any finding that stopped matching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from findings.exposure import (
    EXPOSED,
    GROUP_TYPES,
    INTERNET_STEP,
    Exposure,
    ExposureGraph,
    Step,
    assess,
    assess_all,
    assess_group,
    graph_of,
)
from findings.rules.evaluate import ResourceIndex

Matches = dict[str, dict[Any, tuple[float | None, dict]]]

# rule id → (severity when exposed, severity when latent)
SEVERITY_BY_EXPOSURE: dict[str, tuple[str, str]] = {
    "aws-ec2-instance-exposed-to-internet": ("high", "low"),
    "aws-rds-publicly-accessible": ("critical", "medium"),
    "aws-elbv2-internet-facing-no-https": ("medium", "low"),
    "aws-ec2-sg-ssh-open-world": ("high", "low"),
    "aws-ec2-sg-rdp-open-world": ("high", "low"),
    "aws-ec2-sg-all-ports-open-world": ("critical", "medium"),
    "aws-ec2-sg-database-ports-open-world": ("high", "low"),
    "azure-compute-vm-public-ip": ("high", "low"),
    "azure-network-nsg-ssh-open-internet": ("high", "low"),
    "azure-network-nsg-rdp-open-internet": ("high", "low"),
    "azure-network-nsg-all-open-internet": ("critical", "medium"),
    "azure-network-nsg-udp-open-internet": ("medium", "low"),
    "azure-network-nsg-http-open-internet": ("low", "info"),
}

ADMIN_POLICY_SUFFIX = ":iam::aws:policy/AdministratorAccess"
ROLE, POLICY = "aws.iam.role", "aws.iam.policy"
TRAIL = "aws.cloudtrail.trail"


def severity_for(rule_severity: str, detail: Mapping[str, Any] | None) -> str:
    """The severity a finding carries: the exposure pass's when it judged the finding, else the rule's."""
    exposure = detail.get("exposure") if isinstance(detail, Mapping) else None
    severity = exposure.get("severity") if isinstance(exposure, Mapping) else None
    return severity or rule_severity


def severity_note(before: str, finding) -> str:
    """The history line of a severity change made by the exposure pass."""
    exposure = (finding.detail or {}).get("exposure") or {}
    why = exposure.get("summary") or ""
    return f"Severity {before} → {finding.severity}" + (f" ({why})" if why else "") + "."


class _Pass:
    def __init__(self, index: ResourceIndex) -> None:
        self.index = index
        self.graph: ExposureGraph = graph_of(index)
        self._all: dict[Any, Exposure] | None = None
        self._roles: dict[tuple[Any, str], Mapping] | None = None

    @property
    def exposures(self) -> dict[Any, Exposure]:
        if self._all is None:
            self._all = assess_all(self.graph)
        return self._all

    def of(self, rid: Any) -> Exposure:
        rec = self.index.by_id[rid]
        if rec["resource_type"] in GROUP_TYPES:
            return assess_group(self.graph, rid, self.exposures)
        return self.exposures.get(rid) or assess(self.graph, rid)


def apply_exposure(index: ResourceIndex, matches: Matches) -> None:
    """Judge every reachability and combined rule's matches in place (see the module's docstring)."""
    if not any(matches.get(r) for r in (*SEVERITY_BY_EXPOSURE, *COMBINED)):
        return
    run = _Pass(index)
    for rule_id, (exposed, latent) in SEVERITY_BY_EXPOSURE.items():
        matched = matches.get(rule_id)
        for rid, (usd, detail) in list((matched or {}).items()):
            exposure = run.of(rid)
            severity = exposed if exposure.state == EXPOSED else latent
            matched[rid] = (usd, {**detail, "exposure": {**exposure.as_dict(), "severity": severity}})
    for rule_id, chain_of in COMBINED.items():
        matched = matches.get(rule_id)
        for rid, (usd, detail) in list((matched or {}).items()):
            chain = chain_of(run, rid)
            if chain is None:
                del matched[rid]
            else:
                matched[rid] = (usd, {**detail, "chain": [s.as_dict() for s in chain]})


# --- Combined findings ---------------------------------------------------------------------------


def _name(rec: Mapping[str, Any]) -> str:
    return str(rec.get("name") or rec.get("native_id"))


def _step(rec: Mapping[str, Any], link: str) -> Step:
    return Step(rec["id"], _name(rec), rec["resource_type"], link)


def _roles_by_profile(run: _Pass) -> dict[tuple[Any, str], Mapping]:
    found: dict[tuple[Any, str], Mapping] = {}
    for role in run.index.by_type.get(ROLE, ()):
        for profile in (role.get("config") or {}).get("instance_profile_arns") or []:
            found[(role.get("connection_id"), profile)] = role
    return found


def _role_of(run: _Pass, instance: Mapping) -> tuple[Mapping, str] | None:
    profile = (instance.get("config") or {}).get("iam_instance_profile_arn")
    if not profile:
        return None
    if run._roles is None:
        run._roles = _roles_by_profile(run)
    role = run._roles.get((instance.get("connection_id"), profile))
    if role is not None:
        return role, f"instance profile {profile.rsplit('/', 1)[-1]} holds this role"
    return None


def _admin_grant(run: _Pass, role: Mapping) -> str | None:
    """How a role is allowed everything: the AWS-managed AdministratorAccess, or a customer-managed
    policy allowing "*" on "*" (inline policies are not read, so they are never claimed)."""
    config = role.get("config") or {}
    for arn in config.get("attached_policy_arns") or []:
        if str(arn).endswith(ADMIN_POLICY_SUFFIX):
            return "AWS managed policy AdministratorAccess allows *:* on *"
    for policy in run.index.related(role["id"], "has_policy", "out", [POLICY]):
        if ((policy.get("config") or {}).get("flags") or {}).get("allows_admin"):
            return f"policy {_name(policy)} allows * on *"
    return None


def _exposed_instance_admin_role(run: _Pass, rid: Any) -> list[Step] | None:
    exposure = run.of(rid)
    if exposure.state != EXPOSED:
        return None
    found = _role_of(run, run.index.by_id[rid])
    if found is None:
        return None
    role, link = found
    grant = _admin_grant(run, role)
    if grant is None:
        return None
    return [*exposure.path, Step(role["id"], _name(role), ROLE, f"{link}; {grant}")]


def _exposed_database_unencrypted(run: _Pass, rid: Any) -> list[Step] | None:
    exposure = run.of(rid)
    if exposure.state != EXPOSED:
        return None
    *path, database = exposure.path
    return [*path, Step(database.id, database.name, database.resource_type, f"{database.link}; storage not encrypted")]


def _public_bucket_trail_logs(run: _Pass, rid: Any) -> list[Step] | None:
    bucket = run.index.by_id[rid]
    trails = run.index.related(rid, "logs_to", "in", [TRAIL])
    if not trails:
        return None
    config = bucket.get("config") or {}
    how = [
        what
        for what, public in (
            ("its policy allows Principal *", (config.get("policy_status") or {}).get("is_public")),
            ("its ACL grants everyone", (config.get("acl") or {}).get("public_acl")),
        )
        if public
    ]
    bucket_step = _step(bucket, "readable from the internet: " + (" and ".join(how) or "public"))
    trail_steps = [_step(t, "writes its audit logs to this bucket") for t in sorted(trails, key=_name)]
    return [INTERNET_STEP, bucket_step, *trail_steps]


COMBINED: dict[str, Callable[[_Pass, Any], list[Step] | None]] = {
    "aws-ec2-instance-exposed-admin-role": _exposed_instance_admin_role,
    "aws-rds-exposed-unencrypted": _exposed_database_unencrypted,
    "aws-s3-public-bucket-holds-trail-logs": _public_bucket_trail_logs,
}
