"""Dialogue conferences (hội nghị đối thoại) with enterprises, whose petitions are linked to them."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class Conference(Base):
    """A conference record: date, zones, chairing leader, notes; petitions link to it by PetitionSource."""

    __tablename__ = "conference"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    held_on: Mapped[dt.date] = mapped_column(Date)
    zones: Mapped[list[Any]]
    chair_name: Mapped[str | None] = mapped_column(String(200))
    chair_position: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConferenceEnterprise(Base):
    """An enterprise that took part in a conference."""

    __tablename__ = "conference_enterprise"

    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), primary_key=True, index=True)
