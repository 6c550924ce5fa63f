"""The inbox query: the open tasks a principal may act on, most urgent first, one page at a time.

Order: due date (tasks without one last), then the task's priority (`human_task.priority`, lower first: the
domain ranks its tasks, e.g. urgent ones 0), then creation time, then id -- a total order, so that keyset
paging returns every open task once. A page is asked with `after`, the `Cursor` of the last row of the previous
page; the cursor is opaque to clients (`Cursor.encode` / `Cursor.decode`).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, or_, select, true, tuple_, union_all
from sqlalchemy.orm import Session

from engine.contracts import Principal
from engine.errors import ValidationFailed
from engine.models import HumanTask, TaskStatus

INVALID_CURSOR = "The page link is invalid or out of date; open the inbox from its first page."


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the inbox order key of its last row."""

    due_date: dt.date | None
    priority: int
    created_at: dt.datetime
    id: str

    @classmethod
    def of(cls, row: HumanTask) -> Cursor:
        """Return the cursor just after `row`."""
        created = row.created_at
        if created.tzinfo is None:  # rows read back from SQLite before the type adds the zone
            created = created.replace(tzinfo=dt.timezone.utc)
        return cls(row.due_date, row.priority, created.astimezone(dt.timezone.utc), row.id)

    def encode(self) -> str:
        """Return the cursor as a short URL-safe string."""
        raw = json.dumps([self.due_date.isoformat() if self.due_date else None, self.priority,
                          self.created_at.isoformat(), self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse `encode`'s output; raise ValidationFailed (HTTP 400) on anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            due, priority, created, task_id = json.loads(raw)
            if not isinstance(task_id, str) or not task_id or not isinstance(created, str) \
                    or not (due is None or isinstance(due, str)) or type(priority) is not int \
                    or not -32768 <= priority <= 32767:  # SMALLINT
                raise ValueError(text)
            created_at = dt.datetime.fromisoformat(created)
            if created_at.tzinfo is None:
                raise ValueError(text)
            return cls(dt.date.fromisoformat(due) if due else None, priority, created_at.astimezone(dt.timezone.utc),
                       task_id)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed({"after": INVALID_CURSOR}, INVALID_CURSOR) from exc


# The page order. `scope_kind, scope_value` lead it inside each lane branch: they are constant there (equal to
# a value, or NULL), and naming them lets PostgreSQL read `ix_human_task_open_queue` in order even when they
# are IS NULL conditions, which the planner does not treat as constants for sorting.
ORDER = (HumanTask.due_date.asc().nulls_last(), HumanTask.priority, HumanTask.created_at, HumanTask.id)
LANE_ORDER = (HumanTask.scope_kind, HumanTask.scope_value, *ORDER)


def _lanes(principal: Principal) -> list[ColumnElement[bool]]:
    """Return one condition per (role, scope) the principal holds: each an equality prefix of the index."""
    lanes = []
    for role in sorted(principal.roles):
        lanes.append((HumanTask.role == role) & HumanTask.scope_kind.is_(None) & HumanTask.scope_value.is_(None))
        lanes += [(HumanTask.role == role) & (HumanTask.scope_kind == kind) & (HumanTask.scope_value == value)
                  for kind, value in sorted(principal.scopes.items())]
    return lanes


def _after(after: Cursor | None) -> list[ColumnElement[bool]]:
    """Return the conditions 'after the cursor' as index ranges: one per part of the order they cover.

    A row comparison is an index range in PostgreSQL (and SQLite), but is never true for a NULL due date, so
    after a dated cursor the undated tasks (all later) are a second part.
    """
    if after is None:
        return [true()]
    rest = (literal(after.priority, HumanTask.priority.type), literal(after.created_at, HumanTask.created_at.type),
            literal(after.id, HumanTask.id.type))
    columns = (HumanTask.priority, HumanTask.created_at, HumanTask.id)
    if after.due_date is None:
        return [HumanTask.due_date.is_(None) & (tuple_(*columns) > tuple_(*rest))]
    due = literal(after.due_date, HumanTask.due_date.type)
    return [tuple_(HumanTask.due_date, *columns) > tuple_(due, *rest), HumanTask.due_date.is_(None)]


def _branches(principal: Principal, after: Cursor | None, limit: int) -> list[Select[Any]] | None:
    if principal.superuser:
        return None
    open_ = select(HumanTask.id).where(HumanTask.status == TaskStatus.OPEN)
    return [open_.where(lane, part).order_by(*LANE_ORDER).limit(limit)
            for lane in _lanes(principal) for part in _after(after)]


def open_tasks(session: Session, principal: Principal, limit: int = 50, after: Cursor | None = None) -> list[HumanTask]:
    """Return one page of the open tasks the principal may act on: the first `limit` after `after`.

    One branch per (role, scope) the principal holds -- the role's tasks without scope, and the role's tasks
    of each scope value -- each reading the partial index `ix_human_task_open_queue` (role, scope_kind,
    scope_value, due_date, priority, created_at, id WHERE status = 'open') in order from the cursor and stopping after
    `limit` rows; the union of these short lists is sorted once more (docs/performance.md, figure 3). A
    superuser (the demo loader) reads every lane: the open tasks are sorted whole.
    """
    query = select(HumanTask).where(HumanTask.status == TaskStatus.OPEN)
    branches = _branches(principal, after, limit)
    if branches is None:
        query = query.where(or_(*_after(after)))
    elif not branches:
        return []
    else:
        firsts = [branch.subquery().select() for branch in branches]
        query = query.where(HumanTask.id.in_(union_all(*firsts) if len(firsts) > 1 else firsts[0]))
    return list(session.scalars(query.order_by(*ORDER).limit(limit)))
