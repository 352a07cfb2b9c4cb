"""Structured logging that never carries secrets."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Keys whose values are never logged, wherever they appear in a record's extra data.
SENSITIVE_KEY = re.compile(
    r"passw(or)?d|^pass$|secret|token|api_?key|access_?key|private_?key|^key$|credential|authorization|cookie"
    r"|session_?id|otp|totp|recovery_?code",
    re.I,
)
# Values that look like secrets whatever they are called.
SENSITIVE_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|v1:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_=-]{16,}"  # our own ciphertexts
    r"|(?i:(password|secret|token|client_secret|aws_secret_access_key)\s*[=:]\s*)\S+"
)
REDACTED = "[redacted]"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact_value(value: object) -> object:
    if isinstance(value, str):
        return SENSITIVE_VALUE.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: (REDACTED if SENSITIVE_KEY.search(str(k)) else redact_value(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    return value


class RedactSecretsFilter(logging.Filter):
    """Scrubs the message, its arguments and extra fields before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Redact the formatted message: a secret may only look like one once its arguments are in.
        try:
            message = record.getMessage()
        except Exception:  # a broken format string still gets logged, just not interpolated
            message = str(record.msg)
        record.msg = redact_value(message)
        record.args = None
        for key in set(vars(record)) - _STANDARD:
            if SENSITIVE_KEY.search(key):
                setattr(record, key, REDACTED)
            else:
                setattr(record, key, redact_value(getattr(record, key)))
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in set(vars(record)) - _STANDARD:
            value = getattr(record, key)
            if key.startswith("_") or key in {"request", "server_time"}:
                continue
            payload[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info:
            payload["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            payload["exc"] = redact_value(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


class ClientErrorTracebackFilter(logging.Filter):
    """A 4xx the app answered on purpose (403 permission denied, 400 bad request) stays one log line: its
    traceback describes no bug and would bury the ones that do. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
