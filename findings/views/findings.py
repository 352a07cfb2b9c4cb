"""Views of the findings app (findings)."""

urlpatterns: list = []
