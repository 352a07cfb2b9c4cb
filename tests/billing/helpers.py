"""localstripe for the billing tests: a server per test session (per xdist worker), the settings that
point Cloustral at it, and what stripe.js would do in a browser (confirm a SetupIntent with a card)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.localstripe_server import PRICE_IDS, free_port

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_test_cloustral_billing"
SECRET_KEY = "sk_test_cloustral"
PUBLISHABLE_KEY = "pk_test_cloustral"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"  # declined when attached (at the SetupIntent)
CHARGE_FAILS_CARD = "4000000000000341"  # attaches, then every charge fails


def _up(base: str) -> bool:
    try:
        urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1)  # noqa: S310 - loopback only
        return True
    except OSError:
        return False


@contextmanager
def localstripe_server(webhook_url: str = ""):
    """``python -m tests.fakes.localstripe_server`` on a free loopback port; stopped on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tests.fakes.localstripe_server", "--port", str(port), "--seed-prices"]
    if webhook_url:
        command += ["--webhook-url", webhook_url, "--webhook-secret", WEBHOOK_SECRET]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ}
    )
    try:
        deadline = time.monotonic() + 20
        while not _up(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stripe_settings(settings, base: str) -> None:
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = base
    settings.STRIPE_JS_URL = f"{base}/js.stripe.com/v3/"
    settings.STRIPE_LOCALSTRIPE = True
    settings.STRIPE_PORTAL_CONFIGURATION = ""
    settings.BILLING_PRICE_IDS = {plan: dict(ids) for plan, ids in PRICE_IDS.items()}


def confirm_card(base: str, setup: dict, number: str = GOOD_CARD) -> dict:
    """What stripe.js's ``confirmCardSetup`` sends (with the publishable key, never the secret one)."""
    body = json.dumps(
        {
            "key": PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": setup["client_secret"],
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            },
        }
    ).encode()
    seti = setup["id"]
    request = urllib.request.Request(f"{base}/v1/setup_intents/{seti}/confirm", data=body, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


def signed(payload: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its ``Stripe-Signature`` header, as Stripe signs them."""
    body = json.dumps(payload).encode()
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={t},v1={signature}"


def event(event_type: str, obj: dict, event_id: str = "") -> dict:
    return {
        "id": event_id or f"evt_{hashlib.sha256(f'{event_type}{time.time_ns()}'.encode()).hexdigest()[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "api_version": "2026-10-28.endive",
        "livemode": False,
        "data": {"object": obj},
    }
