"""The human-task rows of a locked instance, read once per transaction and shared by the step and its hooks.

The engine's step (`Runtime`) and the domain's hooks of that step (a reminder's recipients) work on the same
rows instead of reading them again (docs/performance.md, figures 2 and 5). Rows are read without flushing the
step's pending changes -- the step flushes once, at its end -- so the status in memory decides: a row the step
completed or cancelled is left out, a row it created (`add_open_row`) is in. The instance must be locked for the
transaction, so that no other transaction changes its rows meanwhile.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from engine.db import transaction_memo
from engine.models import HumanTask, TaskStatus

_MEMO = "engine.open_task_rows"  # {instance id: [HumanTask]}
_ORDER = (HumanTask.created_at, HumanTask.id)
_OPEN_ROWS_OF = (select(HumanTask)
                 .where(HumanTask.instance_id.in_(bindparam("ids", expanding=True)), HumanTask.status == TaskStatus.OPEN)
                 .order_by(HumanTask.instance_id, *_ORDER))


def read_open_rows(session: Session, instance_ids: list[int]) -> None:
    """Read the open rows of locked instances in one statement, for `open_task_rows` to give.

    A batch of steps in one transaction (the timer sweep) reads them all at once; each step's `open_task_rows`
    then reads nothing.
    """
    found: dict[int, list[HumanTask]] = {instance_id: [] for instance_id in instance_ids}
    with session.no_autoflush:  # the step's pending rows: the status in memory decides
        for row in session.scalars(_OPEN_ROWS_OF, {"ids": list(instance_ids)}):
            found[row.instance_id].append(row)
    transaction_memo(session, _MEMO).update(found)


@lru_cache(maxsize=4)
def _task_and_open_rows(joined: Any = None) -> Any:
    """The statement of `read_task_and_open_rows`, with `joined`'s row of the instance (on its `instance_id`) when
    given; built once each (building a select costs about as much as PostgreSQL takes to run one of these)."""
    statement = select(HumanTask) if joined is None else (
        select(HumanTask, joined).outerjoin(joined, joined.instance_id == HumanTask.instance_id))
    return (statement.where(HumanTask.instance_id == bindparam("instance_id"),
                            or_(HumanTask.status == TaskStatus.OPEN, HumanTask.id == bindparam("task_id")))
            .order_by(*_ORDER).execution_options(populate_existing=True))


def read_task_and_open_rows(session: Session, instance_id: int, task_id: str, joined: Any = None
                            ) -> tuple[HumanTask | None, Any]:
    """Read the task `task_id` and the instance's open rows in one statement, as they are under the lock.

    The open rows are kept for `open_task_rows`. `joined`: an entity with one row per instance (an `instance_id`
    column), read in the same statement (the domain's `Hooks.instance_row`, e.g. the petition). Returns the
    task's row (any status) or None, and the joined row or None. The statement flushes the transaction's
    pending changes first (autoflush), so refreshing the rows it reads (`populate_existing`) loses none.
    """
    params = {"instance_id": instance_id, "task_id": task_id}
    if joined is None:
        rows, extra = session.scalars(_task_and_open_rows(), params).all(), None
    else:
        pairs = session.execute(_task_and_open_rows(joined), params).all()
        rows, extra = [row for row, _ in pairs], next((other for _, other in pairs if other is not None), None)
    transaction_memo(session, _MEMO)[instance_id] = [row for row in rows if row.status == TaskStatus.OPEN]
    return next((row for row in rows if row.id == task_id), None), extra


def open_task_rows(session: Session, instance_id: int) -> list[HumanTask]:
    """Return the open human-task rows of a locked instance, oldest first, read once per transaction."""
    memo = transaction_memo(session, _MEMO)
    if instance_id not in memo:
        read_open_rows(session, [instance_id])
    return [row for row in memo[instance_id] if row.status == TaskStatus.OPEN]


def add_open_row(session: Session, row: HumanTask) -> None:
    """Count a row the step has just created among its instance's open rows (if they were read)."""
    rows = transaction_memo(session, _MEMO).get(row.instance_id)
    if rows is not None:
        rows.append(row)
