"""Organization URLs. Everything about one organization lives under ``/o/<org_slug>/``; later apps
mount theirs there too (``path("o/<slug:org_slug>/connections/", include("connections.urls"))``)
and decorate their views with ``orgs.decorators.org_view``."""

from django.urls import path

from orgs import views

app_name = "orgs"

ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path("orgs/new/", views.create_organization, name="create"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path(f"{ORG}roles/", views.roles, name="roles"),
    path(f"{ORG}settings/", views.org_settings, name="settings"),
    path(f"{ORG}settings/delete/", views.delete_organization, name="delete"),
    path(f"{ORG}audit/", views.audit_log, name="audit_log"),
    path(f"{ORG}members/", views.members, name="members"),
    path(f"{ORG}members/invite/", views.invite, name="invite"),
    path(f"{ORG}members/<int:membership_id>/role/", views.change_role, name="change_role"),
    path(f"{ORG}members/<int:membership_id>/remove/", views.remove_member, name="remove_member"),
    path(f"{ORG}members/<int:membership_id>/transfer-ownership/", views.transfer_ownership, name="transfer_ownership"),
    path(f"{ORG}leave/", views.leave, name="leave"),
    path(f"{ORG}invitations/<int:invitation_id>/resend/", views.resend_invitation, name="resend_invitation"),
    path(f"{ORG}invitations/<int:invitation_id>/revoke/", views.revoke_invitation, name="revoke_invitation"),
]
