from __future__ import annotations

from allauth.core.ratelimit import consume_or_429
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import audit, mfa
from accounts.forms import ProfileForm, TOTPCodeForm
from accounts.models import AuditEvent
from accounts.sudo import sudo_required


def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record(AuditEvent.Action.PROFILE_UPDATED, request=request, fields=sorted(form.changed_data))
        messages.success(request, "Your profile was saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})


SIGN_INS_SHOWN = 20


@login_required
def security(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.filter(actor=request.user)
    page = Paginator(events, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/security.html",
        {
            "device": mfa.confirmed_device(request.user),
            "recovery_left": request.user.recovery_codes.filter(used_at__isnull=True).count(),
            "page": page,
            "sign_ins": request.user.sign_ins.all()[:SIGN_INS_SHOWN],
        },
    )


@login_required
@sudo_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    if request.user.has_mfa:
        messages.info(request, "Two-factor authentication is already on. Turn it off first to use another app.")
        return redirect("security")
    device, raw = mfa.pending_device(request.user)
    form = TOTPCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa.do_confirm_enrollment(request, device, form.cleaned_data["code"])
        if codes is not None:
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "just_enabled": True})
        form.add_error("code", "That code is not right. Check the time on your phone and try the newest code.")
    url = device.config_url(raw)
    context = {"form": form, "qr": mfa.qr_svg_data_uri(url), "secret": mfa.secret_for_manual_entry(raw)}
    return render(request, "accounts/mfa_setup.html", context)


@login_required
@sudo_required
@require_http_methods(["GET", "POST"])
def mfa_disable(request: HttpRequest) -> HttpResponse:
    if not request.user.has_mfa:
        return redirect("security")
    form = TOTPCodeForm(request.POST or None)
    if request.method == "POST":
        # Same bucket as the login's second step: guessing codes here is no cheaper than there.
        limited = consume_or_429(request, action="mfa_verify", key=str(request.user.pk))
        if limited:
            return limited
        if form.is_valid() and mfa.do_disable(request, request.user, form.cleaned_data["code"]):
            messages.warning(
                request,
                "Two-factor authentication is off and your other sessions were logged out. "
                "Your account is protected by your password only.",
            )
            return redirect("security")
        if form.is_valid():
            form.add_error("code", "That code is not valid. Try the newest code from your app, or a recovery code.")
    return render(request, "accounts/mfa_disable.html", {"form": form})


@login_required
@sudo_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    if not request.user.has_mfa:
        return redirect("security")
    if request.method == "POST":
        codes = mfa.do_regenerate_recovery_codes(request, request.user)
        return render(request, "accounts/recovery_codes.html", {"codes": codes})
    return render(request, "accounts/recovery_codes_confirm.html")


@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    # A path on this site or nothing: "abc" once reached redirect() as a URL name (NoReverseMatch, a 500).
    next_url = mfa.safe_next_path(request, request.POST.get("next") or request.GET.get("next") or "")
    if not mfa.needs_second_step(request):
        return redirect(next_url or "home")
    form = TOTPCodeForm(request.POST or None)
    if request.method == "POST":
        limited = consume_or_429(request, action="mfa_verify", key=str(request.user.pk))
        if limited:
            return limited
        throttled = mfa.throttled_seconds(request.user)  # before the attempt: a refused code adds to it
        if form.is_valid() and mfa.do_verify_login(request, request.user, form.cleaned_data["code"]):
            # Only now is the person signed in (allauth's "Successfully signed in" waits for this step).
            messages.success(request, f"Signed in as {request.user.email}.")
            return redirect(next_url or "home")
        if form.is_valid() and throttled:
            form.add_error(
                "code",
                f"Too many wrong codes in a row: authenticator codes are refused for {throttled} more "
                f"second{'s' if throttled != 1 else ''}, even a correct one. Wait and try the newest code, "
                "or use a recovery code.",
            )
        elif form.is_valid():
            form.add_error("code", "That code is not valid. Try the newest code from your app, or a recovery code.")
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": next_url})
