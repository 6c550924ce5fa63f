"""The append-only, hash-chained audit log (DESIGN decision 10)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class AuditEvent(Base):
    """One event (SUBJECT_PAST_VERB) with its actor, written in the step's transaction; never updated."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_business_key", "business_key", "chain_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(50), default="")
    action: Mapped[str] = mapped_column(String(60), index=True)
    instance_id: Mapped[int | None]
    business_key: Mapped[str | None] = mapped_column(String(100))
    task_id: Mapped[str | None] = mapped_column(String(36))
    bpmn_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
