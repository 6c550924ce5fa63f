"""The enterprise portal's records: e-mail verification of accounts and where a petition came from."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class EmailVerification(Base):
    """The e-mail check of a self-registered account; the account stays inactive until `verified_at`."""

    __tablename__ = "email_verification"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[dt.datetime | None]


class PetitionSource(Base):
    """How a petition reached the Board: conference, incoming letter, contact person, city platform."""

    __tablename__ = "petition_source"

    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), primary_key=True)
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("conference.id"), index=True)
    incoming_doc_no: Mapped[str | None] = mapped_column(String(60))
    incoming_doc_date: Mapped[dt.date | None] = mapped_column(Date)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    open311_client_id: Mapped[int | None] = mapped_column(ForeignKey("open311_client.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
