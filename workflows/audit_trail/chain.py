"""Record what auditors open and verify the audit log's hash chain."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.models import AuditEvent

VIEWED = "AUDIT_VIEWED"


def record_view(session: Session, actor: Actor, page: str, **details: Any) -> AuditEvent:
    """Append AUDIT_VIEWED (the page and what was opened) in the caller's transaction."""
    return audit.record(session, actor, VIEWED, data={"page": page, **{k: v for k, v in details.items() if v}})


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the hash chain."""

    intact: bool
    broken_at: int | None  # chain index of the first broken link
    events: int
    head_index: int | None
    head_hash: str | None
    broken_event: AuditEvent | None  # the row at the broken index, when it still exists


def verify(session: Session) -> ChainReport:
    """Verify the whole chain and describe the head, or the first broken link."""
    broken = audit.verify_chain(session)
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    head = session.execute(
        select(AuditEvent.chain_index, AuditEvent.hash).order_by(AuditEvent.chain_index.desc()).limit(1)
    ).first()
    row = session.scalar(select(AuditEvent).where(AuditEvent.chain_index == broken)) if broken is not None else None
    return ChainReport(broken is None, broken, count, head.chain_index if head else None, head.hash if head else None,
                       row)
