"""Append events to the hash-chained audit log and verify the chain.

Events are queued on the session and appended when it commits. Appends are serialized: PostgreSQL takes a
transaction-scoped advisory lock, SQLite already holds the single write lock (BEGIN IMMEDIATE). `UNIQUE(chain_index)` makes a missing lock fail loudly instead of
forking the chain.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, text
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.util import find_tables

from engine.db import send_with_commit, utcnow
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


def _body(fields: dict[str, Any]) -> str:
    """Return the canonical text an event's hash covers (after its predecessor's hash)."""
    return _canonical({name: _timestamp(fields[name]) if name == "at" else fields[name] for name in _HASHED})


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256((fields["prev_hash"] + _body(fields)).encode("utf-8")).hexdigest()


_HEAD = select(AuditEvent.chain_index, AuditEvent.hash).order_by(AuditEvent.chain_index.desc()).limit(1)
# PostgreSQL: the chain's lock, then the head read after it, in one round trip (migration 0014).
_LOCK_AND_HEAD = text("SELECT chain_index, hash FROM audit_chain_head(:k)")
_INSERT = insert(AuditEvent.__table__)  # the append's statements are built once: every transaction runs them
# PostgreSQL: the chain's lock, the head, the links and the insert, in one round trip (migration 0015). In the
# driver's own placeholders: sent with the COMMIT by psycopg itself, or else by `exec_driver_sql`.
_APPEND = "SELECT chain_index, prev_hash, hash FROM audit_append(%(k)s, CAST(%(events)s AS jsonb))"
_INDEX_MARK = -7_246_001_999  # stands for the chain index in the canonical text sent to audit_append


def _lock_chain_and_read_head(session: Session) -> tuple[int, str]:
    """Take the chain's lock and return its head (last index and hash; 0 and GENESIS when empty).

    SQLite: this transaction already holds the database's write lock (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        last = session.execute(_LOCK_AND_HEAD, {"k": _CHAIN_LOCK_KEY}).first()
    else:
        last = session.execute(_HEAD).first()
    return (last.chain_index, last.hash) if last else (0, GENESIS)


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
    """Append one event in the caller's transaction and return it.

    The event is queued on the session and linked into the chain when the transaction commits (or earlier,
    when a query of this session reads `audit_event`), so that the chain's lock is held for the moment of
    the append, not for a whole engine step (docs/performance.md, figures 2 and 5). Inside a savepoint the
    queue is written at once, so that the savepoint's rollback takes its events with it.
    """
    event = AuditEvent(
        at=utcnow(),
        actor=actor.name,
        role=actor.role,
        action=action,
        instance_id=instance_id,
        business_key=business_key,
        task_id=task_id,
        bpmn_id=bpmn_id,
        data=json.loads(_canonical(data or {})),
    )
    session.connection()  # the queue belongs to a begun transaction: its rollback (even an empty one) drops it
    session.info.setdefault(_PENDING, []).append(event)
    if session.in_nested_transaction():
        write_pending(session)
    return event


_PENDING = "engine.audit.pending"


def write_pending(session: Session) -> int:
    """Link the session's queued events into the chain and flush them; return how many were written.

    Takes the chain's lock, reads the head once and gives the events consecutive indexes in the order they
    were recorded. `at` stays the moment each event was recorded (when it happened, which the path on the
    diagram matches with the engine's task times); across concurrent transactions the chain's order is the
    order of their commits, so `at` may step back by the length of a step between two events. Called by the
    session's commit; call it before `begin_nested()` when a savepoint may roll back (the queued events were
    recorded outside it).
    """
    return _write(session, session.info.pop(_PENDING, None), with_commit=False)


def _write(session: Session, pending: list[AuditEvent] | None, *, with_commit: bool) -> int:
    if not pending:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        _append_in_the_database(session, pending, with_commit=with_commit)
    else:
        _append_here(session, pending)
    for listener in _APPEND_LISTENERS:
        listener(session, pending)
    return len(pending)


