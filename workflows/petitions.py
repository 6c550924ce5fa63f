"""Petitions: intake from every channel, tracking codes, who may see what, public status."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import audit, idempotency
from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from engine.models import AuditEvent, HumanTask
from engine.runtime import Runtime
from workflows.calendar import current_calendar
from workflows.models import Enterprise, Petition, TrackingCounter, User
from workflows.reference import get_reference
from workflows.wiring import PROCESS_ID

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICER_ROLES = frozenset({"intake", "leader", "auditor", "admin"})
# Denunciations (tố cáo) protect the reporter: only designated users (role `inspector`) and the submitting
# enterprise see them, in lists, detail, tasks, search and the API.
RESTRICTED_TYPES = frozenset({"TC"})
MAX_TITLE, MAX_CONTENT = 500, 20_000


@dataclass(frozen=True)
class Submission:
    """What an enterprise (or an intake officer on its behalf) submits."""

    title: str
    content: str
    zone: str
    channel: str = "CONG_DVC"
    category_hint: str | None = None
    submission_key: str | None = None


def validate_submission(sub: Submission) -> None:
    """Raise ValidationFailed with a message per wrong field."""
    ref = get_reference()
    errors: dict[str, str] = {}
    if not sub.title.strip():
        errors["title"] = "This field is required."
    elif len(sub.title) > MAX_TITLE:
        errors["title"] = "The text is too long."
    if not sub.content.strip():
        errors["content"] = "This field is required."
    elif len(sub.content) > MAX_CONTENT:
        errors["content"] = "The text is too long."
    if sub.zone not in ref.zones:
        errors["zone"] = "Choose one of the allowed values."
    if sub.channel not in dict(ref.options("channels", "en")):
        errors["channel"] = "Choose one of the allowed values."
    if sub.category_hint and sub.category_hint not in ref.categories:
        errors["category_hint"] = "Choose one of the allowed values."
    if sub.submission_key is not None and not (8 <= len(sub.submission_key) <= 64):
        errors["submission_key"] = "The value has the wrong format."
    if errors:
        raise ValidationFailed(errors)


def next_tracking_code(session: Session, day: dt.date) -> str:
    """Issue the next code KN.YYYYMMDD.NNNN: the receipt day and a running number (an atomic upsert)."""
    key = "KN"  # one running number across days, as in the Board's register (KN.20251222.0004 follows ...0003)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(TrackingCounter)
        .values(series=key, last=1)
        .on_conflict_do_update(index_elements=["series"], set_={"last": TrackingCounter.last + 1})
        .returning(TrackingCounter.last)
    )
    number = session.execute(stmt).scalar_one()
    return f"KN.{day:%Y%m%d}.{number:04d}"


def submit(
    session: Session,
    runtime: Runtime,
    actor: Actor,
    enterprise: Enterprise,
    sub: Submission,
    received_at: dt.datetime | None = None,
    is_demo: bool = False,
) -> Petition:
    """Register a petition and start its process; a repeated submission key returns the first petition.

    The key is stored with the submission's fingerprint: the same key with another submission (other text,
    another submitter) raises `idempotency.KeyReused`.
    """
    validate_submission(sub)
    existing = already_submitted(session, actor, enterprise, sub)
    if existing is not None:
        return existing
    received_at = received_at or dt.datetime.now(dt.timezone.utc)
    code = next_tracking_code(session, received_at.astimezone(HANOI).date())
    received_date = current_calendar().receipt_date(received_at)
    petition = Petition(
        tracking_code=code, enterprise_id=enterprise.id, title=sub.title.strip(), content=sub.content.strip(),
        zone=sub.zone, channel=sub.channel, category_hint=sub.category_hint, received_at=received_at,
        received_date=received_date, submission_key=sub.submission_key, created_by=actor.name, is_demo=is_demo,
    )
    session.add(petition)
    session.flush()
    audit.record(session, actor, "PETITION_RECEIVED", business_key=code,
                 data={"channel": sub.channel, "enterprise": enterprise.tax_code, "title": petition.title,
                       "received_date": received_date.isoformat()})
    data = {
        "tracking_code": code, "title": petition.title, "content": petition.content, "zone": sub.zone,
        "channel": sub.channel, "enterprise_tax_code": enterprise.tax_code, "enterprise_name": enterprise.name,
        "received_date": received_date.isoformat(), "category_hint": sub.category_hint, "reopen_count": 0,
    }
    instance = runtime.start(session, PROCESS_ID, code, data, actor)
    petition.instance_id = instance.id
    runtime.hooks.after_step(session, instance, data)
    if sub.submission_key:
        idempotency.remember(session, SUBMIT_SCOPE, sub.submission_key, submission_fingerprint(enterprise, sub),
                             {"tracking_code": code})
    return petition


SUBMIT_SCOPE = "petition.submit"


def submission_fingerprint(enterprise: Enterprise, sub: Submission) -> str:
    """Return the fingerprint of a submission: for which enterprise, and what.

    The enterprise is part of it, so a key never answers with another enterprise's petition; the officer is
    not (another intake officer re-importing the same conference sheet gets the same petitions back).
    """
    return idempotency.fingerprint({
        "enterprise": enterprise.tax_code, "title": sub.title.strip(),
        "content": sub.content.strip(), "zone": sub.zone, "channel": sub.channel, "category_hint": sub.category_hint,
    })


def already_submitted(session: Session, actor: Actor, enterprise: Enterprise, sub: Submission) -> Petition | None:
    """Return the petition a submission with the same key created, None for a new key.

    Raises `idempotency.KeyReused` when the key came with a different submission.
    """
    if not sub.submission_key:
        return None
    first = idempotency.replay(session, SUBMIT_SCOPE, sub.submission_key, submission_fingerprint(enterprise, sub))
    if first is not None:
        return session.scalar(select(Petition).where(Petition.tracking_code == first["tracking_code"]))
    # Petitions stored before keys had fingerprints (schema 0008) answer by their key alone.
    return session.scalar(select(Petition).where(Petition.submission_key == sub.submission_key))


def get(session: Session, tracking_code: str) -> Petition:
    """Return the petition with this code or raise NotFound."""
    petition = session.scalar(select(Petition).where(Petition.tracking_code == tracking_code))
    if petition is None:
        raise NotFound("no petition has this tracking code")
    return petition


def is_restricted(petition: Petition) -> bool:
    """Tell whether a petition is a denunciation, shown only to designated users and its submitter."""
    return petition.petition_type in RESTRICTED_TYPES


def may_see_restricted(user: User, petition: Petition) -> bool:
    """Tell whether a user may see a restricted petition: an inspector, or a user of the submitting enterprise."""
    roles = set(user.roles)
    return "inspector" in roles or ("enterprise" in roles and user.enterprise_id == petition.enterprise_id)


def not_restricted() -> ColumnElement[bool]:
    """Return the SQL condition of petitions open to every officer."""
    return or_(Petition.petition_type.is_(None), Petition.petition_type.not_in(RESTRICTED_TYPES))


def can_view(session: Session, user: User, petition: Petition) -> bool:
    """Tell whether a user may see the full record of a petition (object-level authorization)."""
    roles = set(user.roles)
    if is_restricted(petition):
        return may_see_restricted(user, petition)
    if roles & OFFICER_ROLES:
        return True
    if "enterprise" in roles and user.enterprise_id == petition.enterprise_id:
        return True
    if "unit" in roles and user.unit_code and user.unit_code == petition.lead_unit:
        return True
    if "agency" in roles and user.agency_code:
        return session.scalar(
            select(HumanTask.id).where(HumanTask.business_key == petition.tracking_code,
                                       HumanTask.scope_kind == "agency", HumanTask.scope_value == user.agency_code)
        ) is not None
    return False


def visible(session: Session, user: User, limit: int = 200) -> list[Petition]:
    """Return the petitions a user may see, newest first."""
    query = select(Petition).order_by(Petition.received_at.desc()).limit(limit)
    roles = set(user.roles)
    if roles & OFFICER_ROLES:
        return list(session.scalars(query if "inspector" in roles else query.where(not_restricted())))
    if "enterprise" in roles:
        return list(session.scalars(query.where(Petition.enterprise_id == user.enterprise_id)))
    if "inspector" in roles:
        return list(session.scalars(query.where(Petition.petition_type.in_(RESTRICTED_TYPES))))
    query = query.where(not_restricted())
    if "unit" in roles:
        return list(session.scalars(query.where(Petition.lead_unit == user.unit_code)))
    if "agency" in roles:
        codes = select(HumanTask.business_key).where(HumanTask.scope_kind == "agency",
                                                     HumanTask.scope_value == user.agency_code)
        return list(session.scalars(query.where(Petition.tracking_code.in_(codes))))
    return []


def history(session: Session, petition: Petition) -> list[AuditEvent]:
    """Return the audit events of a petition in order."""
    return audit.history(session, petition.tracking_code)


def open_tasks(session: Session, petition: Petition) -> list[HumanTask]:
    """Return the petition's open tasks (its current stage)."""
    return list(session.scalars(
        select(HumanTask).where(HumanTask.business_key == petition.tracking_code, HumanTask.status == "open")
        .order_by(HumanTask.created_at, HumanTask.id)  # the id settles a tie (parallel branches, one microsecond)
    ))


def public_status(session: Session, tracking_code: str) -> dict[str, str | None]:
    """Return only what anyone holding the code may see: status, stage, lead unit, due date."""
    petition = get(session, tracking_code)
    if is_restricted(petition):  # anyone may try a code: say nothing about a denunciation beyond its status
        return {"tracking_code": petition.tracking_code, "status": petition.status, "stage": None,
                "lead_unit": None, "due_date": None, "received_date": petition.received_date.isoformat()}
    stage = [t.name for t in open_tasks(session, petition)]
    return {
        "tracking_code": petition.tracking_code,
        "status": petition.status,
        "stage": ", ".join(dict.fromkeys(stage)) or None,
        "lead_unit": petition.lead_unit,
        "due_date": petition.due_date.isoformat() if petition.due_date else None,
        "received_date": petition.received_date.isoformat(),
    }
