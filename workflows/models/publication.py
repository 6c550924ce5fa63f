"""Answers published on the public page /answers after redaction, and the city platforms' Open311 keys."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class PublishedAnswer(Base):
    """The redacted, public copy of a petition's answer; `published` switches it on and off."""

    __tablename__ = "published_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    question: Mapped[str] = mapped_column(Text)
    answer_text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(20), index=True)
    zone: Mapped[str] = mapped_column(String(20), index=True)
    result_type: Mapped[str | None] = mapped_column(String(30))
    answer_document_no: Mapped[str | None] = mapped_column(String(60))
    answer_date: Mapped[dt.date | None] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(default=False, index=True)
    published_at: Mapped[dt.datetime | None]
    updated_by: Mapped[str] = mapped_column(String(150))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Open311Client(Base):
    """A city platform allowed to POST requests; only the SHA-256 of its random key is stored."""

    __tablename__ = "open311_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(20), default="IHANOI")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
