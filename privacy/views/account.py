"""A person's own data: their exports (with the download link) and the deletion of their account,
with its cancellation from the emailed link.

Objects are looked up for the signed-in person first, so another person's export is a 404 whatever
the method; the method is checked after (the isolation walk requests every URL with GET and POST)."""

from __future__ import annotations

from allauth.core.ratelimit import consume_or_429
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.sudo import sudo_required
from orgs.models import Membership
from privacy import deletion, exports
from privacy.forms import DeleteAccountForm, RestoreLinkForm
from privacy.models import ExportJob

EXPORTS_PER_PAGE = 10
SAFE = ("GET", "HEAD")


def _not_allowed(request: HttpRequest, methods=SAFE) -> HttpResponse | None:
    return None if request.method in methods else HttpResponseNotAllowed(methods)


def _job_for(request: HttpRequest, export_id: int) -> ExportJob:
    job = ExportJob.objects.for_user(request.user).select_related("org").filter(pk=export_id).first()
    if job is None:
        raise Http404("No such export.")
    return job


# --- exports -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def export_person(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        job, created = exports.do_request_export(request.user, request=request)
        if created:
            messages.success(request, "Your export is being prepared. We will email you a download link.")
        else:
            messages.info(request, "Your export is already being prepared: here it is.")
        return redirect("privacy:export_detail", export_id=job.pk)
    jobs = ExportJob.objects.for_user(request.user).filter(kind=ExportJob.Kind.PERSON)
    page = Paginator(jobs, EXPORTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "link_hours": settings.EXPORT_LINK_MAX_AGE_HOURS}
    return render(request, "privacy/export_person.html", context)


@login_required
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    job = _job_for(request, export_id)
    return _not_allowed(request) or render(request, "privacy/export_detail.html", {"job": job})


@login_required
def export_progress(request: HttpRequest, export_id: int) -> HttpResponse:
    """The progress panel alone, polled by htmx every 2 seconds while the export is being built."""
    job = _job_for(request, export_id)
    return _not_allowed(request) or render(request, "privacy/_export_panel.html", {"job": job})


@login_required
def export_download(request: HttpRequest, export_token: str) -> HttpResponse:
    try:
        job = exports.job_for_link(export_token, request.user)
    except exports.LinkProblem as problem:
        return render(request, "privacy/link_problem.html", {"problem": str(problem)}, status=problem.status)
    refused = _not_allowed(request)
    if refused:
        return refused
    path = exports.file_path(job)
    if path is None:
        problem = "The file of this export is no longer available. Ask for a new export."
        return render(request, "privacy/link_problem.html", {"problem": problem}, status=410)
    exports.do_record_download(job, request)
    name = f"cloustral-{job.org.slug if job.org_id else 'personal'}-data-{job.finished_at:%Y%m%d-%H%M}.zip"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type="application/zip")


# --- deletion ----------------------------------------------------------------------------------


@login_required
@sudo_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    blocked = deletion.sole_owner_orgs(request.user)
    if request.method == "POST" and form.is_valid():
        try:
            scheduled = deletion.do_request_deletion(request, request.user)
        except deletion.DeletionError as exc:
            form.add_error(None, exc.message)
            blocked = exc.orgs or blocked
        else:
            context = {"purge_after": scheduled.purge_after, "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS}
            return render(request, "privacy/account_deleted.html", context)
    owned = Membership.objects.for_user(request.user).select_related("org")
    context = {
        "form": form,
        "blocked": blocked,
        "memberships": list(owned),
        "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
    }
    return render(request, "privacy/delete_account.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def restore_account(request: HttpRequest, restore_token: str) -> HttpResponse:
    """The cancel link of the deletion email: GET asks, POST restores (mail scanners open links)."""
    try:
        pending = deletion.deletion_for_token(restore_token)
    except deletion.CancelLinkProblem as problem:
        context = {"problem": str(problem), "restore_request": True}
        return render(request, "privacy/link_problem.html", context, status=problem.status)
    if request.method == "POST":
        try:
            deletion.do_cancel_deletion(request, restore_token)
        except deletion.CancelLinkProblem as problem:
            return render(request, "privacy/link_problem.html", {"problem": str(problem)}, status=problem.status)
        return render(request, "privacy/account_restored.html")
    return render(request, "privacy/restore_account.html", {"deletion": pending})


@require_http_methods(["GET", "POST"])
def restore_request(request: HttpRequest) -> HttpResponse:
    """Lost the email? The cancel link again, to the address of an account pending deletion."""
    form = RestoreLinkForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].lower()
        limited = consume_or_429(request, action="privacy_restore_link", key=email)
        if limited:
            return limited
        deletion.do_resend_cancel_link(email)
        messages.info(
            request,
            "If an account with that address is scheduled for deletion, we sent it a new link to cancel.",
        )
        return redirect("privacy:restore_request")
    return render(request, "privacy/restore_request.html", {"form": form})
