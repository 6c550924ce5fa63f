"""The inbox query: the open tasks a principal may act on, most urgent first."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from engine.models import HumanTask, TaskStatus

if TYPE_CHECKING:
    from engine.runtime import Principal


def open_tasks(session: Session, principal: Principal, limit: int = 500) -> list[HumanTask]:
    """Return the open tasks the principal may act on, most urgent first (due date, no date last, age).

    One branch per (role, scope) the principal holds -- the role's tasks without scope, and the role's tasks
    of each scope value -- each read in `ix_human_task_inbox` order (status, role, scope_value, due_date) and
    cut at `limit`, so the database never sorts a whole lane's backlog (docs/performance.md, figure 3).
    """
    order = (HumanTask.due_date.asc().nulls_last(), HumanTask.created_at, HumanTask.id)
    query = select(HumanTask).where(HumanTask.status == TaskStatus.OPEN)
    if not principal.superuser:
        branches = []
        for role in sorted(principal.roles):
            lane = select(HumanTask.id).where(HumanTask.status == TaskStatus.OPEN, HumanTask.role == role)
            branches.append(lane.where(HumanTask.scope_kind.is_(None), HumanTask.scope_value.is_(None)))
            branches += [lane.where(HumanTask.scope_kind == kind, HumanTask.scope_value == value)
                         for kind, value in sorted(principal.scopes.items())]
        if not branches:
            return []
        firsts = [branch.order_by(*order).limit(limit).subquery().select() for branch in branches]
        query = query.where(HumanTask.id.in_(union_all(*firsts) if len(firsts) > 1 else firsts[0]))
    return list(session.scalars(query.order_by(*order).limit(limit)))
