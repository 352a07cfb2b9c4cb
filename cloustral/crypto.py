"""Secrets at rest: AES-256-GCM under a key ring from the environment.

Token format: ``v1:<key id>:<base64url(nonce || ciphertext+tag)>``. The key id says which key of the
ring decrypts; the associated data binds a ciphertext to the row (and field) it belongs to, so a
ciphertext copied to another row fails to decrypt. Every failure raises ``DecryptionError`` and never
returns the stored text: callers fail closed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"
_KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class DecryptionError(Exception):
    """A ciphertext could not be decrypted. Never carries the ciphertext or the plaintext."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    primary: str


def parse_key_ring(spec: str) -> KeyRing:
    """Parse ``kid:base64key[,kid:base64key…]``; the first key encrypts, every key decrypts."""
    keys: dict[str, bytes] = {}
    primary = ""
    for position, item in enumerate(part.strip() for part in spec.split(",") if part.strip()):
        kid, sep, encoded = item.partition(":")
        if not sep or not _KID_RE.match(kid):
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEYS entry #{position + 1} must look like 'keyid:base64key' "
                "(key id: letters, digits, _ or -, up to 32)."
            )
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS key '{kid}' is not valid base64.") from None
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEYS key '{kid}' must decode to 32 bytes (AES-256), got {len(raw)}."
            )
        if kid in keys:
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS lists key id '{kid}' twice.")
        keys[kid] = raw
        primary = primary or kid
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEYS is empty.")
    return KeyRing(keys=keys, primary=primary)


def generate_key_entry(kid: str) -> str:
    """A new ring entry for ENCRYPTION_KEYS (used by the setup script and docs)."""
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"


@lru_cache(maxsize=4)
def _ring_for(spec: str | None, debug: bool, secret_key: str) -> KeyRing:
    if spec:
        return parse_key_ring(spec)
    if not debug:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be set in production: generate one with "
            "`python manage.py generate_encryption_key` and see .env.example."
        )
    # Development only: a key derived from the dev SECRET_KEY so a newcomer needs no set-up.
    derived = hashlib.sha256(b"cloustral-dev-encryption:" + secret_key.encode()).digest()
    return KeyRing(keys={"dev": derived}, primary="dev")


def key_ring() -> KeyRing:
    return _ring_for(settings.ENCRYPTION_KEYS, settings.DEBUG, settings.SECRET_KEY)


def encrypt(plaintext: str, *, aad: str) -> str:
    ring = key_ring()
    nonce = os.urandom(12)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext.encode(), aad.encode())
    return f"{VERSION}:{ring.primary}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, aad: str) -> str:
    try:
        version, kid, body = token.split(":", 2)
        if version != VERSION:
            raise DecryptionError("unknown ciphertext version")
        key = key_ring().keys.get(kid)
        if key is None:
            raise DecryptionError(f"no key with id '{kid}' in ENCRYPTION_KEYS")
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode()).decode()
    except DecryptionError:
        raise
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError, AttributeError):
        raise DecryptionError("ciphertext is corrupt or bound to another record") from None


def key_id_of(token: str) -> str:
    return token.split(":", 2)[1] if token.count(":") >= 2 else ""


def needs_rotation(token: str) -> bool:
    return key_id_of(token) != key_ring().primary


def rotate(token: str, *, aad: str) -> str:
    return encrypt(decrypt(token, aad=aad), aad=aad)


# --- Registry of encrypted columns, so key rotation covers every secret in the product ------
_ENCRYPTED_FIELDS: list[tuple[type, str, object]] = []


def register_encrypted_field(model: type, field: str, aad) -> None:
    """Declare ``model.field`` as a ciphertext column whose associated data is ``aad(instance)``."""
    _ENCRYPTED_FIELDS.append((model, field, aad))


def encrypted_fields() -> list[tuple[type, str, object]]:
    return list(_ENCRYPTED_FIELDS)