def _append_in_the_database(session: Session, pending: list[AuditEvent], *, with_commit: bool) -> None:
    """PostgreSQL: `audit_append` locks the chain, links and inserts the events, and gives back their links.

    Each event goes as its canonical text split around the chain index (which only the database knows) and its
    column values; the function's hash is `compute_hash`'s (migration 0015). At commit (`with_commit`) the call
    is sent with the COMMIT in one round trip (`engine.db.send_with_commit`), so the chain's lock is held for
    the server's time alone: from the call to the end of the COMMIT, with no hop back to the app between them.
    """
    events = []
    for event in pending:
        fields = {name: getattr(event, name) for name in _HASHED}
        fields["chain_index"] = _INDEX_MARK
        before, mark, after = _body(fields).partition(f'"chain_index":{_INDEX_MARK}')
        assert mark, "the canonical text has no chain index"
        events.append({"before": before + '"chain_index":', "after": after,
                       **{name: fields[name] for name in _HASHED if name not in ("chain_index", "at")},
                       "at": event.at.isoformat()})
    parameters = {"k": _CHAIN_LOCK_KEY, "events": _canonical(events)}

    def link(rows: list[Any]) -> None:
        for event, (chain_index, prev_hash, hash_) in zip(pending, rows, strict=True):
            event.chain_index, event.prev_hash, event.hash = chain_index, prev_hash, hash_

    connection = session.connection()
    if not (with_commit and send_with_commit(connection, _APPEND, parameters, link)):
        link(connection.exec_driver_sql(_APPEND, parameters).all())


def _append_here(session: Session, pending: list[AuditEvent]) -> None:
    """Take the chain's lock, read the head, link the events here and insert them in one statement."""
    index, prev_hash = _lock_chain_and_read_head(session)
    rows = []
    for event in pending:
        index += 1
        event.chain_index, event.prev_hash = index, prev_hash
        event.hash = prev_hash = compute_hash(event)
        rows.append({name: getattr(event, name) for name in _COLUMNS})
    session.execute(_INSERT, rows)  # one statement, no unit of work


_APPEND_LISTENERS: list[Callable[[Session, list[AuditEvent]], None]] = []


def on_append(listener: Callable[[Session, list[AuditEvent]], None]) -> None:
    """Call `listener(session, events)` whenever queued events are written into the chain (idempotent).

    The events are not committed yet: a listener that acts on committed events (metrics) keeps them until the
    session's `after_commit` and drops them on rollback.
    """
    if listener not in _APPEND_LISTENERS:
        _APPEND_LISTENERS.append(listener)


_COLUMNS = (*_HASHED, "prev_hash", "hash")


@sa_event.listens_for(Session, "before_commit")
def _append_at_commit(session: Session) -> None:
    _write(session, session.info.pop(_PENDING, None), with_commit=True)


@sa_event.listens_for(Session, "do_orm_execute")
def _append_before_reading(state: ORMExecuteState) -> None:
    # A query of this transaction that reads the log sees the events it recorded (read-your-writes).
    if state.is_select and state.session.info.get(_PENDING) and _reads_log(state.statement):
        write_pending(state.session)


_READS_LOG: dict[Any, bool] = {}  # statement cache key -> whether the statement reads audit_event


def _reads_log(statement: Any) -> bool:
    # Walking the statement for its tables is dear; a statement's structure (its cache key, which SQLAlchemy
    # computes for its own cache anyway and keeps on the statement) answers the same for every execution.
    cache_key = statement._generate_cache_key()
    if cache_key is None:  # a statement SQLAlchemy does not cache: walk it each time
        return AuditEvent.__table__ in find_tables(statement)
    key = cache_key.key  # the structure without the bound values (CacheKey itself is not hashable)
    found = _READS_LOG.get(key)
    if found is None:
        if len(_READS_LOG) > 2000:
            _READS_LOG.clear()
        found = _READS_LOG[key] = AuditEvent.__table__ in find_tables(statement)
    return found


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back (or closed) transaction takes its queued events with it; a committed one wrote them.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def record_many(session: Session, events: Iterable[dict[str, Any]], batch: int = 5000) -> int:
    """Append many events in the given order with one bulk insert per batch; return how many were written.

    Each event is a dict of `at` (aware datetime: a history being imported keeps its own times), `actor`,
    `role`, `action` and optionally `instance_id`, `business_key`, `task_id`, `bpmn_id`, `data`. The chain is
    locked and extended exactly as `record` does, so `verify_chain` holds afterwards.
    """
    write_pending(session)
    index, prev_hash = _lock_chain_and_read_head(session)
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
