"""Intake from every channel: where a petition came from, its files, the duplicate warning and the receipt.

`register` wraps `petitions.submit`: it checks the channel's own requirements (a paper letter needs its
incoming number and date, a conference petition its conference), warns about a similar petition of the same
enterprise in the last 30 days unless the caller confirmed, then records the source and stores the files in
the caller's transaction. A repeated submission key returns the first petition and adds nothing (D2).
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.db import utcnow
from engine.errors import Conflict, ValidationFailed
from engine.runtime import Runtime
from workflows import attachments, petitions
from workflows.attachments import CheckedFile
from workflows.calendar import load_calendar
from workflows.enterprises import email_problem
from workflows.models import (
    Attachment,
    Conference,
    ConferenceEnterprise,
    Enterprise,
    Petition,
    PetitionSource,
)
from workflows.petitions import Submission
from workflows.reference import get_reference

DUPLICATE_WINDOW = dt.timedelta(days=30)
TITLE_SIMILARITY = 0.8
CONTENT_SIMILARITY = 0.7
DOC_NO_REQUIRED = "A paper letter needs its incoming document number."
DOC_DATE_REQUIRED = "A paper letter needs the date of its incoming document."
DOC_DATE_FUTURE = "The date cannot be in the future."
CONFERENCE_REQUIRED = "Choose the conference where the petition was raised."


@dataclass(frozen=True)
class Source:
    """Channel details beside the submission: letter number and date, conference, contact person."""

    incoming_doc_no: str | None = None
    incoming_doc_date: dt.date | None = None
    conference_code: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    open311_client_id: int | None = None
    note: str | None = None

    def is_empty(self) -> bool:
        """Tell whether nothing is recorded."""
        return not any(getattr(self, name) for name in self.__dataclass_fields__)


class PossibleDuplicate(Conflict):
    """The same enterprise sent a similar petition recently; `similar` lists them, most similar first."""

    def __init__(self, similar: list[Petition]) -> None:
        super().__init__("a similar petition was sent recently")
        self.similar = similar


def normalize_text(text: str) -> str:
    """Return lower-case words without Vietnamese diacritics or punctuation ('Đất đai!' -> 'dat dai')."""
    text = unicodedata.normalize("NFD", (text or "").replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
    return " ".join(re.findall(r"\w+", text))


def similarity(a: str, b: str) -> float:
    """Return how alike two texts are, 0..1, word by word after normalization."""
    wa, wb = normalize_text(a).split()[:400], normalize_text(b).split()[:400]
    if not wa or not wb:
        return 0.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def similar_recent(session: Session, enterprise: Enterprise, title: str, content: str,
                   now: dt.datetime | None = None, exclude: int | None = None) -> list[Petition]:
    """Return the enterprise's petitions of the last 30 days whose title or content is alike."""
    since = (now or utcnow()) - DUPLICATE_WINDOW
    query = select(Petition).where(Petition.enterprise_id == enterprise.id, Petition.received_at >= since)
    if exclude is not None:
        query = query.where(Petition.id != exclude)
    scored = []
    for petition in session.scalars(query):
        score = max(similarity(title, petition.title) / TITLE_SIMILARITY,
                    similarity(content, petition.content) / CONTENT_SIMILARITY)
        if score >= 1:
            scored.append((score, petition))
    return [p for _, p in sorted(scored, key=lambda item: -item[0])]


def _conference(session: Session, code: str | None) -> Conference | None:
    return session.scalar(select(Conference).where(Conference.code == code)) if code else None


