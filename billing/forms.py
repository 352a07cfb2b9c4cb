from __future__ import annotations

from django import forms

from billing.plans import PLANS

PAID_PLANS = [(key, plan.name) for key, plan in PLANS.items() if not plan.is_free]
INTERVALS = [("month", "Monthly"), ("year", "Yearly")]


class PlanChoiceForm(forms.Form):
    plan = forms.ChoiceField(choices=PAID_PLANS)
    interval = forms.ChoiceField(choices=INTERVALS, initial="month")


class CardConfirmedForm(forms.Form):
    """What the card form posts once stripe.js confirmed the SetupIntent: its id, never the card."""

    setup_intent = forms.RegexField(regex=r"^seti_[A-Za-z0-9_]{1,250}$", max_length=255)


class SubscribeForm(PlanChoiceForm, CardConfirmedForm):
    pass
