"""A petition's priority as the rank of its tasks in inboxes (`human_task.priority`, lower first).

Reference data: KHAN is urgent, CAO "listed first in inboxes and digests" (after the urgent), THUONG is the
rest; a petition not yet classified ranks as THUONG. Among tasks due the same day the inbox lists KHAN, then
CAO, then THUONG tasks (engine.inbox orders by due date, rank, creation time).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.models import HumanTask, ProcessInstance, TaskStatus

PRIORITY_RANK = {"KHAN": 0, "CAO": 1, "THUONG": 2}
UNRANKED = PRIORITY_RANK["THUONG"]  # no priority yet (before classification), or an unknown code


def rank(priority: str | None) -> int:
    """Return the inbox rank of a petition priority code (None or unknown: as THUONG)."""
    return PRIORITY_RANK.get(priority or "", UNRANKED)


def rank_sql(column: str) -> str:
    """Return an SQL expression of the rank of the priority code in `column` (for bulk loaders)."""
    whens = " ".join(f"WHEN '{code}' THEN {value}" for code, value in PRIORITY_RANK.items())
    return f"(CASE {column} {whens} ELSE {UNRANKED} END)"


def rank_new_task(session: Session, instance: ProcessInstance, row: HumanTask, data: Mapping[str, Any]) -> None:
    """Give a new task row the rank of the petition's priority in the process data (engine hook `task_created`)."""
    row.priority = rank(data.get("priority"))


def rerank_open_tasks(session: Session, instance: ProcessInstance, before: str | None, after: str | None) -> None:
    """Give the instance's open tasks the rank of `after` when the priority's rank changed from `before`'s.

    One UPDATE, and only then: the step that sets the priority (classify) also re-ranks tasks created earlier
    in that step or before it; the other steps write nothing.
    """
    new = rank(after)
    if new == rank(before):
        return
    session.execute(update(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN,
                                            HumanTask.priority != new).values(priority=new)
                    .execution_options(synchronize_session="evaluate"))
