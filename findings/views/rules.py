"""Views of the findings app (rules)."""

urlpatterns: list = []
