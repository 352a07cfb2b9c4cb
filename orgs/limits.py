"""Checks that may refuse a new member (plan limits). Billing sits above orgs, so orgs cannot ask it
directly: billing registers a check here in its ``AppConfig.ready`` and the invite action runs them.

A check takes (organization, how many members would be added) and returns None to allow, or a
``Refusal`` (a plain message, and an HTML one that may link somewhere) to refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    message: str
    html: str = ""


MemberCheck = Callable[[object, int], Refusal | None]
_member_checks: list[MemberCheck] = []


def register_member_check(check: MemberCheck) -> None:
    if check not in _member_checks:
        _member_checks.append(check)


def member_refusal(org, adding: int = 1) -> Refusal | None:
    """The first refusal of a registered check, or None when every check allows ``adding`` members."""
    for check in _member_checks:
        refusal = check(org, adding)
        if refusal is not None:
            return refusal
    return None
