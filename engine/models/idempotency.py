"""Idempotency keys: the first result of a request, so a retried request returns it instead of acting twice."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class IdempotencyKey(Base):
    """One key per scope: the fingerprint of the request that used it first and what that request produced."""

    __tablename__ = "idempotency_key"

    scope: Mapped[str] = mapped_column(String(50), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
