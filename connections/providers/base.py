"""What every provider module returns when it checks a connection, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field


class ConnectionCheckError(Exception):
    """A connection test failed. ``code`` is stable (for tests and the UI); ``message`` is what the
    user reads: specific and actionable, and never containing a secret."""

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # the form field to attach the message to, when one is to blame


@dataclass
class CheckResult:
    """What a successful test learned about the account."""

    account_id: str  # AWS account id, or Azure tenant id
    display_name: str = ""  # AWS account alias, or the first subscription's name
    regions: list[str] = field(default_factory=list)  # AWS enabled regions
    subscriptions: list[dict] = field(default_factory=list)  # Azure: [{"id", "name", "state"}]
    identity: str = ""  # the ARN / client id the platform acted as
    member_accounts: list[dict] = field(default_factory=list)  # AWS Organization: its ACTIVE accounts
