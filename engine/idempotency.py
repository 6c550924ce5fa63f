"""Idempotent requests: a client key, the request's fingerprint, and the result the first request produced.

The caller computes a fingerprint of what the request means (who, and the fields that matter), asks
`replay` before acting, and calls `remember` in the same transaction as the action. A retry with the same
key and fingerprint gets the stored result; the same key with another fingerprint is refused with
`KeyReused`. Two concurrent first requests with one key cannot both commit: the primary key (scope, key)
makes the second fail at commit, after which its `replay` finds the first one's result.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import Conflict
from engine.models import IdempotencyKey

MIN_LENGTH, MAX_LENGTH = 8, 64


class KeyReused(Conflict):
    """The idempotency key was already used for a different request."""

    http_status = 422


def fingerprint(request: Mapping[str, Any]) -> str:
    """Return the SHA-256 (hex) of the request's canonical JSON."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(session: Session, scope: str, key: str, print_: str) -> dict[str, Any] | None:
    """Return the stored result of the key, None when it is new; raise KeyReused on another fingerprint."""
    row = session.get(IdempotencyKey, (scope, key), populate_existing=True)
    if row is None:
        return None
    if row.fingerprint != print_:
        raise KeyReused("This idempotency key was already used for a different request.")
    return dict(row.result)


def remember(session: Session, scope: str, key: str, print_: str, result: Mapping[str, Any]) -> None:
    """Store the key with the request's fingerprint and result (in the caller's transaction)."""
    session.add(IdempotencyKey(scope=scope, key=key, fingerprint=print_, result=dict(result)))
    session.flush()
