"""Ending every session of a person (account deletion): the session table has no user column, so each
live session is decoded once, as ``accounts.mfa.end_other_sessions`` does for the other sessions."""

from __future__ import annotations

import logging
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone

logger = logging.getLogger(__name__)


def end_all_sessions(user, *, include_expired: bool = False) -> int:
    """Delete the user's sessions; ``include_expired`` also those past their expiry (for the purge: an
    expired session still holds the user's id until ``clearsessions`` runs)."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    get_model_class = getattr(store_class, "get_model_class", None)
    if get_model_class is None:  # cache-only or cookie sessions cannot be listed
        logger.warning("cannot end the sessions of user %s with SESSION_ENGINE=%s", user.pk, settings.SESSION_ENGINE)
        return 0
    decoder = store_class()
    ended = 0
    rows = get_model_class().objects.all()
    if not include_expired:
        rows = rows.filter(expire_date__gt=timezone.now())
    for key, data in rows.values_list("session_key", "session_data").iterator():
        if decoder.decode(data).get(SESSION_KEY) == str(user.pk):
            store_class(session_key=key).delete()  # through the store, so cached_db drops its cache too
            ended += 1
    return ended
