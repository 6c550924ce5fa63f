"""Outbox: side effects (e-mail) written in the step's transaction and sent after commit (DESIGN decision 11)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class OutboxMessage(Base):
    """One message to send at least once; `dedupe_key` makes enqueueing idempotent.

    Pending: `sent_at` is NULL and `next_attempt_at` has passed. `next_attempt_at` NULL with `sent_at` NULL
    means delivery was given up (a permanent refusal); `last_error` says why.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_pending", "next_attempt_at",
              postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(250), unique=True)
    channel: Mapped[str] = mapped_column(String(20), default="email")
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
