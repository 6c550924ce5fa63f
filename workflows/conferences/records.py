"""Record dialogue conferences and read their petitions and participating enterprises."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from workflows.models import Conference, ConferenceEnterprise, Enterprise, Petition, PetitionSource
from workflows.reference import get_reference

CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-]{2,39}$")


@dataclass(frozen=True)
class ConferenceInput:
    """What the officer enters to record a conference."""

    code: str
    title: str
    held_on: dt.date | None
    zones: tuple[str, ...] = ()
    chair_name: str = ""
    chair_position: str = ""
    notes: str = ""


def create(session: Session, actor: Actor, data: ConferenceInput, is_demo: bool = False) -> Conference:
    """Record a conference; raise ValidationFailed with every wrong field."""
    errors: dict[str, str] = {}
    code = data.code.strip().upper()
    if not CODE.match(code):
        errors["code"] = "Use 3 to 40 capital letters, digits or '-', e.g. HOINGHI-20251218."
    elif session.scalar(select(Conference.id).where(Conference.code == code)) is not None:
        errors["code"] = "This code is already used."
    if not data.title.strip():
        errors["title"] = "This field is required."
    if data.held_on is None:
        errors["held_on"] = "This field is required."
    if any(zone not in get_reference().zones for zone in data.zones):
        errors["zones"] = "Choose one of the allowed values."
    if errors:
        raise ValidationFailed(errors)
    conference = Conference(code=code, title=data.title.strip()[:500], held_on=data.held_on, zones=list(data.zones),
                            chair_name=data.chair_name.strip() or None, chair_position=data.chair_position.strip() or None,
                            notes=data.notes.strip() or None, is_demo=is_demo, created_by=actor.name)
    session.add(conference)
    session.flush()
    audit.record(session, actor, "CONFERENCE_RECORDED", business_key=code, data={"title": conference.title})
    return conference


def get(session: Session, code: str) -> Conference:
    """Return the conference with this code or raise NotFound."""
    conference = session.scalar(select(Conference).where(Conference.code == code))
    if conference is None:
        raise NotFound("no conference has this code")
    return conference


def listing(session: Session) -> list[tuple[Conference, int]]:
    """Return every conference, newest first, with its number of petitions."""
    counts = {conference_id: count for conference_id, count in session.execute(
        select(PetitionSource.conference_id, func.count()).where(PetitionSource.conference_id.is_not(None))
        .group_by(PetitionSource.conference_id))}
    rows = session.scalars(select(Conference).order_by(Conference.held_on.desc(), Conference.id.desc()))
    return [(c, counts.get(c.id, 0)) for c in rows]


def recent(session: Session, limit: int = 30) -> list[Conference]:
    """Return the latest conferences (for choosing one on the intake form)."""
    return list(session.scalars(select(Conference).order_by(Conference.held_on.desc()).limit(limit)))


def petitions_of(session: Session, conference: Conference) -> list[Petition]:
    """Return the conference's petitions in order of their tracking codes."""
    return list(session.scalars(
        select(Petition).join(PetitionSource, PetitionSource.petition_id == Petition.id)
        .where(PetitionSource.conference_id == conference.id).order_by(Petition.id)
    ))


def enterprises_of(session: Session, conference: Conference) -> list[Enterprise]:
    """Return the participating enterprises by name."""
    return list(session.scalars(
        select(Enterprise).join(ConferenceEnterprise, ConferenceEnterprise.enterprise_id == Enterprise.id)
        .where(ConferenceEnterprise.conference_id == conference.id).order_by(Enterprise.name)
    ))


def add_participant(session: Session, conference: Conference, enterprise: Enterprise) -> None:
    """Record that an enterprise took part (idempotent)."""
    if session.get(ConferenceEnterprise, (conference.id, enterprise.id)) is None:
        session.add(ConferenceEnterprise(conference_id=conference.id, enterprise_id=enterprise.id))
        session.flush()
