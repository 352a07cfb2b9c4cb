"""Views of the findings app (policies)."""

urlpatterns: list = []
