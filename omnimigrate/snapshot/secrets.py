"""Secrets inside exported objects: found, flagged, and masked wherever omnimigrate prints.

The rule (docs/snapshot-format.md, "Secrets"): Omni's API returns no connection secrets, but
objects can still carry some: webhook URLs, URLs with credentials or token-like query
parameters, and fields named like passwords or keys. They stay verbatim in the blob, since a
restore needs them to recreate the destination (encrypt the store to protect them); the
manifest entry is flagged with a warning naming the field; and every printed view (diff,
`show --objects`, reports, logs) shows `***` instead.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MASK = "***"
SECRET_FIELD = re.compile(
    r"(password|passwd|secret|token|api_?key|private_?key|webhook_?url)$", re.I
)
SECRET_PARAM = re.compile(r"(token|secret|key|password|sig|signature|auth|code)", re.I)


def secret_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    return bool(parts.password) or any(SECRET_PARAM.search(k) for k, _ in parse_qsl(parts.query))


def _is_secret(field: str, value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    return bool(SECRET_FIELD.search(field)) or secret_url(value)


def find_secrets(obj: Any, path: str = "") -> list[str]:
    """Paths of the values in `obj` that hold a secret under the rule above."""
    if isinstance(obj, dict):
        found = []
        for k, v in obj.items():
            where = f"{path}.{k}" if path else str(k)
            found += [where] if _is_secret(str(k), v) else find_secrets(v, where)
        return found
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in find_secrets(v, f"{path}[{i}]")]
    return [path] if isinstance(obj, str) and secret_url(obj) else []


def mask(obj: Any, field: str = "") -> Any:
    """A copy of `obj` with every secret replaced by ***."""
    if isinstance(obj, dict):
        return {k: MASK if _is_secret(str(k), v) else mask(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask(v, field) for v in obj]
    return MASK if isinstance(obj, str) and secret_url(obj) else obj
