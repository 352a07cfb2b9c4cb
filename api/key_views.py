"""The API keys page of an organization: list, make (the key shown once) and revoke. Making and revoking
need a fresh proof of identity (accounts/sudo.py). Everyone may make personal keys; organization keys,
and revoking other people's keys, need ``manage_api_keys`` (admins). Thin: changes in ``api.actions``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.sudo import require_sudo, sudo_required
from api import actions
from api.forms import ApiKeyForm
from api.models import ApiKey
from orgs.decorators import org_view
from orgs.roles import Capability

_C = Capability
PER_PAGE = 50


def _keys_url(request: HttpRequest) -> str:
    return reverse("api:keys", kwargs={"org_slug": request.org.slug})


def visible_keys(request: HttpRequest):
    """Admins see every key of the organization; others the organization's keys and their own."""
    keys = ApiKey.objects.for_org(request.org).select_related("user", "created_by", "revoked_by")
    if request.membership.can(_C.MANAGE_API_KEYS):
        return keys
    return keys.filter(Q(kind=ApiKey.Kind.ORGANIZATION) | Q(user=request.user))


def _list_page(request: HttpRequest, status: int = 200) -> HttpResponse:
    page = Paginator(visible_keys(request), PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "can_manage": request.membership.can(_C.MANAGE_API_KEYS),
        "reference_url": reverse("api:reference"),
        "schema_url": reverse("api:schema"),
    }
    return render(request, "api/keys.html", context, status=status)


@org_view(_C.VIEW)
def key_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@org_view(_C.VIEW, methods=["GET", "POST"])
@sudo_required
def key_new(request: HttpRequest) -> HttpResponse:
    can_make_org_keys = request.membership.can(_C.MANAGE_API_KEYS)
    form = ApiKeyForm(request.POST or None, can_make_org_keys=can_make_org_keys)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api_key, token = actions.do_create_api_key(
                request.org,
                user=request.user,
                kind=data["kind"],
                name=data["name"],
                scope=data["scope"],
                expires_at=form.expires_at(),
                request=request,
            )
        except actions.ApiKeyError as exc:
            form.add_error(None, str(exc))
        else:
            # Shown once, in this answer only (no redirect: the key never goes into the session).
            context = {"api_key": api_key, "token": token, "keys_url": _keys_url(request)}
            return render(request, "api/key_created.html", context, status=201)
    status = 400 if request.method == "POST" else 200
    return render(request, "api/key_form.html", {"form": form}, status=status)


@org_view(_C.VIEW, methods=["POST"])
def key_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke the key named by the form's ``key``: one's own personal key, or (admins) any key."""
    raw = (request.POST.get("key") or "").strip()
    if not raw.isdigit() or int(raw) >= 2**63:
        messages.error(request, "Choose a key to revoke.")
        return _list_page(request, status=400)
    api_key = ApiKey.objects.for_org(request.org).filter(pk=int(raw)).first()
    if api_key is None:
        raise Http404("No such key.")
    own = api_key.is_personal and api_key.user_id == request.user.pk
    if not own and not request.membership.can(_C.MANAGE_API_KEYS):
        raise PermissionDenied
    require_sudo(request, next_url=_keys_url(request))
    if actions.do_revoke_api_key(api_key, user=request.user, request=request):
        messages.success(request, f"Key {api_key.label} revoked: it stopped working at once.")
    else:
        messages.info(request, "That key was already revoked.")
    return redirect(_keys_url(request))
