"""ACM certificates: validity dates, key algorithm, renewal, what uses them. Never the certificate body
or its private key (ACM's ExportCertificate is not called)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from inventory.collectors.aws._util import Details, error_code, fan_out, iso, tags_dict
from inventory.collectors.base import CollectContext, Rel, ResourceRecord, collector

# ListCertificates returns RSA 2048 certificates only unless every key type is asked for.
KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
MAX_NAMES = 100  # subject alternative names kept per certificate (ACM allows up to a few hundred)


@collector("aws", "acm.certificate", service="acm", regional=True)
def certificates(ctx: CollectContext) -> Iterator[ResourceRecord]:
    for page in ctx.paginate("acm", "list_certificates", Includes={"keyTypes": KEY_TYPES}):
        arns = [c["CertificateArn"] for c in page.get("CertificateSummaryList") or [] if c.get("CertificateArn")]
        for record in fan_out(ctx, partial(_certificate_record, ctx), arns):
            if record is not None:
                yield record


def _certificate_record(ctx: CollectContext, certificate_arn: str) -> ResourceRecord | None:
    try:
        cert = ctx.call("acm", "describe_certificate", CertificateArn=certificate_arn).get("Certificate") or {}
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None  # deleted after the listing
        raise
    details = Details(ctx)
    tags = (details.get("tags", "acm", "list_tags_for_certificate", CertificateArn=certificate_arn) or {}).get("Tags")
    in_use_by = list(cert.get("InUseBy") or [])
    validation = cert.get("DomainValidationOptions") or []
    config: dict[str, Any] = {
        "domain_name": cert.get("DomainName"),
        "subject_alternative_names": list(cert.get("SubjectAlternativeNames") or [])[:MAX_NAMES],
        "status": cert.get("Status"),  # ISSUED | PENDING_VALIDATION | EXPIRED | REVOKED | FAILED | INACTIVE …
        "type": cert.get("Type"),  # AMAZON_ISSUED | IMPORTED | PRIVATE
        "key_algorithm": cert.get("KeyAlgorithm"),
        "signature_algorithm": cert.get("SignatureAlgorithm"),
        "not_before": iso(cert.get("NotBefore")),
        "not_after": iso(cert.get("NotAfter")),
        "issued_at": iso(cert.get("IssuedAt")),
        "imported_at": iso(cert.get("ImportedAt")),
        "created_at": iso(cert.get("CreatedAt")),
        "in_use_by": in_use_by,
        "in_use": bool(in_use_by),
        "renewal_eligibility": cert.get("RenewalEligibility"),
        "renewal_status": (cert.get("RenewalSummary") or {}).get("RenewalStatus"),
        "validation_method": validation[0].get("ValidationMethod") if validation else None,
        "transparency_logging": (cert.get("Options") or {}).get("CertificateTransparencyLoggingPreference")
        or "ENABLED",
    }
    return ResourceRecord(
        native_id=certificate_arn,
        name=cert.get("DomainName") or certificate_arn,
        config=details.finish(config),
        tags=tags_dict(tags),
        relations=[Rel("attached_to", user) for user in in_use_by if user.startswith("arn:")],
    )
