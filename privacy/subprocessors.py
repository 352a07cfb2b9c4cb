"""The sub-processors: the companies that process personal data for Cloustral. One list, kept here;
the sub-processors page and the privacy policy render it. Change ``LAST_CHANGED`` with the list."""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class SubProcessor:
    name: str
    purpose: str
    data: str
    location: str
    website: str


LAST_CHANGED = datetime.date(2026, 11, 1)

SUBPROCESSORS: list[SubProcessor] = [
    SubProcessor(
        name="Amazon Web Services EMEA SARL",
        purpose="Hosting: application servers, database, backups",
        data="Everything stored in Cloustral",
        location="European Union (Frankfurt, Germany)",
        website="https://aws.amazon.com/compliance/gdpr-center/",
    ),
    SubProcessor(
        name="Amazon Web Services EMEA SARL (Amazon SES)",
        purpose="Email provider: sign-up, security, export and contact emails",
        data="Email addresses and the content of the emails we send",
        location="European Union (Ireland)",
        website="https://aws.amazon.com/ses/",
    ),
    SubProcessor(
        name="Stripe Payments Europe, Ltd.",
        purpose="Payment processor: subscriptions and invoices",
        data="Billing contact, payment details (held by Stripe, never by us), invoices",
        location="European Union (Ireland); United States",
        website="https://stripe.com/privacy",
    ),
    SubProcessor(
        name="PostHog Inc.",
        purpose="Product analytics, only with your consent",
        data="Page views and product events with a random browser id; no names, no cloud data",
        location="European Union (Frankfurt, Germany)",
        website="https://posthog.com/privacy",
    ),
    SubProcessor(
        name="Google LLC",
        purpose="Sign in with Google, if you choose it",
        data="Your Google account id, email address and name",
        location="United States",
        website="https://policies.google.com/privacy",
    ),
]
