"""Views of the inventory (map_views)."""

urlpatterns: list = []
