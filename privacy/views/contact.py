"""The contact page: open to everyone, rate-limited per address and per email, with a honeypot."""

from __future__ import annotations

import logging

from allauth.core.ratelimit import consume_or_429
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from privacy import contact as contact_actions
from privacy.forms import ContactForm

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    user = request.user if request.user.is_authenticated else None
    initial = {"name": user.get_full_name() if user else "", "email": user.email if user else ""}
    if request.GET.get("topic") in dict(ContactForm.base_fields["topic"].choices):
        initial["topic"] = request.GET["topic"]
    form = ContactForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if form.is_bot:
            # Answer as if it worked: a bot learns nothing, nobody is emailed, nothing is stored.
            logger.info("contact form honeypot filled; dropped")
            return render(request, "privacy/contact_sent.html", {"reference": None})
        if form.is_valid():
            limited = consume_or_429(request, action="privacy_contact", key=form.cleaned_data["email"])
            if limited:
                return limited
            data = {k: form.cleaned_data[k] for k in ("name", "email", "topic", "message")}
            sent = contact_actions.do_submit(user=user, **data)
            return render(request, "privacy/contact_sent.html", {"reference": sent.reference, "email": sent.email})
    return render(request, "privacy/contact.html", {"form": form}, status=400 if form.errors else 200)
