"""A member who leaves or is removed loses their personal keys for good: revoked with the membership,
so a later re-invitation does not bring an old key back to life. (Until then a removed member's key
already fails: every request checks the membership.)"""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from api.models import ApiKey
from orgs.models import Membership


@receiver(post_delete, sender=Membership, dispatch_uid="api_revoke_personal_keys_of_former_members")
def revoke_personal_keys(sender, instance: Membership, **kwargs) -> None:
    ApiKey.objects.for_org(instance.org_id).filter(
        kind=ApiKey.Kind.PERSONAL, user_id=instance.user_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
