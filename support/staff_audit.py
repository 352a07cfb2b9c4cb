"""What a staff request in the console showed or changed, for the audit log: who (the request's user),
what (the page or record), which organization (the record's, when it belongs to one). Recorded with
``org`` set, an event is in that organization's own audit log, so its owners see support looked."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch

from accounts import audit
from accounts.models import AuditEvent
from orgs.models import Organization

A = AuditEvent.Action
# Model pages that show data; the same pages (and "add") change it when a POST succeeds (a redirect).
VIEW_SUFFIXES = ("_changelist", "_change", "_history", "_delete")
CHANGE_SUFFIXES = ("_changelist", "_change", "_delete", "_add")


@dataclass(frozen=True)
class Seen:
    """What a page showed: the organization it belongs to (if one), a name for people, and details."""

    org: Organization | None
    target: str
    details: dict = field(default_factory=dict)


def mark(request: HttpRequest, org: Organization | None, target: str, **details) -> None:
    """Support pages say what they show; the middleware records it once the page was rendered."""
    request.support_seen = Seen(org, target, details)


def mark_recorded(request: HttpRequest) -> None:
    """A safe action recorded its own event: the middleware adds none."""
    request.support_recorded = True


def before_view(request: HttpRequest, match: ResolverMatch) -> None:
    """A change is described before the view runs: a deleted record can no longer say its organization."""
    if request.method == "POST":
        seen = _model_page(request, match, CHANGE_SUFFIXES)
        if seen is not None and request.POST.get("action"):  # a list action names the rows it acts on
            details = {"list_action": request.POST["action"][:100]}
            details["selected"] = request.POST.getlist("_selected_action")[:100]
            seen = Seen(seen.org, seen.target, {**seen.details, **details})
        request.support_changing = seen


def record_admin_request(request: HttpRequest, match: ResolverMatch, response: HttpResponse) -> None:
    if getattr(request, "support_recorded", False):
        return
    if request.method == "GET" and response.status_code == 200:
        seen = getattr(request, "support_seen", None) or _model_page(request, match, VIEW_SUFFIXES)
        action = A.SUPPORT_VIEWED
    elif request.method == "POST" and response.status_code == 302:
        seen = getattr(request, "support_changing", None)
        action = A.SUPPORT_CHANGED
    else:
        return
    if seen is not None:
        audit.record(action, request=request, org=seen.org, target=seen.target, page=match.url_name, **seen.details)


def _model_page(request: HttpRequest, match: ResolverMatch, suffixes: tuple[str, ...]) -> Seen | None:
    model_admin = getattr(match.func, "model_admin", None)
    if model_admin is None or not (match.url_name or "").endswith(suffixes):
        return None
    meta = model_admin.model._meta
    object_id = match.kwargs.get("object_id")
    if object_id is None:
        org = _organization(request.GET.get("org__id__exact"))
        search = request.GET.get("q", "")[:100]
        return Seen(org, f"{str(meta.verbose_name_plural).capitalize()} list", {"search": search} if search else {})
    obj = _object(model_admin.model, unquote(object_id))
    if obj is None:  # the admin answers a missing record with a redirect: nothing was shown or changed
        return None
    org_id = obj.pk if isinstance(obj, Organization) else getattr(obj, "org_id", None)
    return Seen(_organization(org_id), f"{str(meta.verbose_name).capitalize()} “{obj}”", {"object_id": str(obj.pk)})


def _object(model, object_id: str):
    try:
        return model._base_manager.filter(pk=object_id).first()
    except (ValueError, TypeError, ValidationError):
        return None


def _organization(org_id) -> Organization | None:
    if org_id in (None, ""):
        return None
    try:
        return Organization.objects.filter(pk=int(org_id)).first()
    except (ValueError, TypeError):
        return None
