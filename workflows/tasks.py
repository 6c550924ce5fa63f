"""Task inbox and actions for a user: the engine's calls plus the petition each task belongs to."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Runtime
from workflows.models import Petition, User
from workflows.petitions import HANOI, is_restricted, may_see_restricted
from workflows.users import principal


@dataclass(frozen=True)
class TaskItem:
    """An inbox row: the task and the petition it belongs to."""

    task: HumanTask
    petition: Petition | None

    @property
    def overdue(self) -> bool:
        """Tell whether the task is past its due date (Hanoi calendar date)."""
        return self.task.due_date is not None and self.task.due_date < _today()

    def as_json(self) -> dict[str, Any]:
        """Return the API representation."""
        t = self.task
        return {
            "id": t.id, "name": t.bpmn_id, "title": t.name, "lane": t.lane,
            "petition": t.business_key, "petition_title": self.petition.title if self.petition else None,
            "due_date": t.due_date.isoformat() if t.due_date else None, "overdue": self.overdue,
            "claimed_by": t.claimed_by, "scope": t.scope_value,
        }


def _today() -> dt.date:
    return dt.datetime.now(HANOI).date()


def _with_petitions(session: Session, rows: list[HumanTask]) -> list[TaskItem]:
    keys = {row.business_key for row in rows}
    petitions = {p.tracking_code: p for p in session.scalars(select(Petition).where(Petition.tracking_code.in_(keys)))}
    return [TaskItem(row, petitions.get(row.business_key)) for row in rows]


def _hidden(user: User, petition: Petition | None) -> bool:
    # A denunciation's steps are for designated users only, whatever the lane says.
    return petition is not None and is_restricted(petition) and not may_see_restricted(user, petition)


def _guard(session: Session, user: User, task_id: str) -> None:
    row = session.get(HumanTask, task_id)
    if row is not None and _hidden(user, _with_petitions(session, [row])[0].petition):
        raise NotFound("task not found")


# Inbox order: earliest due date first, then priority (urgent first), then the oldest task.
PRIORITY_RANK = {"KHAN": 0, "CAO": 1, "THUONG": 2}


def urgency(item: TaskItem) -> tuple[bool, dt.date, int, dt.datetime]:
    """Return the sort key of an inbox row: due date (none last), priority (KHAN first), creation time."""
    priority = item.petition.priority if item.petition else None
    created = item.task.created_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return (item.task.due_date is None, item.task.due_date or dt.date.max, PRIORITY_RANK.get(priority or "", 3),
            created)


def inbox(session: Session, runtime: Runtime, user: User) -> list[TaskItem]:
    """Return the user's open tasks, most urgent first: by due date, then priority (KHAN first)."""
    items = _with_petitions(session, runtime.inbox(session, principal(session, user)))
    return sorted((item for item in items if not _hidden(user, item.petition)), key=urgency)


@dataclass(frozen=True)
class TaskDetail:
    """What a task page shows: the task, its petition, its form and the data to pre-fill it."""

    item: TaskItem
    form: dict[str, Any] | None
    data: dict[str, Any]
    instance_version: int


def detail(session: Session, runtime: Runtime, user: User, task_id: str) -> TaskDetail:
    """Return a task the user may act on, with its form and current data."""
    row = runtime.visible_task(session, task_id, principal(session, user))
    item = _with_petitions(session, [row])[0]
    if _hidden(user, item.petition):
        raise NotFound("task not found")
    data = runtime.task_data(session, row) if row.status == "open" else dict(row.data or {})
    version = session.get(ProcessInstance, row.instance_id).version
    return TaskDetail(item, runtime.form_schema(session, row), data, version)


def claim(session: Session, runtime: Runtime, user: User, task_id: str) -> HumanTask:
    """Claim a task for the user."""
    _guard(session, user, task_id)
    return runtime.claim(session, task_id, principal(session, user))


def release(session: Session, runtime: Runtime, user: User, task_id: str) -> HumanTask:
    """Release a task the user holds."""
    _guard(session, user, task_id)
    return runtime.release(session, task_id, principal(session, user))


def complete(
    session: Session, runtime: Runtime, user: User, task_id: str, data: Mapping[str, Any],
    expected_version: int | None = None,
) -> None:
    """Complete a task with form data."""
    _guard(session, user, task_id)
    runtime.complete(session, task_id, principal(session, user), data, expected_version)
