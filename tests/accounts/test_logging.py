import json
import logging

from cloustral.logging import JSONFormatter, RedactSecretsFilter


def emit(msg, *args, **extra) -> str:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    RedactSecretsFilter().filter(record)
    return JSONFormatter().format(record)


def test_json_lines_with_extra_fields():
    line = json.loads(emit("sync finished for %s", "acct-1", connection_id=7))
    assert line["message"] == "sync finished for acct-1"
    assert line["connection_id"] == 7
    assert line["level"] == "INFO"


def test_secrets_are_redacted_from_message_args_and_extras():
    out = emit(
        "calling AWS with %s and password=%s",
        "AKIAIOSFODNN7EXAMPLE",
        "hunter2",
        client_secret="sup3rs3cret",
        payload={"aws_secret_access_key": "wJalrXUtnFEMI", "region": "eu-west-1"},
    )
    for secret in ("AKIAIOSFODNN7EXAMPLE", "hunter2", "sup3rs3cret", "wJalrXUtnFEMI"):
        assert secret not in out
    assert "eu-west-1" in out


def test_our_ciphertexts_never_reach_the_log():
    from cloustral import crypto

    token = crypto.encrypt("x", aad="r")
    assert token not in emit("stored %s", token)


def test_ordinary_fields_that_merely_contain_key_or_code_are_kept():
    line = json.loads(emit("request", status_code=404, region_key_count=3, session_count=2))
    assert (line["status_code"], line["region_key_count"], line["session_count"]) == (404, 3, 2)
