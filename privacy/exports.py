"""Data exports (the rights of access and portability): asked for in a page, built by a Celery task into
a zip on disk (EXPORT_DIR), delivered by an emailed link that is signed, works only for the person
who asked, and expires (EXPORT_LINK_MAX_AGE_HOURS); the file is then deleted.

- ``do_request_export``: a person's export, or an organization's (owners); joins an active one.
- ``build(job_id)``: the task's body; idempotent (a finished job is left alone; a job whose worker
  died is rebuilt from scratch) and one worker at a time per job (a cache lock).
- ``download_token`` / ``read_download_token``: the link's signed token.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from orgs.models import Membership
from orgs.roles import Capability
from privacy import events, mail, tables
from privacy.archive import ArchiveWriter
from privacy.models import ExportJob

logger = logging.getLogger(__name__)
A = AuditEvent.Action
S = ExportJob.Status
LINK_SALT = "privacy.export-download"
LOCK_SECONDS = 15 * 60


class ExportError(Exception):
    """The export cannot be made; the message says why, for the person who asked."""


class LinkProblem(Exception):
    """A download link that cannot be honoured; ``status`` is the HTTP answer, the message says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def export_dir() -> Path:
    path = Path(settings.EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def link_max_age() -> timedelta:
    return timedelta(hours=settings.EXPORT_LINK_MAX_AGE_HOURS)


# --- asking ------------------------------------------------------------------------------------


def do_request_export(
    user, *, membership: Membership | None = None, request: HttpRequest | None = None
) -> tuple[ExportJob, bool]:
    """Queue an export of ``user``'s data, or of ``membership.org``'s when a membership is given (its
    role must allow deleting the organization: the owner's rights over its data). Returns
    ``(job, created)``: an export of the same data already under way is returned instead."""
    org = None
    if membership is not None:
        if membership.user_id != user.pk or not membership.can(Capability.DELETE_ORG):
            raise ExportError("Only an owner of the organization can export all of its data.")
        org = membership.org
    kind = ExportJob.Kind.ORG if org is not None else ExportJob.Kind.PERSON
    with transaction.atomic():
        active = (
            ExportJob.objects.for_user(user).select_for_update().filter(kind=kind, org=org, status__in=ExportJob.ACTIVE)
        )
        existing = active.first()
        if existing is not None:
            return existing, False
        job = ExportJob.objects.create(kind=kind, user=user, org=org)
        audit.record(
            A.DATA_EXPORT_REQUESTED,
            request=request,
            actor=user,
            org=org,
            target=org.name if org is not None else user.email,
            kind=kind,
            export=job.pk,
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    if request is not None:
        what = "organization_data" if org is not None else "personal_data"
        events.queue(request, "export", {"what": what, "format": "zip"})
    return job, True


def _enqueue(job_id: int) -> None:
    from privacy.tasks import build_export

    try:
        build_export.delay(job_id)
    except Exception:  # the broker is down: say so on the progress page rather than wait for ever
        logger.exception("could not queue export %s", job_id)
        ExportJob.objects.unscoped().filter(pk=job_id, status=S.QUEUED).update(
            status=S.FAILED, finished_at=timezone.now(), error="The export could not be queued. Please try again."
        )


# --- building ----------------------------------------------------------------------------------


def _lock_key(job_id: int) -> str:
    return f"privacy:export-lock:{job_id}"


def build(job_id: int) -> str:
    """Build the archive of job ``job_id``, then email its link. Returns the job's final status."""
    job = ExportJob.objects.unscoped().select_related("user", "org").filter(pk=job_id).first()
    if job is None or not job.is_active:
        return job.status if job is not None else "missing"
    if not cache.add(_lock_key(job_id), True, LOCK_SECONDS):
        return "busy"  # another worker has it
    try:
        return _build_locked(job)
    finally:
        cache.delete(_lock_key(job_id))


def _build_locked(job: ExportJob) -> str:
    subject = job.org if job.kind == ExportJob.Kind.ORG else job.user
    if subject is None:  # an org export whose organization is gone: the job went with it (cascade)
        return "missing"
    chosen = tables.org_tables() if job.kind == ExportJob.Kind.ORG else tables.person_tables()
    name = f"{job.pk}-{secrets.token_hex(16)}.zip"
    final = export_dir() / name
    partial = final.with_suffix(".part")
    jobs = ExportJob.objects.unscoped().filter(pk=job.pk)
    jobs.update(
        status=S.RUNNING,
        started_at=timezone.now(),
        progress_done=0,
        progress_total=len(chosen),
        rows_written=0,
        current_table="",
        error="",
    )
    counts: list[tuple[tables.Table, int]] = []

    def progress(rows: int) -> None:
        jobs.update(rows_written=F("rows_written") + rows)

    try:
        with ArchiveWriter(partial) as archive:
            for done, table in enumerate(chosen):
                jobs.update(current_table=table.name, progress_done=done)
                counts.append((table, archive.write_table(table.name, table.rows(subject), progress)))
            archive.write_text("README.md", readme(job, subject, counts))
        partial.replace(final)
    except Exception:
        logger.exception("export %s failed", job.pk)
        partial.unlink(missing_ok=True)
        jobs.update(status=S.FAILED, finished_at=timezone.now(), error="The export failed. Please try again.")
        return S.FAILED
    now = timezone.now()
    jobs.update(
        status=S.READY,
        progress_done=len(chosen),
        current_table="",
        file_name=name,
        file_size=final.stat().st_size,
        finished_at=now,
        expires_at=now + link_max_age(),
    )
    job.refresh_from_db()
    _send_ready_email(job)
    return S.READY


def readme(job: ExportJob, subject, counts: list[tuple[tables.Table, int]]) -> str:
    return render_to_string(
        "privacy/export_readme.md",
        {
            "job": job,
            "subject": subject,
            "is_org": job.kind == ExportJob.Kind.ORG,
            "counts": counts,
            "left_out": tables.ORG_TABLES_LEFT_OUT.values() if job.kind == ExportJob.Kind.ORG else (),
            "generated_at": timezone.now(),
        },
    )


def _send_ready_email(job: ExportJob) -> None:
    context = {
        "job": job,
        "org_name": job.org.name if job.org_id else "",
        "download_url": mail.absolute(reverse("privacy:export_download", kwargs={"export_token": download_token(job)})),
        "expires_at": job.expires_at,
        "max_age_hours": settings.EXPORT_LINK_MAX_AGE_HOURS,
    }
    try:
        mail.send("privacy/email/export_ready", job.user.email, context, tz=job.user.timezone)
    except Exception:  # the archive is ready and the page shows it: a lost email must not fail the job
        logger.exception("the email of export %s could not be sent", job.pk)


# --- the link ----------------------------------------------------------------------------------


def download_token(job: ExportJob) -> str:
    """A signed, timestamped token naming the job and the person it was made for."""
    return signing.dumps({"j": job.pk, "u": job.user_id}, salt=LINK_SALT)


def job_for_link(token: str, user) -> ExportJob:
    """The export a link opens for ``user``, or LinkProblem (404: damaged or someone else's; 410: expired)."""
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=link_max_age())
    except signing.SignatureExpired:
        raise LinkProblem("This download link has expired. Ask for a new export.", 410) from None
    except signing.BadSignature:
        raise LinkProblem("This download link is not valid. Check that it was copied whole.", 404) from None
    if not isinstance(payload, dict) or payload.get("u") != user.pk:
        raise LinkProblem("This download link was made for another account: sign in as the person who asked.", 404)
    job = ExportJob.objects.for_user(user).filter(pk=payload.get("j")).first()
    if job is None:
        raise LinkProblem("This export no longer exists.", 410)
    if job.status != S.READY or job.expires_at is None or job.expires_at <= timezone.now() or not job.file_name:
        raise LinkProblem("This export has expired and its file was deleted. Ask for a new export.", 410)
    if job.org_id is not None:
        # An organization's data goes to its owners only: one who stepped down since cannot fetch it.
        membership = Membership.objects.for_org(job.org_id).filter(user=user).first()
        if membership is None or not membership.can(Capability.DELETE_ORG):
            raise LinkProblem("Only an owner of the organization can download its data.", 403)
    return job


def file_path(job: ExportJob) -> Path | None:
    if not job.file_name:
        return None
    path = export_dir() / Path(job.file_name).name  # the name only: never a path from the database
    return path if path.is_file() else None


def do_record_download(job: ExportJob, request: HttpRequest) -> None:
    ExportJob.objects.for_user(job.user).filter(pk=job.pk).update(downloaded_at=timezone.now())
    audit.record(A.DATA_EXPORT_DOWNLOADED, request=request, org=job.org, export=job.pk, kind=job.kind)


# --- clean-up ----------------------------------------------------------------------------------


def remove_file(job: ExportJob) -> None:
    if job.file_name:
        (export_dir() / Path(job.file_name).name).unlink(missing_ok=True)
        (export_dir() / Path(job.file_name).with_suffix(".part").name).unlink(missing_ok=True)


def stale_after() -> timedelta:
    # A job still queued or running an hour after its task's time limit will not finish.
    return timedelta(seconds=settings.EXPORT_SOFT_TIME_LIMIT) + timedelta(hours=1)


def expire_exports(now=None) -> int:
    """Delete the files of exports past their expiry (status expired); fail jobs stuck for hours."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.unscoped().filter(status=S.READY, expires_at__lte=now).iterator():
        remove_file(job)
        expired += ExportJob.objects.unscoped().filter(pk=job.pk, status=S.READY).update(status=S.EXPIRED)
    ExportJob.objects.unscoped().filter(status__in=ExportJob.ACTIVE, created_at__lte=now - stale_after()).update(
        status=S.FAILED, finished_at=now, error="The export did not finish. Please try again."
    )
    return expired
