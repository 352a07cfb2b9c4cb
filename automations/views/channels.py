"""Channels: email to members or roles, Slack, signed webhooks. A webhook's signing secret is shown once,
in the answer to the request that created (or replaced) it, and never again."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse

from automations import actions
from automations.access import get_channel_for_member
from automations.forms import ChannelForm
from automations.models import Channel, Delivery
from orgs.decorators import org_view
from orgs.models import Membership
from orgs.roles import Capability, Role

_C = Capability
ORG = "o/<slug:org_slug>/automations/channels/"
PER_PAGE = 50


def _list_url(request: HttpRequest) -> str:
    return reverse("automations:channels", kwargs={"org_slug": request.org.slug})


def recipients_summary(channel: Channel, names: dict[int, str]) -> str:
    if channel.kind != Channel.Kind.EMAIL:
        return channel.url_hint
    parts = [f"every {Role(r).label.lower()}" for r in channel.roles if r in Role.values]
    people = [names[u] for u in channel.member_ids if u in names]
    parts += people[:5] + ([f"{len(people) - 5} more"] if len(people) > 5 else [])
    return ", ".join(parts) or "nobody (the members chosen left)"


@org_view(_C.VIEW)
def channel_list(request: HttpRequest) -> HttpResponse:
    org = request.org
    page = Paginator(Channel.objects.for_org(org), PER_PAGE).get_page(request.GET.get("page"))
    names = {
        m.user_id: m.user.get_full_name() for m in Membership.objects.for_org(org).select_related("user").only(
            "user_id", "user__first_name", "user__last_name", "user__email"
        )
    }  # fmt: skip
    rows = [(c, recipients_summary(c, names)) for c in page]
    context = {
        "page": page,
        "rows": rows,
        "kinds": Channel.Kind.choices,
        "can_manage": request.membership.can_manage_automations,
    }
    return render(request, "automations/channels.html", context)


def _kind(value: str) -> str:
    if value not in Channel.Kind.values:
        raise Http404("No such kind of channel.")
    return value


def _secret_page(request: HttpRequest, channel: Channel, secret: str, *, created: bool) -> HttpResponse:
    return render(
        request, "automations/channel_secret.html", {"channel": channel, "secret": secret, "created": created}
    )


@org_view(_C.MANAGE_AUTOMATIONS, methods=["GET", "POST"])
def channel_new(request: HttpRequest, channel_kind: str) -> HttpResponse:
    kind = _kind(channel_kind)
    form = ChannelForm(request.POST or None, org=request.org, kind=kind)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = actions.do_create_channel(
                    request.org,
                    user=request.user,
                    kind=kind,
                    name=data["name"],
                    url=data.get("url", ""),
                    roles=data.get("roles", []),
                    member_ids=data.get("members", []),
                    request=request,
                )
            except actions.DuplicateName as exc:
                form.add_error("name", str(exc))
            else:
                if saved.secret:
                    return _secret_page(request, saved.channel, saved.secret, created=True)
                messages.success(request, f"Channel “{saved.channel.name}” added. Send a test to check it.")
                return redirect(_list_url(request))
        return render(request, "automations/channel_form.html", {"form": form, "kind": kind}, status=400)
    return render(request, "automations/channel_form.html", {"form": form, "kind": kind})


@org_view(_C.MANAGE_AUTOMATIONS, methods=["GET", "POST"])
def channel_edit(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_channel_for_member(request, channel_id, _C.MANAGE_AUTOMATIONS)
    form = ChannelForm(request.POST or None, org=request.org, kind=channel.kind, channel=channel)
    context = {"form": form, "kind": channel.kind, "channel": channel}
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_update_channel(
                    channel,
                    user=request.user,
                    name=data["name"],
                    url=data.get("url", ""),
                    roles=data.get("roles", []),
                    member_ids=data.get("members", []),
                    request=request,
                )
            except actions.DuplicateName as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, f"Channel “{channel.name}” saved.")
                return redirect(_list_url(request))
        return render(request, "automations/channel_form.html", context, status=400)
    return render(request, "automations/channel_form.html", context)


@org_view(_C.MANAGE_AUTOMATIONS, methods=["POST"])
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_channel_for_member(request, channel_id, _C.MANAGE_AUTOMATIONS)
    deliveries = actions.do_send_test(channel, user=request.user, request=request)
    if not deliveries:
        messages.error(request, f"“{channel.name}” has no recipient: nobody to send a test to.")
    else:
        sent = [d for d in deliveries if d.status == Delivery.Status.SENT]
        failed = [d for d in deliveries if d.status != Delivery.Status.SENT]
        if sent:
            messages.success(request, f"Test sent through “{channel.name}” to {', '.join(d.recipient for d in sent)}.")
        for d in failed:
            messages.error(request, f"Test to {d.recipient} not sent ({d.get_status_display()}): {d.error}")
    return redirect(_list_url(request))


@org_view(_C.MANAGE_AUTOMATIONS, methods=["POST"])
def channel_rotate_secret(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_channel_for_member(request, channel_id, _C.MANAGE_AUTOMATIONS)
    if channel.kind != Channel.Kind.WEBHOOK:
        messages.error(request, "Only webhooks have a signing secret.")
        return redirect(_list_url(request))
    secret = actions.do_rotate_secret(channel, user=request.user, request=request)
    return _secret_page(request, channel, secret, created=False)


@org_view(_C.MANAGE_AUTOMATIONS, methods=["GET", "POST"])
def channel_delete(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_channel_for_member(request, channel_id, _C.MANAGE_AUTOMATIONS)
    if request.method == "POST":
        name = channel.name
        actions.do_delete_channel(channel, user=request.user, request=request)
        messages.success(request, f"Channel “{name}” deleted.")
        return redirect(_list_url(request))
    used_by = list(
        channel.automations.through.objects.filter(channel=channel).values_list("automation__name", flat=True)
    )
    return render(request, "automations/channel_delete.html", {"channel": channel, "used_by": used_by})


urlpatterns = [
    path(ORG, channel_list, name="channels"),
    path(f"{ORG}new/<str:channel_kind>/", channel_new, name="channel_new"),
    path(f"{ORG}<int:channel_id>/edit/", channel_edit, name="channel_edit"),
    path(f"{ORG}<int:channel_id>/test/", channel_test, name="channel_test"),
    path(f"{ORG}<int:channel_id>/secret/", channel_rotate_secret, name="channel_secret"),
    path(f"{ORG}<int:channel_id>/delete/", channel_delete, name="channel_delete"),
]
