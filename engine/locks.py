"""The instance's lock, and what is read with it (docs/performance.md, figures 2 and 5).

A step locks its instance first (FOR UPDATE on PostgreSQL; SQLite's transaction already holds the write lock,
BEGIN IMMEDIATE) and reads it as it is under the lock. The version's content hash, which the spec and form
caches are keyed by, comes along in the same statement (a scalar subquery, not locked) and is remembered for
the session's life: a deployed version's content never changes. A batch of steps in one transaction (the timer
sweep) locks its instances without waiting, in one statement, and each step then takes its instance from there.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.db import is_sqlite, transaction_memo
from engine.errors import NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance

_HASHES = "engine.definition_hash"  # session.info: {definition id: content hash}, read once per session
_LOCKED = "engine.locked_instances"  # transaction memo: {instance id: ProcessInstance} locked by lock_free

# Built once: building a select costs about as much as PostgreSQL takes to run one of these.
_CONTENT_HASH = (select(ProcessDefinition.content_hash)
                 .where(ProcessDefinition.id == ProcessInstance.definition_id).scalar_subquery())
_LOCK_BY_INSTANCE = (select(ProcessInstance, _CONTENT_HASH).where(ProcessInstance.id == bindparam("instance_id"))
                     .with_for_update(of=ProcessInstance.__table__).execution_options(populate_existing=True))
_LOCK_BY_TASK = (select(ProcessInstance, _CONTENT_HASH)
                 .where(ProcessInstance.id == select(HumanTask.instance_id)
                        .where(HumanTask.id == bindparam("task_id")).scalar_subquery())
                 .with_for_update(of=ProcessInstance.__table__).execution_options(populate_existing=True))
_READ_MANY = (select(ProcessInstance, _CONTENT_HASH).where(ProcessInstance.id.in_(bindparam("ids", expanding=True)))
              .order_by(ProcessInstance.id).execution_options(populate_existing=True))
_LOCK_FREE = _READ_MANY.with_for_update(of=ProcessInstance.__table__, skip_locked=True)


def lock_instance(session: Session, instance_id: int | None, *, task_id: str | None = None) -> ProcessInstance:
    """Lock and read the instance (by its id, or by one of its tasks' id); raise NotFound when there is none.

    An instance `lock_free` locked and read in this transaction is not read again.
    """
    if task_id is None and (locked := transaction_memo(session, _LOCKED).get(instance_id)) is not None:
        return locked
    if task_id is not None:
        found = session.execute(_LOCK_BY_TASK, {"task_id": task_id}).first()
    else:
        found = session.execute(_LOCK_BY_INSTANCE, {"instance_id": instance_id}).first()
    if found is None:
        raise NotFound("task not found" if task_id is not None else "process instance not found")
    session.info.setdefault(_HASHES, {})[found[0].definition_id] = found[1]
    return found[0]


def lock_free(session: Session, instance_ids: list[int]) -> list[int]:
    """Lock and read, without waiting, those of the instances no other transaction holds; return their ids.

    On PostgreSQL an instance a request holds is skipped (FOR UPDATE SKIP LOCKED: the sweep never waits, E22).
    """
    statement = _READ_MANY if is_sqlite(session) else _LOCK_FREE
    locked = transaction_memo(session, _LOCKED)
    hashes = session.info.setdefault(_HASHES, {})
    got: list[int] = []
    for instance, content_hash in session.execute(statement, {"ids": sorted(set(instance_ids))}):
        locked[instance.id] = instance
        hashes[instance.definition_id] = content_hash
        got.append(instance.id)
    return got


def definition_hash(session: Session, definition_id: int) -> str:
    """Return a deployed version's content hash: as the lock read it, or read now (then remembered)."""
    known = session.info.setdefault(_HASHES, {})
    if definition_id not in known:
        known[definition_id] = session.scalar(
            select(ProcessDefinition.content_hash).where(ProcessDefinition.id == definition_id))
    return known[definition_id]
