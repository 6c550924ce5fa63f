"""Publishing answers (Decision 31/2021 Art. 46, Decree 20/2008 Art. 19) after a redaction step.

An intake officer (the publisher) prepares the public copy of an answered petition: the title, the question
and the answer are pre-filled with the enterprise's name, tax code, contact person, e-mail addresses and
phone numbers replaced by "[…]", then edited by hand. Publishing, editing and withdrawing are audited.
Complaints and denunciations are never published.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.db import utcnow
from engine.errors import Conflict, NotFound, ValidationFailed
from workflows import petitions
from workflows.intake import normalize_text
from workflows.models import Enterprise, Petition, PetitionSource, PublishedAnswer
from workflows.petitions import MAX_CONTENT, MAX_TITLE

MASK = "[…]"
UNPUBLISHABLE_TYPES = frozenset({"KNAI", "TC"})
NOT_ANSWERED = "Only a petition whose answer has been sent can be published."
NOT_PUBLISHABLE = "Complaints and denunciations are never published."
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(\+?84|0)[\s.]?\d{2,3}([\s.]?\d{3}){2}(?!\d)")
_TAX = re.compile(r"(?<!\d)\d{10}(-?\d{3})?(?!\d)")


@dataclass(frozen=True)
class Answer:
    """The sent answer of a petition, read from its history."""

    text: str
    result_type: str | None
    document_no: str | None
    date: dt.date | None


def sent_answer(session: Session, petition: Petition) -> Answer | None:
    """Return the latest answer sent to the enterprise, or None when none was sent."""
    events = petitions.history(session, petition)
    drafts = [e for e in events if e.action == "TASK_COMPLETED" and e.bpmn_id == "draft_answer"]
    sent = [e for e in events if e.action == "TASK_COMPLETED" and e.bpmn_id == "send_answer"]
    if not drafts or not sent:
        return None
    draft, letter = drafts[-1].data or {}, sent[-1].data or {}
    try:
        date = dt.date.fromisoformat(str(letter.get("answer_date"))[:10])
    except ValueError:
        date = None
    return Answer(str(draft.get("answer_text") or ""), draft.get("result_type"), letter.get("answer_document_no"),
                  date)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace the given names and any e-mail address, phone number or tax code in a text by "[…]"."""
    for secret in sorted({s.strip() for s in secrets if s and len(s.strip()) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
    for pattern in (_EMAIL, _PHONE, _TAX):
        text = pattern.sub(MASK, text)
    return text


def _secrets(session: Session, petition: Petition) -> list[str]:
    enterprise = session.get(Enterprise, petition.enterprise_id)
    source = session.get(PetitionSource, petition.id)
    values = [enterprise.name, enterprise.tax_code, enterprise.contact_name or "", enterprise.contact_email or "",
              enterprise.contact_phone or ""]
    if source is not None:
        values += [source.contact_name or "", source.contact_email or "", source.contact_phone or ""]
    return values


def _publishable(session: Session, petition: Petition) -> Answer:
    if petition.petition_type in UNPUBLISHABLE_TYPES or petitions.is_restricted(petition):
        raise Conflict(NOT_PUBLISHABLE)
    answer = sent_answer(session, petition)
    if answer is None:
        raise Conflict(NOT_ANSWERED)
    return answer


def current(session: Session, petition: Petition) -> PublishedAnswer | None:
    """Return the public copy of a petition, published or not."""
    return session.scalar(select(PublishedAnswer).where(PublishedAnswer.petition_id == petition.id))


@dataclass(frozen=True)
class Draft:
    """What the redaction form shows: the saved copy, or a proposal redacted automatically."""

    title: str
    question: str
    answer_text: str
    published: bool
    answer: Answer


def draft(session: Session, petition: Petition) -> Draft:
    """Return the redaction form's content; raise Conflict when the petition cannot be published."""
    answer = _publishable(session, petition)
    saved = current(session, petition)
    if saved is not None:
        return Draft(saved.title, saved.question, saved.answer_text, saved.published, answer)
    hidden = _secrets(session, petition)
    return Draft(redact(petition.title, hidden), redact(petition.content, hidden), redact(answer.text, hidden),
                 False, answer)


def save(session: Session, actor: Actor, petition: Petition, title: str, question: str, answer_text: str,
         publish: bool) -> PublishedAnswer:
    """Save the redacted copy and publish it (or keep it unpublished); audited."""
    answer = _publishable(session, petition)
    errors = {}
    for name, value, limit in (("title", title, MAX_TITLE), ("question", question, MAX_CONTENT),
                               ("answer_text", answer_text, MAX_CONTENT)):
        if not value.strip():
            errors[name] = "This field is required."
        elif len(value) > limit:
            errors[name] = "The text is too long."
    if errors:
        raise ValidationFailed(errors)
    row = current(session, petition)
    if row is None:
        row = PublishedAnswer(petition_id=petition.id, updated_by=actor.name)
        session.add(row)
    was_published = row.published
    row.title, row.question, row.answer_text = title.strip(), question.strip(), answer_text.strip()
    row.category, row.zone = petition.category or petition.category_hint, petition.zone
    row.result_type, row.answer_document_no, row.answer_date = answer.result_type, answer.document_no, answer.date
    row.published, row.updated_by, row.updated_at = publish, actor.name, utcnow()
    if publish and not was_published:
        row.published_at = utcnow()
    action = "ANSWER_PUBLISHED" if publish and not was_published else (
        "ANSWER_UNPUBLISHED" if was_published and not publish else "ANSWER_REDACTION_SAVED")
    session.flush()
    audit.record(session, actor, action, business_key=petition.tracking_code,
                 data={"title": row.title, "published": publish})
    return row


def unpublish(session: Session, actor: Actor, petition: Petition) -> PublishedAnswer:
    """Withdraw a published answer from the public page; audited."""
    row = current(session, petition)
    if row is None or not row.published:
        raise NotFound("this answer is not published")
    row.published, row.updated_by, row.updated_at = False, actor.name, utcnow()
    audit.record(session, actor, "ANSWER_UNPUBLISHED", business_key=petition.tracking_code, data={})
    return row


def search(session: Session, q: str = "", category: str = "", zone: str = "", limit: int = 50) -> list[PublishedAnswer]:
    """Return published answers, newest first, filtered by category, zone and words (diacritics ignored)."""
    query = select(PublishedAnswer).where(PublishedAnswer.published.is_(True))
    if category:
        query = query.where(PublishedAnswer.category == category)
    if zone:
        query = query.where(PublishedAnswer.zone == zone)
    query = query.order_by(PublishedAnswer.published_at.desc(), PublishedAnswer.id.desc()).limit(2000)
    words = normalize_text(q).split()
    found = []
    for row in session.scalars(query):
        text = normalize_text(" ".join((row.title, row.question, row.answer_text)))
        if all(word in text for word in words):
            found.append(row)
            if len(found) >= limit:
                break
    return found


def public(session: Session, answer_id: int) -> PublishedAnswer:
    """Return a published answer by id; raise NotFound for unknown or withdrawn ones."""
    row = session.get(PublishedAnswer, answer_id)
    if row is None or not row.published:
        raise NotFound("no published answer has this number")
    return row
