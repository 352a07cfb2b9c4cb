"""Views of the inventory (explorer_views)."""

urlpatterns: list = []
