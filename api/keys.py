"""API key tokens: made, recognised and hashed here, stored nowhere in clear.

A token is ``clst_`` + 30 random base62 characters + a 6-character base62 CRC32 of them, e.g.
``clst_4fQ9...Zk2a1B``. The prefix lets people, logs and secret scanners recognise a Cloustral key;
the checksum lets a scanner (and ``looks_like_token``) tell a real-looking key from a typo without a
database round trip. About 178 bits of randomness: a plain SHA-256 of the token is a safe thing to
store and look up (no salt or slow hash needed, unlike a password a person chose).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib

PREFIX = "clst_"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
VISIBLE_LENGTH = len(PREFIX) + 8  # what the pages and the audit log show: "clst_4fQ9aB7x"
_ALPHABET = string.digits + string.ascii_letters  # base62: one word when double-clicked


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), CHECKSUM_LENGTH)


def new_token() -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX}{random_part}{_checksum(random_part)}"


def looks_like_token(value: str) -> bool:
    """Well formed: the prefix, the length, base62 only, and a matching checksum."""
    if len(value) != TOKEN_LENGTH or not value.startswith(PREFIX):
        return False
    body = value[len(PREFIX) :]
    if any(c not in _ALPHABET for c in body):
        return False
    random_part, checksum = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return hmac.compare_digest(_checksum(random_part), checksum)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def visible_prefix(token: str) -> str:
    return token[:VISIBLE_LENGTH]
