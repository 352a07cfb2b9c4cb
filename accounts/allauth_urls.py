"""allauth's pages that change how someone signs in, behind our re-authentication (``accounts.sudo``).

allauth asks again only for a password, and lets an account without one (Google sign-up) straight
through; it also stashes a refused POST in the session to replay it. Mounted before ``allauth.urls``
on the same paths, these wrappers ask everyone for a proof they have (password, authenticator code or
an emailed code) and keep nothing of a refused request: a hijacked session cannot add an address,
set a password or connect another Google account, and so make itself permanent."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from allauth.account import views as account_views
from allauth.socialaccount import views as social_views
from allauth.socialaccount.providers.google import views as google_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from accounts.sudo import SAFE_METHODS, sudo_required


def _sudo_for_changes(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page that lists (addresses, connected accounts) opens freely; what it changes needs a proof."""
    guarded = sudo_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return view(request, *args, **kwargs) if request.method in SAFE_METHODS else guarded(request, *args, **kwargs)

    return wrapper


def _sudo_when_connecting(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The provider's login view also connects an account to the signed-in user (``process=connect``):
    only that use needs a fresh proof; signing in stays as it is."""
    guarded = sudo_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        process = request.POST.get("process") or request.GET.get("process")
        if request.user.is_authenticated and process == "connect":
            return guarded(request, *args, **kwargs)
        return view(request, *args, **kwargs)

    return wrapper


urlpatterns = [
    path("email/", login_required(_sudo_for_changes(account_views.email))),
    path("password/set/", login_required(sudo_required(account_views.password_set))),
    path("3rdparty/", login_required(_sudo_for_changes(social_views.connections))),
    path("google/login/", _sudo_when_connecting(google_views.oauth2_login)),
]
