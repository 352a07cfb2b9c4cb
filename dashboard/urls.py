from django.urls import path

from dashboard import explorer_views, exposure_views, map_views, views

app_name = "dashboard"
ORG = "o/<slug:org_slug>/"

urlpatterns = [
    path(ORG, views.home, name="home"),
    *explorer_views.urlpatterns,
    *map_views.urlpatterns,
    *exposure_views.urlpatterns,
]