def check_source(session: Session, sub: Submission, source: Source) -> dict[str, str]:
    """Return the channel's missing or wrong details, by field."""
    errors: dict[str, str] = {}
    if sub.channel == "VAN_BAN":
        if not (source.incoming_doc_no or "").strip():
            errors["incoming_doc_no"] = DOC_NO_REQUIRED
        if source.incoming_doc_date is None:
            errors["incoming_doc_date"] = DOC_DATE_REQUIRED
    if source.incoming_doc_date and source.incoming_doc_date > dt.date.today() + dt.timedelta(days=1):
        errors["incoming_doc_date"] = DOC_DATE_FUTURE
    if sub.channel == "HOI_NGHI" and _conference(session, source.conference_code) is None:
        errors["conference"] = CONFERENCE_REQUIRED
    if source.contact_email and email_problem(source.contact_email.strip()):
        errors["contact_email"] = "The e-mail address is not valid."
    if len(source.incoming_doc_no or "") > 60:
        errors["incoming_doc_no"] = "The text is too long."
    return errors


def _record_source(session: Session, petition: Petition, enterprise: Enterprise, source: Source) -> None:
    conference = _conference(session, source.conference_code)
    session.add(PetitionSource(
        petition_id=petition.id, conference_id=conference.id if conference else None,
        incoming_doc_no=(source.incoming_doc_no or "").strip() or None, incoming_doc_date=source.incoming_doc_date,
        contact_name=source.contact_name, contact_email=source.contact_email, contact_phone=source.contact_phone,
        open311_client_id=source.open311_client_id, note=source.note,
    ))
    if conference is not None and session.get(ConferenceEnterprise, (conference.id, enterprise.id)) is None:
        session.add(ConferenceEnterprise(conference_id=conference.id, enterprise_id=enterprise.id))


def register(
    session: Session,
    runtime: Runtime,
    actor: Actor,
    enterprise: Enterprise,
    sub: Submission,
    *,
    source: Source = Source(),
    files: Sequence[CheckedFile] = (),
    storage: Path | None = None,
    file_kind: str = "petition",
    allow_duplicate: bool = False,
    received_at: dt.datetime | None = None,
    is_demo: bool = False,
) -> Petition:
    """Register a petition with its source and files; raise ValidationFailed or PossibleDuplicate.

    The caller commits; the files are already durable when this returns.
    """
    existing = petitions.already_submitted(session, actor, enterprise, sub)
    if existing is not None:
        return existing
    errors: dict[str, str] = {}
    try:
        petitions.validate_submission(sub)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    errors.update(check_source(session, sub, source))
    if errors:
        raise ValidationFailed(errors)
    if not allow_duplicate and (similar := similar_recent(session, enterprise, sub.title, sub.content,
                                                          now=received_at)):
        raise PossibleDuplicate(similar)
    petition = petitions.submit(session, runtime, actor, enterprise, sub, received_at=received_at, is_demo=is_demo)
    if not source.is_empty():
        _record_source(session, petition, enterprise, source)
    if files:
        if storage is None:
            raise ValueError("files given without a storage folder")
        attachments.attach(session, storage, petition, files, file_kind, actor.name)
    session.flush()
    return petition


def expected_answer_date(session: Session, petition: Petition) -> dt.date:
    """Return the due date, or before assignment received date + the category's working days."""
    if petition.due_date:
        return petition.due_date
    ref = get_reference()
    category = ref.categories.get(petition.category or petition.category_hint or "")
    days = category.default_working_days if category else int(ref.deadline_rules["answer_within_authority_wd"])
    return load_calendar(session).add_working_days(petition.received_date, days)


@dataclass(frozen=True)
class Receipt:
    """The giấy tiếp nhận: what was received, from whom, through which door, and when to expect the answer."""

    petition: Petition
    enterprise: Enterprise
    source: PetitionSource | None
    conference: Conference | None
    files: list[Attachment] = field(default_factory=list)
    expected_answer: dt.date | None = None


def receipt(session: Session, petition: Petition) -> Receipt:
    """Return the receipt of a petition (the caller has checked that the user may see it)."""
    source = session.get(PetitionSource, petition.id)
    conference = session.get(Conference, source.conference_id) if source and source.conference_id else None
    return Receipt(petition, session.get(Enterprise, petition.enterprise_id), source, conference,
                   attachments.of_petition(session, petition), expected_answer_date(session, petition))
