"""Files attached to a petition, stored outside the web root under a server-generated name."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class Attachment(Base):
    """One stored file; `key` (128 random bits, hex) is both its file name on disk and its id in URLs."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="petition")  # petition | scan | supply_info | answer
    original_name: Mapped[str] = mapped_column(String(255))
    extension: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(150))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
