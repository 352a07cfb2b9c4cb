"""Fail-closed scoping of tenant data (ARCHITECTURE.md convention 3).

Every model that belongs to an organization declares::

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="...")
    objects = OrgScopedManager()

and is then queried as ``Thing.objects.for_org(request.org)``. A query that never said which
organization it is about raises ``OrgScopeError`` the moment it would touch the database (iteration,
``get``, ``count``, ``exists``, ``update``, ``delete``, aggregation, or use as a subquery), so a
forgotten filter is a loud error in development and tests instead of a silent leak. The rare
legitimate global query (admin, a maintenance command, a lookup by an unguessable token) says
``.unscoped()`` on purpose, where a reviewer can see it.

Related managers reached from the organization itself (``org.invitations.all()``) are scoped by
construction and allowed. Creating rows (``create``, ``bulk_create``) needs no scope: the row carries
its org. Deletion cascades and ``instance.save()`` go through Django's base manager and are not
affected. (The idea follows PostHog's ``posthog/models/scoping/manager.py``.)
"""

from __future__ import annotations

from typing import Any, Self

from django.db import models


class OrgScopeError(Exception):
    """A query of org-owned data did not start from an organization."""


class OrgScopedQuerySet(models.QuerySet):
    #: Fields that scope a query: a related manager through one of them is scoped by construction.
    scope_fields: tuple[str, ...] = ("org",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._org_scoped = False
        self._scope_values: dict[str, Any] = {}

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._org_scoped = self._org_scoped
        clone._scope_values = dict(self._scope_values)
        return clone

    def _scoped_to(self, field: str, value: Any) -> Self:
        qs = self.filter(**{field: value})
        qs._org_scoped = True
        qs._scope_values[field] = value
        return qs

    # -- the ways in ----------------------------------------------------------------------------
    def for_org(self, org) -> Self:
        if org is None or getattr(org, "pk", org) is None:
            raise OrgScopeError(f"{self.model.__name__}.objects.for_org() needs an organization, got {org!r}.")
        return self._scoped_to("org", org)

    def unscoped(self) -> Self:
        """Deliberately query across all organizations (admin, maintenance, token lookups)."""
        qs = self._chain()
        qs._org_scoped = True
        return qs

    def create(self, **kwargs: Any):
        # ``Thing.objects.for_org(org).create(...)`` (and get_or_create/update_or_create, which call
        # it) puts the row in that organization.
        for field, value in self._scope_values.items():
            if field not in kwargs and f"{field}_id" not in kwargs:
                kwargs[field if not isinstance(value, int) else f"{field}_id"] = value
        return super().create(**kwargs)

    # -- the guard ------------------------------------------------------------------------------
    def _require_scope(self) -> None:
        if not self._org_scoped:
            name = self.model.__name__
            raise OrgScopeError(
                f"Query of {name} without an organization. Start from {name}.objects.for_org(org), "
                f"or say {name}.objects.unscoped() if a global query is really meant."
            )

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._require_scope()
        super()._fetch_all()

    def iterator(self, *args: Any, **kwargs: Any):
        self._require_scope()
        return super().iterator(*args, **kwargs)

    def count(self) -> int:
        if self._result_cache is None:
            self._require_scope()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._require_scope()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._require_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._require_scope()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._require_scope()
        return super().delete()

    def explain(self, *args: Any, **kwargs: Any) -> str:
        self._require_scope()
        return super().explain(*args, **kwargs)

    def resolve_expression(self, *args: Any, **kwargs: Any):
        # Used as a subquery (``filter(id__in=Thing.objects.values("x"))``): same rule.
        self._require_scope()
        return super().resolve_expression(*args, **kwargs)


class OrgScopedManager(models.Manager.from_queryset(OrgScopedQuerySet)):
    """The default manager of every org-owned model. See the module docstring."""

    def get_queryset(self) -> OrgScopedQuerySet:
        qs = super().get_queryset()
        # A related manager (``org.invitations``, ``user.memberships`` for models whose scope_fields
        # include ``user``) filters by its instance: scoped by construction.
        core_filters = getattr(self, "core_filters", None)
        if core_filters and any(key.split("__")[0] in qs.scope_fields for key in core_filters):
            qs._org_scoped = True
        return qs
