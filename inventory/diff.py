"""Field-level differences between two states of a resource, for change events and drift.

Paths are dotted from the top field (``name``, ``tags``, ``config``): ``config.versioning.status``,
``tags.Environment``. A key that is not a plain identifier is quoted: ``tags["kubernetes.io/role"]``.
Dictionaries are compared key by key, recursively; lists and scalars as whole values.

``record_hashes`` is the cheap side of the same comparison: a sync stores a SHA-256 of each record's
canonical form and diffs in full only the records whose hash moved.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_:-]*$")
_MISSING = object()


def _join(path: str, key: Any) -> str:
    key = str(key)
    return f"{path}.{key}" if _PLAIN_KEY.match(key) else f"{path}[{json.dumps(key)}]"


def _walk(path: str, old: Any, new: Any, out: dict[str, dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            _walk(_join(path, key), old.get(key, _MISSING), new.get(key, _MISSING), out)
        return
    if old == new and type(old) is type(new):
        return
    out[path] = {"old": None if old is _MISSING else old, "new": None if new is _MISSING else new}


def resource_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Differences between two {"name", "tags", "config"} states: {path: {"old", "new"}}, sorted by path."""
    out: dict[str, dict[str, Any]] = {}
    for field in ("name", "tags", "config"):
        _walk(field, old.get(field), new.get(field), out)
    return dict(sorted(out.items()))


def strip_volatile(config: Any, keys: tuple[str, ...]) -> Any:
    """``config`` without the keys that change on every read, for comparing two scans. A key is dotted
    (``credential_report.generated_time``); ``[]`` steps into every item of a list
    (``access_keys[].last_used_date``). The stored config keeps them: rules still judge their values."""
    if not keys or not isinstance(config, dict):
        return config
    stripped = copy.deepcopy(config)
    for key in keys:
        _drop(stripped, key.split("."))
    return stripped


def _drop(node: Any, steps: list[str]) -> None:
    step, rest = steps[0], steps[1:]
    items = step.endswith("[]")
    name = step[:-2] if items else step
    if not isinstance(node, dict) or name not in node:
        return
    if not rest:
        del node[name]
    elif items and isinstance(node[name], list):
        for item in node[name]:
            _drop(item, rest)
    elif not items:
        _drop(node[name], rest)


def _canonical_json(value: Any) -> bytes:
    # Sorted keys and no whitespace: equal JSON values always give equal bytes.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hashes(
    resource_type: str,
    region: str,
    name: str,
    tags: dict[str, str],
    config: Any,
    relations: Iterable[tuple[str, str]],
    volatile: tuple[str, ...] = (),
) -> tuple[str, str]:
    """(content hash, volatile hash) of a normalized record (JSON values as stored).

    The content hash covers what a change event reports (type, region, name, tags, config without its
    volatile keys) and the record's relationships (kind, target native id): equal hashes mean nothing to
    diff, store or relink. The volatile hash covers the whole config, only for a type with volatile keys
    ("" otherwise): when only it moves, the stored config is refreshed without a change event. SHA-256 of
    canonical JSON: a collision is not a practical concern."""
    stable = strip_volatile(config, volatile)
    links = sorted({(str(kind), str(target)) for kind, target in relations})
    content = hashlib.sha256(_canonical_json([resource_type, region, name, tags, stable, links])).hexdigest()
    return content, (hashlib.sha256(_canonical_json(config)).hexdigest() if volatile else "")
