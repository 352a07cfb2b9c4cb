from django.urls import path

from connections import views

app_name = "connections"
ORG = "o/<slug:org_slug>/connections/"

urlpatterns = [
    path(ORG, views.connection_list, name="list"),
    path(f"{ORG}new/", views.choose, name="choose"),
    path(f"{ORG}new/aws-role/<str:kind>.json", views.role_setup_file, name="role_setup_file"),
    path(f"{ORG}new/<slug:method>/", views.create, name="create"),
    path(f"{ORG}<int:connection_id>/", views.detail, name="detail"),
    path(f"{ORG}<int:connection_id>/edit/", views.edit, name="edit"),
    path(f"{ORG}<int:connection_id>/regions/", views.set_regions, name="regions"),
    path(f"{ORG}<int:connection_id>/schedule/", views.schedule, name="schedule"),
    path(f"{ORG}<int:connection_id>/test/", views.test, name="test"),
    path(f"{ORG}<int:connection_id>/test/status/", views.test_status, name="test_status"),
    path(f"{ORG}<int:connection_id>/toggle/", views.toggle, name="toggle"),
    path(f"{ORG}<int:connection_id>/delete/", views.delete, name="delete"),
]
