from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API v1 (``/api/v1/``), API keys (and their page under the organization), the OpenAPI
    schema and reference page, and findings in OCSF. Top layer: it reads and writes through the apps
    below (their queries and ``do_*`` actions) and holds no business logic of its own."""

    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from api import schema, signals  # noqa: F401  (the API key's OpenAPI scheme; revocation with the membership)
