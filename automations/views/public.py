"""Pages about a person rather than an organization: their notification settings (linked from the
profile), and the one-click unsubscribe link of every summary email, which needs no login."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from automations import actions
from automations.forms import NotificationsForm
from automations.models import Automation, Channel, EmailPreference, Unsubscription
from automations.unsubscribe import read_token
from orgs.models import Membership


def automations_emailing(user) -> list[tuple[Automation, bool]]:
    """(automation, subscribed) for every automation whose email channels name the person (by role or
    by name) in an organization they belong to. A fixed number of queries."""
    memberships = {m.org_id: m.role for m in Membership.objects.for_user(user)}
    if not memberships:
        return []
    # Across the person's own organizations, on purpose: this page is about them.
    email_channels = Channel.objects.unscoped().filter(org_id__in=list(memberships), kind=Channel.Kind.EMAIL)
    mine = [c.pk for c in email_channels if memberships[c.org_id] in c.roles or user.pk in c.member_ids]
    through = Automation.channels.through
    ids = set(through.objects.filter(channel_id__in=mine).values_list("automation_id", flat=True))
    automations = Automation.objects.unscoped().filter(pk__in=ids).select_related("org").order_by("org__name", "name")
    muted = set(Unsubscription.objects.for_user(user).values_list("automation_id", flat=True))
    return [(a, a.pk not in muted) for a in automations]


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    user = request.user
    preference = EmailPreference.objects.filter(user=user).first()
    rows = automations_emailing(user)
    form = NotificationsForm(
        request.POST if request.POST.get("form") == "preferences" else None,
        initial={"digests": preference.digests if preference else True},
    )
    if request.method == "POST":
        if request.POST.get("form") == "preferences" and form.is_valid():
            actions.do_set_digest_emails(user, form.cleaned_data["digests"])
            messages.success(request, "Your notification settings were saved.")
            return redirect("automations:notifications")
        automation = next((a for a, _ in rows if str(a.pk) == request.POST.get("automation")), None)
        if automation is not None and request.POST.get("form") in ("unsubscribe", "resubscribe"):
            if request.POST["form"] == "unsubscribe":
                actions.do_unsubscribe(user, automation)
                messages.success(request, f"You no longer receive “{automation.name}”.")
            else:
                actions.do_resubscribe(user, automation)
                messages.success(request, f"You receive “{automation.name}” again.")
            return redirect("automations:notifications")
        return render(request, "automations/notifications.html", {"form": form, "rows": rows}, status=400)
    return render(request, "automations/notifications.html", {"form": form, "rows": rows})


@csrf_exempt  # RFC 8058: mail clients POST here with no cookie; the signed token is the authorization
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = read_token(token)
    user = automation = None
    if found is not None:
        user = get_user_model().objects.filter(pk=found.user_id, is_active=True).first()
        automation = Automation.objects.unscoped().select_related("org").filter(pk=found.automation_id).first()
    if user is None or automation is None:
        return render(request, "automations/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        actions.do_unsubscribe(user, automation)
        return render(request, "automations/unsubscribe.html", {"done": True, "automation": automation})
    return render(request, "automations/unsubscribe.html", {"automation": automation, "email": user.email})


urlpatterns = [
    path("account/notifications/", notifications, name="notifications"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
