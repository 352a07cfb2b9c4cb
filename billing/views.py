"""The organization's plan page and the billing changes (members with ``manage_billing`` only; every
change needs a fresh re-authentication). Thin: the work is in ``billing.actions``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.sudo import SudoRequired, require_sudo, sudo_required
from billing import actions, stripe_api
from billing.csp import with_stripe_csp
from billing.forms import CardConfirmedForm, PlanChoiceForm, SubscribeForm
from billing.models import BillingAccount
from billing.plans import FREE, FREQUENCY_LABELS, PLANS
from billing.usage_page import plan_cards, usage_rows
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
INVOICE_CURSOR = re.compile(r"^in_[A-Za-z0-9]{1,250}$")
STRIPE_ERRORS = (actions.BillingError, stripe_api.StripeUnavailable)


def _plan_url(request: HttpRequest) -> str:
    return reverse("billing:plan", kwargs={"org_slug": request.org.slug})


def _sudo_then_plan_page(view):
    """Re-authentication for a POST-only change: once confirmed, back to the plan page (a GET of the
    change's own URL would be a 405)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            require_sudo(request, next_url=_plan_url(request))
        except SudoRequired as refused:
            return refused.response
        return view(request, *args, **kwargs)

    return wrapper


def _account(request: HttpRequest) -> BillingAccount | None:
    return BillingAccount.objects.for_org(request.org).first()


def _invoice_row(invoice: dict) -> dict:
    amount = invoice.get("amount_paid") if invoice.get("status") == "paid" else invoice.get("amount_due")
    created = invoice.get("created")
    return {
        "id": invoice.get("id", ""),
        "number": invoice.get("number") or invoice.get("id", ""),
        "created": datetime.fromtimestamp(created, tz=UTC) if created else None,
        "amount": f"{(amount or 0) / 100:,.2f} {(invoice.get('currency') or '').upper()}",
        "status": invoice.get("status", ""),
        "url": invoice.get("hosted_invoice_url") or invoice.get("invoice_pdf") or "",
    }


@org_view(_C.MANAGE_BILLING)
def plan_page(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    plan = account.effective_plan if account else PLANS[FREE]
    context = {
        "account": account,
        "plan": plan,
        "subscribed_plan": account.subscribed_plan if account else plan,
        "usage": usage_rows(request.org, plan),
        "frequency": FREQUENCY_LABELS[plan.limits.scan_frequency],
        "plans": plan_cards(plan if not (account and account.has_subscription) else account.subscribed_plan),
        "configured": stripe_api.is_configured(),
        "portal": bool(settings.STRIPE_PORTAL_CONFIGURATION),
        "grace_days": settings.BILLING_GRACE_DAYS,
        "trial_days": settings.BILLING_TRIAL_DAYS,
        "payment_method": None,
        "invoices": [],
    }
    if account and account.stripe_customer_id and context["configured"]:
        after = request.GET.get("after", "")
        after = after if INVOICE_CURSOR.match(after) else ""
        try:
            context["payment_method"] = stripe_api.default_payment_method(account.stripe_customer_id)
            invoices, has_more = stripe_api.list_invoices(account.stripe_customer_id, starting_after=after)
        except stripe_api.StripeUnavailable as exc:
            context["stripe_error"] = exc.message
        else:
            context["invoices"] = [_invoice_row(i) for i in invoices]
            context["invoices_after"] = invoices[-1]["id"] if has_more and invoices else ""
            context["invoices_paged"] = bool(after)
    return render(request, "billing/plan.html", context)


def _card_page(request: HttpRequest, template: str, **context) -> HttpResponse:
    """The card form with a fresh SetupIntent (the customer is created on first use)."""
    try:
        setup = actions.start_card_setup(request, request.org)
    except stripe_api.StripeUnavailable as exc:
        messages.error(request, exc.message)
        return redirect(_plan_url(request))
    return render(
        request,
        template,
        {
            "client_secret": setup["client_secret"],
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "demo_card_hint": settings.STRIPE_LOCALSTRIPE,
            **context,
        },
    )


@org_view(_C.MANAGE_BILLING, methods=["GET", "POST"])
@sudo_required
@with_stripe_csp
def subscribe(request: HttpRequest) -> HttpResponse:
    if not stripe_api.is_configured():
        messages.error(request, "Payments are not set up on this installation.")
        return redirect(_plan_url(request))
    account = _account(request)
    if account is not None and account.has_subscription:
        messages.info(request, "The organization already has a subscription: choose its new plan below.")
        return redirect(_plan_url(request))
    if request.method == "POST":
        form = SubscribeForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_subscribe(request, request.org, data["plan"], data["interval"], data["setup_intent"])
            except STRIPE_ERRORS as exc:
                messages.error(request, exc.message)
            else:
                plan = PLANS[data["plan"]]
                messages.success(request, f"{request.org.name} is now on the {plan.name} plan.")
                return redirect(_plan_url(request))
        else:
            messages.error(request, "The card could not be confirmed. Enter it again.")
        choice = PlanChoiceForm(request.POST)
    else:
        choice = PlanChoiceForm(request.GET or None)
    plan_key, interval = "team", "month"
    if choice.is_valid():
        plan_key, interval = choice.cleaned_data["plan"], choice.cleaned_data["interval"]
    plan = PLANS[plan_key]
    trial = settings.BILLING_TRIAL_DAYS if not (account and account.trial_used) else 0
    return _card_page(request, "billing/subscribe.html", plan=plan, interval=interval, trial_days=trial)


@org_view(_C.MANAGE_BILLING, methods=["GET", "POST"])
@sudo_required
@with_stripe_csp
def payment_method(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if not stripe_api.is_configured() or account is None or not account.stripe_customer_id:
        messages.error(request, "Subscribe to a plan first; its card becomes the payment method.")
        return redirect(_plan_url(request))
    if request.method == "POST":
        form = CardConfirmedForm(request.POST)
        if form.is_valid():
            try:
                actions.do_change_payment_method(request, request.org, form.cleaned_data["setup_intent"])
            except STRIPE_ERRORS as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "The new card is the payment method from now on.")
                return redirect(_plan_url(request))
        else:
            messages.error(request, "The card could not be confirmed. Enter it again.")
    return _card_page(request, "billing/payment_method.html")


@org_view(_C.MANAGE_BILLING, methods=["POST"])
@_sudo_then_plan_page
def change_plan(request: HttpRequest) -> HttpResponse:
    form = PlanChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the plans and how often to pay.")
        return redirect(_plan_url(request))
    plan = PLANS[form.cleaned_data["plan"]]
    try:
        actions.do_change_plan(request, request.org, plan.key, form.cleaned_data["interval"])
    except STRIPE_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect(_plan_url(request))
    messages.success(request, f"{request.org.name} is now on the {plan.name} plan.")
    over = actions.over_limits(request.org, plan)
    if over:
        messages.warning(
            request,
            f"The organization uses more than the {plan.name} plan allows: {', '.join(over)}. "
            "Nothing is removed, but nothing more of those can be added.",
        )
    return redirect(_plan_url(request))


def _set_cancel(request: HttpRequest, cancel: bool) -> HttpResponse:
    try:
        account = actions.do_set_cancel_at_period_end(request, request.org, cancel)
    except STRIPE_ERRORS as exc:
        messages.error(request, exc.message)
    else:
        if cancel:
            messages.success(
                request,
                f"The {account.subscribed_plan.name} plan is cancelled at the end of the period. "
                "You can undo that until then.",
            )
        else:
            messages.success(request, f"The {account.subscribed_plan.name} plan continues: the cancellation is undone.")
    return redirect(_plan_url(request))


@org_view(_C.MANAGE_BILLING, methods=["POST"])
@_sudo_then_plan_page
def cancel(request: HttpRequest) -> HttpResponse:
    return _set_cancel(request, True)


@org_view(_C.MANAGE_BILLING, methods=["POST"])
@_sudo_then_plan_page
def resume(request: HttpRequest) -> HttpResponse:
    return _set_cancel(request, False)


@org_view(_C.MANAGE_BILLING, methods=["POST"])
@_sudo_then_plan_page
def portal(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if not settings.STRIPE_PORTAL_CONFIGURATION or account is None or not account.stripe_customer_id:
        messages.error(request, "The billing portal is not available for this organization.")
        return redirect(_plan_url(request))
    try:
        url = stripe_api.portal_url(account.stripe_customer_id, request.build_absolute_uri(_plan_url(request)))
    except stripe_api.StripeUnavailable as exc:
        messages.error(request, exc.message)
        return redirect(_plan_url(request))
    return redirect(url)
