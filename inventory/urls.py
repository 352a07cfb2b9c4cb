from django.urls import path

from inventory import views

app_name = "inventory"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(f"{ORG}connections/<int:connection_id>/scans/", views.history, name="history"),
    path(f"{ORG}connections/<int:connection_id>/scans/new/", views.scan_now, name="scan_now"),
    path(f"{ORG}connections/<int:connection_id>/inventory/", views.resources, name="resources"),
    path(f"{ORG}scans/<int:run_id>/", views.run_detail, name="run_detail"),
    path(f"{ORG}scans/<int:run_id>/progress/", views.run_progress, name="run_progress"),
    path(f"{ORG}scans/<int:run_id>/cancel/", views.cancel, name="cancel"),
]
