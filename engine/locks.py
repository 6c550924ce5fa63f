"""The instance's lock, and what is read with it (docs/performance.md, figures 2 and 5).

A step locks its instance first (FOR UPDATE on PostgreSQL; SQLite's transaction already holds the write lock,
BEGIN IMMEDIATE) and reads it as it is under the lock. The version's content hash, which the spec and form
caches are keyed by, comes along in the same statement (a scalar subquery, not locked) and is remembered for
the session's life: a deployed version's content never changes. A batch of steps in one transaction (the timer
sweep) locks its instances without waiting, in one statement, and each step then takes its instance from there.

A caller may have more read in the same round trip (`extra` scalar columns, the domain's `Hooks.read_with_lock`,
e.g. the working calendar's version stamp). Like the hash, they are not locked and are read with the statement's
snapshot: a change committed while the statement waited for the instance is not seen by this step, as if the
step had started a moment earlier. Rows the instance's lock protects (its tasks, its petition) are never read
this way: they are read by the next statement, which sees what the previous holder of the lock committed.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.db import is_sqlite, transaction_memo
from engine.errors import NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance

_HASHES = "engine.definition_hash"  # session.info: {definition id: content hash}, read once per session
_LOCKED = "engine.locked_instances"  # transaction memo: {instance id: ProcessInstance} locked by lock_free

_READ_WITH_LOCK = "engine.read_with_lock"  # transaction memo: {"values": what the caller's extra columns gave}

_CONTENT_HASH = (select(ProcessDefinition.content_hash)
                 .where(ProcessDefinition.id == ProcessInstance.definition_id).scalar_subquery())


@lru_cache(maxsize=8)
def statements(extra: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Return the lock statements, with `extra` scalar columns after the instance and its version's hash.

    Built once per `extra` (building a select costs about as much as PostgreSQL takes to run one of these).
    `extra`: what a caller wants read in the same round trip at every step (`Hooks.read_with_lock`).
    """
    columns = (ProcessInstance, _CONTENT_HASH, *extra)
    by_instance = (select(*columns).where(ProcessInstance.id == bindparam("instance_id"))
                   .with_for_update(of=ProcessInstance.__table__).execution_options(populate_existing=True))
    by_task = (select(*columns)
               .where(ProcessInstance.id == select(HumanTask.instance_id)
                      .where(HumanTask.id == bindparam("task_id")).scalar_subquery())
               .with_for_update(of=ProcessInstance.__table__).execution_options(populate_existing=True))
    read_many = (select(*columns).where(ProcessInstance.id.in_(bindparam("ids", expanding=True)))
                 .order_by(ProcessInstance.id).execution_options(populate_existing=True))
    return {"by_instance": by_instance, "by_task": by_task, "read_many": read_many,
            "lock_free": read_many.with_for_update(of=ProcessInstance.__table__, skip_locked=True)}


def read_with_lock(session: Session) -> tuple[Any, ...] | None:
    """Return what the extra columns of this transaction's first lock gave, or None when none was read."""
    return transaction_memo(session, _READ_WITH_LOCK).get("values")


def _remember(session: Session, row: Any, extra: tuple[Any, ...]) -> None:
    if extra:
        transaction_memo(session, _READ_WITH_LOCK).setdefault("values", tuple(row[2:]))


def lock_instance(session: Session, instance_id: int | None, *, task_id: str | None = None,
                  extra: tuple[Any, ...] = ()) -> ProcessInstance:
    """Lock and read the instance (by its id, or by one of its tasks' id); raise NotFound when there is none.

    An instance `lock_free` locked and read in this transaction is not read again. The `extra` columns are read
    in the same statement; the transaction's first values are kept for `read_with_lock`.
    """
    if task_id is None and (locked := transaction_memo(session, _LOCKED).get(instance_id)) is not None:
        return locked
    built = statements(extra)
    if task_id is not None:
        found = session.execute(built["by_task"], {"task_id": task_id}).first()
    else:
        found = session.execute(built["by_instance"], {"instance_id": instance_id}).first()
    if found is None:
        raise NotFound("task not found" if task_id is not None else "process instance not found")
    session.info.setdefault(_HASHES, {})[found[0].definition_id] = found[1]
    _remember(session, found, extra)
    return found[0]


def lock_free(session: Session, instance_ids: list[int], extra: tuple[Any, ...] = ()) -> list[int]:
    """Lock and read, without waiting, those of the instances no other transaction holds; return their ids.

    On PostgreSQL an instance a request holds is skipped (FOR UPDATE SKIP LOCKED: the sweep never waits, E22).
    """
    statement = statements(extra)["read_many" if is_sqlite(session) else "lock_free"]
    locked = transaction_memo(session, _LOCKED)
    hashes = session.info.setdefault(_HASHES, {})
    got: list[int] = []
    for row in session.execute(statement, {"ids": sorted(set(instance_ids))}):
        instance = row[0]
        locked[instance.id] = instance
        hashes[instance.definition_id] = row[1]
        _remember(session, row, extra)
        got.append(instance.id)
    return got


def definition_hash(session: Session, definition_id: int) -> str:
    """Return a deployed version's content hash: as the lock read it, or read now (then remembered)."""
    known = session.info.setdefault(_HASHES, {})
    if definition_id not in known:
        known[definition_id] = session.scalar(
            select(ProcessDefinition.content_hash).where(ProcessDefinition.id == definition_id))
    return known[definition_id]
