"""An organization's data rights, for its owners: export everything, pause and resume processing.
Changes ask for a fresh proof of identity (accounts/sudo.py) after the 404/403 of ``@org_view``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.sudo import require_sudo
from orgs.decorators import org_view
from orgs.roles import Capability
from privacy import exports, restriction
from privacy.models import ExportJob

# The owner's rights over the organization's data, with its deletion (docs/roles.md).
OWNER = Capability.DELETE_ORG
EXPORTS_PER_PAGE = 10


def _page_url(request: HttpRequest) -> str:
    return reverse("privacy:org", kwargs={"org_slug": request.org.slug})


@org_view(OWNER)
def org_data(request: HttpRequest) -> HttpResponse:
    jobs = ExportJob.objects.for_org(request.org).select_related("user")
    page = Paginator(jobs, EXPORTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "privacy/org_data.html", {"page": page})


@org_view(OWNER, methods=["POST"])
def org_export(request: HttpRequest) -> HttpResponse:
    require_sudo(request, next_url=_page_url(request))
    try:
        job, created = exports.do_request_export(request.user, membership=request.membership, request=request)
    except exports.ExportError as exc:
        messages.error(request, str(exc))
        return redirect(_page_url(request))
    if created:
        messages.success(request, "The export is being prepared. We will email you a download link.")
    else:
        messages.info(request, "An export of this organization you asked for is already being prepared.")
    return redirect("privacy:export_detail", export_id=job.pk)


@org_view(OWNER, methods=["POST"])
def org_pause(request: HttpRequest) -> HttpResponse:
    require_sudo(request, next_url=_page_url(request))
    if restriction.do_pause_processing(request.membership, request=request):
        messages.warning(
            request,
            f"Processing of {request.org.name} is paused: no scans, rule evaluations or automations until you "
            "resume it. Scans under way were cancelled.",
        )
    else:
        messages.info(request, "Processing was already paused.")
    return redirect(_page_url(request))


@org_view(OWNER, methods=["POST"])
def org_resume(request: HttpRequest) -> HttpResponse:
    require_sudo(request, next_url=_page_url(request))
    if restriction.do_resume_processing(request.membership, request=request):
        messages.success(request, f"Processing of {request.org.name} resumed. Scheduled scans run at their next slot.")
    else:
        messages.info(request, "Processing was not paused.")
    return redirect(_page_url(request))
