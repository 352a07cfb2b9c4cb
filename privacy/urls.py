"""Privacy URLs: the legal pages and the contact page (public), a person's data (/privacy/...), an
organization's data rights (/o/<org_slug>/privacy/...), and the browser's consent and analytics beacons."""

from django.urls import path

from privacy.views import account, beacons, contact, legal, org

app_name = "privacy"

ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path("legal/privacy/", legal.policy, name="policy"),
    path("legal/sub-processors/", legal.subprocessors, name="subprocessors"),
    path("legal/terms/", legal.terms, name="terms"),
    path("contact/", contact.contact, name="contact"),
    path("privacy/consent/", beacons.consent, name="consent"),
    path("privacy/events/", beacons.events, name="events"),
    path("privacy/export/", account.export_person, name="export"),
    path("privacy/exports/<int:export_id>/", account.export_detail, name="export_detail"),
    path("privacy/exports/<int:export_id>/progress/", account.export_progress, name="export_progress"),
    path("privacy/exports/download/<str:export_token>/", account.export_download, name="export_download"),
    path("privacy/delete-account/", account.delete_account, name="delete_account"),
    path("privacy/restore/", account.restore_request, name="restore_request"),
    path("privacy/restore/<str:restore_token>/", account.restore_account, name="restore_account"),
    path(f"{ORG}privacy/", org.org_data, name="org"),
    path(f"{ORG}privacy/export/", org.org_export, name="org_export"),
    path(f"{ORG}privacy/pause/", org.org_pause, name="org_pause"),
    path(f"{ORG}privacy/resume/", org.org_resume, name="org_resume"),
]
