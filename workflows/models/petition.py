"""Petitions (kiến nghị, phản ánh): the business record beside their process instance."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class Petition(Base):
    """One petition; status, lead unit and due date are refreshed after every step of its instance."""

    __tablename__ = "petition"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    category_hint: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_date: Mapped[dt.date] = mapped_column(Date, index=True)  # after the cut-off rule: the day the clock counts from
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(150))
    is_demo: Mapped[bool] = mapped_column(default=False)
    # Projection of the process data, for listings and the public lookup.
    status: Mapped[str] = mapped_column(String(40), default="MOI_TIEP_NHAN", index=True)
    category: Mapped[str | None] = mapped_column(String(20))
    petition_type: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[str | None] = mapped_column(String(10))
    lead_unit: Mapped[str | None] = mapped_column(String(20), index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    rating: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[dt.datetime | None]
    # What the dashboard counts (workflows.dashboard): the first answer sent and the due date it was measured
    # against, the classification's authority flag, the result type of the (last) answer, the reopenings.
    answered_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    answer_due_date: Mapped[dt.date | None] = mapped_column(Date)
    within_authority: Mapped[bool | None]
    result_type: Mapped[str | None] = mapped_column(String(30))
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")


class TrackingCounter(Base):
    """The last running number issued in a series, so tracking codes never collide."""

    __tablename__ = "tracking_counter"

    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
