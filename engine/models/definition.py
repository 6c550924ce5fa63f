"""A deployed version of a BPMN process (XML, forms, serialized spec, keyed by content hash), and designers' drafts."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class ProcessDefinition(Base):
    """One version of one process id; instances keep the version they started on."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_definition_version"),
        UniqueConstraint("process_id", "content_hash", name="uq_process_definition_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(300), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    bpmn_files: Mapped[dict[str, Any]]  # {filename: xml text}
    forms: Mapped[dict[str, Any]]  # {form filename: JSON Schema}
    spec_json: Mapped[str] = mapped_column(Text)  # serialized spec + subprocess specs, stored once per version
    active: Mapped[bool] = mapped_column(default=True)
    deployed_by: Mapped[str] = mapped_column(String(150))
    deployed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deactivated_by: Mapped[str | None] = mapped_column(String(150))
    deactivated_at: Mapped[dt.datetime | None]


class ProcessDraft(Base):
    """A model being edited in the designer: one BPMN file and its forms, never run until deployed."""

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str | None] = mapped_column(String(200), index=True)  # the executable process, once known
    name: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(200), default="process.bpmn")
    bpmn: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]  # {form filename: JSON Schema}
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id", ondelete="SET NULL"),
                                                         index=True)
    author: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
