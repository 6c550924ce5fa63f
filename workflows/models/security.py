"""Web security records shared by every worker process: server-side sessions and rate-limit hits."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class WebSession(Base):
    """One login: the cookie carries a random token, this row its SHA-256 (so a database leak gives no cookie).

    A session is valid while `revoked_at` is empty, `last_seen_at` is within the idle timeout and `created_at`
    within the absolute lifetime; logout and a password change set `revoked_at`.
    """

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class RateEvent(Base):
    """One counted hit of a rate-limited action (`bucket`, e.g. `login-account`) by a key (IP, username)."""

    __tablename__ = "rate_event"
    __table_args__ = (Index("ix_rate_event_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
