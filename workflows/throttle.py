"""Counting hits in the database, so that limits hold across every worker process (not per-process memory).

A limit is `(count, seconds)`: at most `count` hits by one key in any sliding window of `seconds`. The caller
owns the transaction and commits it at once, so that other processes see the hit.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from engine.db import utcnow
from workflows.models import RateEvent

Limit = tuple[int, int]  # (hits, window in seconds)
KEEP = dt.timedelta(days=2)  # longer than any window in use
PRUNE_EVERY = 1000  # every 1000th hit also deletes the expired hits of every key


def _key(key: str) -> str:
    return key[:200]


def retry_after(session: Session, bucket: str, key: str, limits: Sequence[Limit],
                now: dt.datetime | None = None) -> int | None:
    """Return the seconds to wait when the key has used up one of its limits, or None when it may go on."""
    now = now or utcnow()
    wait = 0.0
    for count, seconds in limits:
        since = now - dt.timedelta(seconds=seconds)
        hits = list(session.scalars(
            select(RateEvent.at).where(RateEvent.bucket == bucket, RateEvent.key == _key(key), RateEvent.at > since)
            .order_by(RateEvent.at.desc()).limit(count)
        ))
        if len(hits) >= count:  # the count-th most recent hit must leave the window first
            wait = max(wait, (hits[-1] + dt.timedelta(seconds=seconds) - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def record(session: Session, bucket: str, key: str, now: dt.datetime | None = None) -> int:
    """Count one hit (and forget this key's hits older than any window); return its id."""
    now = now or utcnow()
    session.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == _key(key),
                                            RateEvent.at < now - KEEP))
    event = RateEvent(bucket=bucket, key=_key(key), at=now)
    session.add(event)
    session.flush()
    if event.id % PRUNE_EVERY == 0:
        prune(session, now)
    return event.id


def forget(session: Session, event_id: int) -> None:
    """Take back one counted hit (e.g. a login attempt that succeeded does not count against the address)."""
    session.execute(delete(RateEvent).where(RateEvent.id == event_id))


def _serialize(session: Session, bucket: str, key: str) -> None:
    # PostgreSQL: two processes counting the same key at once take turns until commit, so neither lets a hit
    # beyond the limit through. SQLite needs nothing: every transaction there starts with BEGIN IMMEDIATE.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"rate:{bucket}:{_key(key)}"})


def hit(session: Session, bucket: str, key: str, limits: Sequence[Limit],
        now: dt.datetime | None = None) -> tuple[int | None, int | None]:
    """Count a hit unless a limit is used up.

    Return (seconds to wait, None) when refused (the hit is not counted), else (None, id of the counted hit).
    """
    now = now or utcnow()
    _serialize(session, bucket, key)
    if (wait := retry_after(session, bucket, key, limits, now)) is not None:
        return wait, None
    return None, record(session, bucket, key, now)


def clear(session: Session, bucket: str, key: str) -> None:
    """Forget a key's hits (e.g. the failed logins of an account after a successful one)."""
    session.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == _key(key)))


def prune(session: Session, now: dt.datetime | None = None) -> int:
    """Delete every hit older than any window; return how many."""
    cutoff = (now or utcnow()) - KEEP
    count = session.scalar(select(func.count()).select_from(RateEvent).where(RateEvent.at < cutoff)) or 0
    session.execute(delete(RateEvent).where(RateEvent.at < cutoff))
    return count
