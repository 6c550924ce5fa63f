"""Record the demo data's sample conferences and link each sample petition to its source."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import Actor
from workflows.conferences.records import ConferenceInput, add_participant, create
from workflows.models import Conference, Enterprise, Petition, PetitionSource


def link_samples(session: Session, data: Mapping[str, Any], loaded: Sequence[Petition]) -> int:
    """Record the sample conferences and each sample petition's source (conference, letter, contact).

    `loaded` holds the petitions created from `data["petitions"]`, in the same order. Returns how many
    petitions were linked to a conference.
    """
    by_code = {}
    for raw in data.get("conferences") or ():
        held = raw["date"] if isinstance(raw["date"], dt.date) else dt.date.fromisoformat(str(raw["date"]))
        chair = raw.get("chair") or {}
        conference = session.scalar(select(Conference).where(Conference.code == raw["code"])) or create(
            session, Actor("tiepnhan", "intake"),
            ConferenceInput(code=raw["code"], title=raw.get("title_vi") or raw["code"], held_on=held,
                            zones=tuple(raw.get("zones") or ()), chair_name=chair.get("name") or "",
                            chair_position=chair.get("position_vi") or "", notes=raw.get("chair_note") or ""),
            is_demo=bool(raw.get("is_demo", True)))
        by_code[conference.code] = conference
    linked = 0
    for sample, petition in zip(data.get("petitions") or (), loaded, strict=False):
        conference = by_code.get(sample.get("conference") or "")
        letter = sample.get("incoming_document") or {}
        contact = sample.get("contact") or {}
        if session.get(PetitionSource, petition.id) is not None:
            continue
        doc_date = letter.get("date")
        session.add(PetitionSource(
            petition_id=petition.id, conference_id=conference.id if conference else None,
            incoming_doc_no=letter.get("number"),
            incoming_doc_date=dt.date.fromisoformat(str(doc_date)) if doc_date else None,
            contact_name=contact.get("name"), contact_email=contact.get("email"), contact_phone=contact.get("phone"),
            note=sample.get("channel_note"),
        ))
        if conference is not None:
            add_participant(session, conference, session.get(Enterprise, petition.enterprise_id))
            linked += 1
    session.flush()
    return linked
