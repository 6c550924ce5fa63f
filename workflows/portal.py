"""The enterprise's side of a petition: answer an information request, rate the answer, see the guidance.

Both actions complete the enterprise-lane task of the petition through `workflows.tasks`, so the engine
checks the lane and the enterprise scope; the BPMN reopens the petition once on a dissatisfied rating.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, ValidationFailed
from engine.models import HumanTask
from engine.runtime import Runtime
from workflows import attachments, petitions, tasks
from workflows.attachments import CheckedFile
from workflows.models import Attachment, Conference, Petition, PetitionSource, PublishedAnswer, User

RATINGS = ("hai_long", "chap_nhan", "khong_hai_long")
NO_OPEN_STEP = "this task is no longer waiting for input"


@dataclass(frozen=True)
class PetitionExtras:
    """What the petition page adds for the portal: files, source, the enterprise's open steps, guidance."""

    attachments: list[Attachment] = field(default_factory=list)
    source: PetitionSource | None = None
    conference: Conference | None = None
    info_task: HumanTask | None = None
    info_request: str | None = None
    confirm_task: HumanTask | None = None
    reopen_left: bool = False
    guidance: str | None = None
    publication: PublishedAnswer | None = None


def _enterprise_task(session: Session, runtime: Runtime, user: User, petition: Petition,
                     bpmn_id: str) -> tuple[HumanTask, dict[str, Any]] | None:
    if "enterprise" not in user.roles or user.enterprise_id != petition.enterprise_id:
        return None
    for row in petitions.open_tasks(session, petition):
        if row.bpmn_id == bpmn_id:
            return row, tasks.detail(session, runtime, user, row.id).data
    return None


def _guidance(session: Session, petition: Petition) -> str | None:
    done = [e for e in petitions.history(session, petition)
            if e.action == "TASK_COMPLETED" and e.bpmn_id == "record_out_of_track"]
    return (done[-1].data or {}).get("guidance") if done else None


def extras(session: Session, runtime: Runtime, user: User, petition: Petition) -> PetitionExtras:
    """Return the portal additions of a petition page (the caller has checked that the user may see it)."""
    source = session.get(PetitionSource, petition.id)
    info = _enterprise_task(session, runtime, user, petition, "supply_info")
    confirm = _enterprise_task(session, runtime, user, petition, "confirm")
    publication = session.scalar(select(PublishedAnswer).where(PublishedAnswer.petition_id == petition.id))
    return PetitionExtras(
        attachments=attachments.of_petition(session, petition),
        source=source,
        conference=session.get(Conference, source.conference_id) if source and source.conference_id else None,
        info_task=info[0] if info else None,
        info_request=str(info[1].get("info_request") or "") if info else None,
        confirm_task=confirm[0] if confirm else None,
        reopen_left=bool(confirm) and int(confirm[1].get("reopen_count") or 0) < 1,
        guidance=_guidance(session, petition),
        publication=publication,
    )


def supply_info(session: Session, runtime: Runtime, user: User, petition: Petition, text: str,
                files: Sequence[CheckedFile] = (), storage: Path | None = None) -> None:
    """Answer the Board's information request (text and files); raise Conflict when none is open."""
    found = _enterprise_task(session, runtime, user, petition, "supply_info")
    if found is None:
        raise Conflict(NO_OPEN_STEP)
    if not text.strip():
        raise ValidationFailed({"supplied_info": "This field is required."})
    tasks.complete(session, runtime, user, found[0].id, {"supplied_info": text.strip()})
    if files:
        if storage is None:
            raise ValueError("files given without a storage folder")
        attachments.attach(session, storage, petition, files, "supply_info", user.username)


def rate(session: Session, runtime: Runtime, user: User, petition: Petition, rating: str, comment: str) -> None:
    """Rate the answer; a dissatisfied rating needs a comment and reopens the petition once (BPMN)."""
    found = _enterprise_task(session, runtime, user, petition, "confirm")
    if found is None:
        raise Conflict(NO_OPEN_STEP)
    data = {"rating": rating}
    if comment.strip():
        data["comment"] = comment.strip()
    tasks.complete(session, runtime, user, found[0].id, data)
