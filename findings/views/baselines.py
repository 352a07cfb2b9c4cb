"""Views of the findings app (baselines)."""

urlpatterns: list = []
