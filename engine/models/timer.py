"""Timer rows (the truth about every armed deadline) and incidents (background steps that keep failing).

A row is written in the transaction that saves the instance, so a timer exists exactly when the state that
armed it was committed (reliability notes §2, R5). The ticker only reads these rows; APScheduler keeps no
state of its own.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_cls]


class TimerKind(enum.StrEnum):
    """Where a timer row comes from."""

    BOUNDARY = "boundary"  # a boundary timer event on an activity (interrupting or not)
    INTERMEDIATE = "intermediate"  # an intermediate timer catch event (or any other waiting timer event)
    SLA = "sla"  # a deadline the domain writes itself; the engine only fires it (Hooks.timer_fired)


class Timer(Base):
    """One armed timer of one instance: SpiffWorkflow's waiting timer task and its absolute UTC due time."""

    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_id", name="uq_timer_instance_task"),
        # The sweep's claim: the unfired timers in claim order (due time, then id), read in order and left after
        # one batch; fired rows, the bulk of the table, are not in it (migration 0013).
        Index("ix_timer_open_due", "due_at", "id", postgresql_where=text("fired_at IS NULL"),
              sqlite_where=text("fired_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(64))  # SpiffWorkflow task UUID of the waiting timer event
    bpmn_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[TimerKind] = mapped_column(Enum(TimerKind, native_enum=False, length=20, values_callable=_values))
    due_at: Mapped[dt.datetime]
    fired_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    """A background step that failed too often: the instance is in `error` until an admin resolves it."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_open", "resolved_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    timer_id: Mapped[int | None] = mapped_column(ForeignKey("timer.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # e.g. "timer"
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(150))
