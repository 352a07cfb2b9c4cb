"""Views of the findings app (compliance)."""

urlpatterns: list = []
