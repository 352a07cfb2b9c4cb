"""Whether a boolean in a resource's configuration is good or bad news, by its key: ``encrypted: true`` is
good, ``publicly_accessible: true`` is bad, ``is_default: true`` is neither. The resource page colours the
value by that, not by true/false. Unknown keys stay neutral."""

from __future__ import annotations

# Keys (lowercase, the last part of the path) decided explicitly; checked before the word rules below.
TRUE_IS_GOOD = frozenset(
    {
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
        "multi_az",
        "https_only",
        "enable_https_traffic_only",
        "is_multi_region_trail",
        "include_global_service_events",
        "auto_minor_version_upgrade",
        "copy_tags_to_snapshot",
        "require_symbols",
        "require_numbers",
        "require_uppercase_characters",
        "require_lowercase_characters",
        "hard_expiry",
        "mfa_delete",
        "purge_protection",
        "soft_delete",
        "rbac_authorization",
        "recording",
        "all_supported",
    }
)
TRUE_IS_BAD = frozenset(
    {
        "map_public_ip_on_launch",
        "allow_blob_public_access",
        "allow_shared_key_access",
        "source_dest_check_disabled",
        "allow_users_to_change_password_disabled",
        "public",
        "is_public",
        "publicly_accessible",
        "public_access",
        "public_network_access_enabled",
        "delete_on_termination_disabled",
    }
)
# Words that make true good (a protection is on) or bad (something is open), in that order of priority.
GOOD_WORDS = ("encrypt", "enabled", "protection", "logging", "rotation", "versioning", "validation", "mfa", "backup")
BAD_WORDS = ("public", "open", "anonymous", "insecure", "unrestricted", "disabled")


def bool_tone(key: str, value: bool) -> str:
    """Whether ``key: value`` is "good", "bad" or neutral ("")."""
    name = key.rsplit(".", 1)[-1].strip().lower()
    if name in TRUE_IS_GOOD:
        true_is = "good"
    elif name in TRUE_IS_BAD:
        true_is = "bad"
    elif any(word in name for word in BAD_WORDS):
        true_is = "bad"
    elif any(word in name for word in GOOD_WORDS):
        true_is = "good"
    else:
        return ""
    if value:
        return true_is
    return "bad" if true_is == "good" else "good"
