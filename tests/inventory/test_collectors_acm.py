"""ACM certificate collector against moto (imported certificates made here, so their dates and keys
are known)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from inventory.collectors.base import get_collector
from tests.inventory.collector_helpers import REGION, collect, fail_operation, judge, make_context, moto_account


def self_signed(domain: str, days: int, bits: int = 2048) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=300))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.fixture
def ctx(monkeypatch):
    with moto_account(monkeypatch):
        yield make_context()


@pytest.fixture
def certificates(ctx):
    acm = boto3.client("acm", region_name=REGION)
    cert, key = self_signed("shop.example.com", days=10)
    expiring = acm.import_certificate(Certificate=cert, PrivateKey=key, Tags=[{"Key": "team", "Value": "web"}])
    cert, key = self_signed("www.example.com", days=200)
    healthy = acm.import_certificate(Certificate=cert, PrivateKey=key)
    requested = acm.request_certificate(DomainName="api.example.com", ValidationMethod="DNS")
    return {
        "expiring": expiring["CertificateArn"],
        "healthy": healthy["CertificateArn"],
        "requested": requested["CertificateArn"],
    }


def test_certificates(ctx, certificates):
    entry = get_collector("aws.acm.certificate")
    assert entry.service == "acm" and entry.regional
    records = {r.native_id: r for r in collect(ctx, "aws.acm.certificate")}
    assert set(records) == set(certificates.values())
    expiring = records[certificates["expiring"]]
    config = expiring.config
    assert config["domain_name"] == "shop.example.com" and config["type"] == "IMPORTED"
    assert config["status"] == "ISSUED" and config["key_algorithm"] == "RSA_2048"
    assert datetime.fromisoformat(config["not_after"]) - datetime.now(UTC) < timedelta(days=11)
    assert config["in_use"] is False and config["unreadable"] == [] and expiring.tags == {"team": "web"}
    assert records[certificates["requested"]].config["status"] == "PENDING_VALIDATION"
    collected = {"aws.acm.certificate": list(records.values())}
    # The engine's clock is now: the 10-day certificate is due, the 200-day one is not.
    assert judge("aws-acm-certificate-expiring", collected) == {certificates["expiring"]}
    assert judge("aws-acm-certificate-unused", collected) == {certificates["expiring"], certificates["healthy"]}


def test_every_key_type_is_listed(ctx, certificates):
    calls = []
    ctx.client("acm").meta.events.register(
        "provide-client-params.acm.ListCertificates", lambda params, **kw: calls.append(params)
    )
    collect(ctx, "aws.acm.certificate")
    assert "RSA_1024" in calls[0]["Includes"]["keyTypes"] and "EC_secp384r1" in calls[0]["Includes"]["keyTypes"]


def test_denied_tags_are_unreadable(ctx, certificates):
    fail_operation(ctx, "acm", "ListTagsForCertificate", code="AccessDeniedException")
    records = collect(ctx, "aws.acm.certificate")
    assert all(r.config["unreadable"] == ["tags"] and r.tags == {} for r in records)
