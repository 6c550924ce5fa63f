"""Task inbox and actions for a user: the engine's calls plus the petition each task belongs to."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.inbox import Cursor, open_tasks
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Check, Runtime
from workflows.models import Petition, User
from workflows.petitions import HANOI, is_restricted, may_see_restricted
from workflows.users import principal
from workflows.wiring import petition_of


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
            "claimed_by": t.claimed_by, "scope": t.scope_value, "priority": self.priority,
        }

    @property
    def priority(self) -> str | None:
        """Return the petition's priority (KHAN, CAO, THUONG), marked on the inbox row (its rank orders the rows)."""
        return self.petition.priority if self.petition else None


def _today() -> dt.date:
    return dt.datetime.now(HANOI).date()


def _with_petitions(session: Session, rows: list[HumanTask]) -> list[TaskItem]:
    keys = {row.business_key for row in rows}
    petitions = {p.tracking_code: p for p in session.scalars(select(Petition).where(Petition.tracking_code.in_(keys)))}
    return [TaskItem(row, petitions.get(row.business_key)) for row in rows]


def _hidden(user: User, petition: Petition | None) -> bool:
    # A denunciation's steps are for designated users only, whatever the lane says.
    return petition is not None and is_restricted(petition) and not may_see_restricted(user, petition)


def _guard(session: Session, user: User) -> Check:
    """Return the object-level rule of acting on a task, which the engine runs under the instance's lock.

    The petition is read there, once: as it is under the lock, and the step's projection
    (`wiring.refresh_petition`) goes on with the same object instead of reading it again.
    """
    def check(instance: ProcessInstance) -> None:
        if _hidden(user, petition_of(session, instance.id)):
            raise NotFound("task not found")

    return check


PAGE_SIZE = 50  # rows of the inbox page
MAX_PAGE = 200  # the most rows one API call may ask for


def urgency(item: TaskItem) -> tuple[bool, dt.date, int, dt.datetime, str]:
    """Return the sort key of an inbox row, the order the database pages in (engine.inbox.ORDER).

    Earliest due date first (none last), then priority -- the task's rank, KHAN 0, CAO 1, THUONG 2, copied
    from the petition (workflows.priority) -- then the oldest task, then the id.
    """
    task = item.task
    created = task.created_at if task.created_at.tzinfo else task.created_at.replace(tzinfo=dt.timezone.utc)
    return (task.due_date is None, task.due_date or dt.date.max, task.priority, created, task.id)


class InboxPage(list[TaskItem]):
    """One page of an inbox: the rows (a list), and `next`, the cursor of the following page (None at the end).

    Order (`urgency`): due date (none last), then priority (KHAN, CAO, THUONG), then the oldest task first --
    the order the database pages in, through an index that holds each task's priority rank (copied from
    its petition), so that each task appears once across pages.
    """

    def __init__(self, items: list[TaskItem], next_cursor: str | None = None) -> None:
        super().__init__(items)
        self.next = next_cursor

    @property
    def has_more(self) -> bool:
        """Tell whether there is a following page."""
        return self.next is not None


def inbox(session: Session, runtime: Runtime, user: User, limit: int | None = None,
          after: str | None = None) -> InboxPage:
    """Return the user's open tasks, most urgent first: `limit` of them after the cursor `after`, or all.

    Raise ValidationFailed (HTTP 400) for a cursor that `InboxPage.next` did not produce. A page may hold
    fewer than `limit` rows when some of the lane's tasks belong to petitions the user may not see.
    """
    if limit is None:  # every open task (scripts and tests): page through them
        items: list[TaskItem] = []
        while True:
            page = inbox(session, runtime, user, MAX_PAGE, after)
            items += page
            if page.next is None:
                return InboxPage(items)
            after = page.next
    cursor = Cursor.decode(after) if after else None
    who = principal(session, user)
    rows = open_tasks(session, who, limit + 1, cursor)
    more, rows = len(rows) > limit, rows[:limit]
    items = [item for item in _with_petitions(session, rows) if not _hidden(user, item.petition)]
    return InboxPage(items, Cursor.of(rows[-1]).encode() if more else None)


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
    return runtime.claim(session, task_id, principal(session, user), _guard(session, user))


def release(session: Session, runtime: Runtime, user: User, task_id: str) -> HumanTask:
    """Release a task the user holds."""
    return runtime.release(session, task_id, principal(session, user), _guard(session, user))


def complete(
    session: Session, runtime: Runtime, user: User, task_id: str, data: Mapping[str, Any],
    expected_version: int | None = None,
) -> None:
    """Complete a task with form data."""
    runtime.complete(session, task_id, principal(session, user), data, expected_version, _guard(session, user))
