"""Remember computed figures until anything happens: every step, answer and generated history appends to the
audit chain, so its head (index and hash, one indexed row) says whether the data may have changed.

A leader opening the dashboard, a drill-down and back, or several leaders looking at the same period, cost one
computation. Keys hold the database, the head of the chain, the question and the moment figures are counted at
(to the minute, when the period reaches into the present).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AuditEvent

T = TypeVar("T")
_LOCK = threading.Lock()
_ENTRIES: OrderedDict[Hashable, Any] = OrderedDict()
SIZE = 64


def head(session: Session) -> tuple[Any, ...]:
    """Return what identifies the data's state: the database and the head of the audit chain."""
    row = session.execute(select(AuditEvent.chain_index, AuditEvent.hash)
                          .order_by(AuditEvent.chain_index.desc()).limit(1)).first()
    return (str(session.get_bind().engine.url), row.chain_index if row else 0, row.hash if row else "")


def remembered(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """Return the remembered value for `key` at the chain's current head, computing it when missing."""
    full = (head(session), key)
    with _LOCK:
        if full in _ENTRIES:
            _ENTRIES.move_to_end(full)
            return _ENTRIES[full]  # type: ignore[no-any-return]
    value = compute()
    with _LOCK:
        _ENTRIES[full] = value
        while len(_ENTRIES) > SIZE:
            _ENTRIES.popitem(last=False)
    return value


def clear() -> None:
    """Forget everything (the benchmark measures cold requests with it)."""
    with _LOCK:
        _ENTRIES.clear()
