"""Append events to the hash-chained audit log and verify the chain.

Appends are serialized: PostgreSQL takes a transaction-scoped advisory lock, SQLite already holds the
single write lock (BEGIN IMMEDIATE). `UNIQUE(chain_index)` makes a missing lock fail loudly instead of
forking the chain.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.models import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK_KEY = 7_246_001  # arbitrary constant naming the audit chain's advisory lock


@dataclass(frozen=True)
class Actor:
    """Who performs a step: a user name and the role they act in ('system'/'scheduler' for the machine)."""

    name: str
    role: str = ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(event: AuditEvent) -> str:
    """Return the SHA-256 of an event's content linked to its predecessor's hash."""
    return _digest({name: getattr(event, name) for name in _HASHED + ("prev_hash",)})


_HASHED = ("chain_index", "at", "actor", "role", "action", "instance_id", "business_key", "task_id", "bpmn_id", "data")


def _digest(fields: dict[str, Any]) -> str:
    body = _canonical({name: _timestamp(fields[name]) if name == "at" else fields[name] for name in _HASHED})
    return hashlib.sha256((fields["prev_hash"] + body).encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    instance_id: int | None = None,
    business_key: str | None = None,
    task_id: str | None = None,
    bpmn_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction and return it."""
    _lock_chain(session)
    last = session.execute(
        select(AuditEvent.chain_index, AuditEvent.hash).order_by(AuditEvent.chain_index.desc()).limit(1)
    ).first()
    event = AuditEvent(
        chain_index=(last.chain_index + 1) if last else 1,
        at=utcnow(),
        actor=actor.name,
        role=actor.role,
        action=action,
        instance_id=instance_id,
        business_key=business_key,
        task_id=task_id,
        bpmn_id=bpmn_id,
        data=json.loads(_canonical(data or {})),
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = compute_hash(event)
    session.add(event)
    session.flush()
    return event


def record_many(session: Session, events: Iterable[dict[str, Any]], batch: int = 5000) -> int:
    """Append many events in the given order with one bulk insert per batch; return how many were written.

    Each event is a dict of `at` (aware datetime: a history being imported keeps its own times), `actor`,
    `role`, `action` and optionally `instance_id`, `business_key`, `task_id`, `bpmn_id`, `data`. The chain is
    locked and extended exactly as `record` does, so `verify_chain` holds afterwards.
    """
    _lock_chain(session)
    last = session.execute(
        select(AuditEvent.chain_index, AuditEvent.hash).order_by(AuditEvent.chain_index.desc()).limit(1)
    ).first()
    index, prev_hash = (last.chain_index, last.hash) if last else (0, GENESIS)
    rows: list[dict[str, Any]] = []
    written = 0
    for event in events:
        index += 1
        row = {"chain_index": index, "at": event["at"], "actor": event["actor"], "role": event.get("role", ""),
               "action": event["action"], "instance_id": event.get("instance_id"),
               "business_key": event.get("business_key"), "task_id": event.get("task_id"),
               "bpmn_id": event.get("bpmn_id"), "data": json.loads(_canonical(event.get("data") or {})),
               "prev_hash": prev_hash}
        row["hash"] = prev_hash = _digest(row)
        rows.append(row)
        if len(rows) >= batch:
            session.execute(insert(AuditEvent.__table__), rows)
            written, rows = written + len(rows), []
    if rows:
        session.execute(insert(AuditEvent.__table__), rows)
        written += len(rows)
    return written


def verify_chain(session: Session, batch: int = 2000) -> int | None:
    """Return the chain_index of the first event whose link or content is broken, or None if intact."""
    prev_hash, expected_index, after = GENESIS, 1, 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.chain_index > after).order_by(AuditEvent.chain_index).limit(batch)
        ).all()
        if not rows:
            return None
        for event in rows:
            if event.chain_index != expected_index or event.prev_hash != prev_hash or compute_hash(event) != event.hash:
                return expected_index if event.chain_index != expected_index else event.chain_index
            prev_hash, expected_index, after = event.hash, expected_index + 1, event.chain_index


def history(session: Session, business_key: str) -> list[AuditEvent]:
    """Return the events of one business key in chain order."""
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.business_key == business_key).order_by(AuditEvent.chain_index)
        )
    )
