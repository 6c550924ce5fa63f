"""Process instances (one serialized state row each) and the human-task projection used by inboxes."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_cls]


class InstanceStatus(enum.StrEnum):
    """Lifecycle of an instance as the engine sees it."""

    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"


class TaskStatus(enum.StrEnum):
    """Lifecycle of a human task row."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ProcessInstance(Base):
    """The truth of one running process: SpiffWorkflow's serialized state, with optimistic versioning."""

    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    business_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[InstanceStatus] = mapped_column(
        Enum(InstanceStatus, native_enum=False, length=20, values_callable=_values), default=InstanceStatus.RUNNING
    )
    business_status: Mapped[str] = mapped_column(String(50), default="")
    serializer_version: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(Text)
    end_event: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    """A user task as an inbox row: who may act (role + scope), who holds it, when it is due."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_inbox", "status", "role", "scope_value", "due_date"),
        Index("ix_human_task_instance", "instance_id", "status"),
        Index("ix_human_task_business_key", "business_key"),
        # Step times over a period (the dashboard's bottleneck view) read only this covering index.
        Index("ix_human_task_completed", "status", "completed_at", "bpmn_id", "created_at", "due_date"),
        # The inbox: each lane's open tasks in page order (engine.inbox), read in order and left after one page.
        Index("ix_human_task_open_queue", "role", "scope_kind", "scope_value", "due_date", "priority", "created_at",
              "id", postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task UUID
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    business_key: Mapped[str] = mapped_column(String(100))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(50))
    scope_kind: Mapped[str | None] = mapped_column(String(30))
    scope_value: Mapped[str | None] = mapped_column(String(100))
    form: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[TaskStatus] = mapped_column(Enum(TaskStatus, native_enum=False, length=20, values_callable=_values), default=TaskStatus.OPEN)
    claimed_by: Mapped[str | None] = mapped_column(String(150))
    claimed_at: Mapped[dt.datetime | None]
    due_date: Mapped[dt.date | None]
    # Inbox rank among tasks due the same day: lower first. The domain sets it (hook `task_created`, and when
    # the business priority changes); 100, "normal", otherwise.
    priority: Mapped[int] = mapped_column(SmallInteger, default=100, server_default=text("100"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(150))
    data: Mapped[dict[str, Any] | None]  # submitted form data, once completed


class TaskArchive(Base):
    """Finished tasks cut from an instance's stored tree (engine.compaction): written once, never changed."""

    __tablename__ = "process_task_archive"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    record: Mapped[str] = mapped_column(Text)  # JSON: the cut tasks as SpiffWorkflow serializes them, and the cut
