"""Calendar overrides: days the Board works or rests against the `holidays.VN` baseline (admin-editable)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow

KINDS = ("working", "off")


class CalendarOverride(Base):
    """One day whose status differs from Monday-Friday minus public holidays.

    `kind` is 'working' (a make-up Saturday, ngày làm bù) or 'off' (an extra day off decided after the pinned
    holidays release). One row per day; changing a day means removing its row and adding another.
    """

    __tablename__ = "calendar_override"
    __table_args__ = (CheckConstraint("kind IN ('working', 'off')", name="ck_calendar_override_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
