"""Open311 GeoReport v2 as a door for city platforms (iHanoi, the public-service portal).

Services are the petition categories. A request is a petition: `service_request_id` is its tracking code,
`status` is `open` until the process ends, `expected_datetime` is the due date (or the expected answer date
before assignment). Reading is public and shows only what the status lookup shows (no enterprise, no
content); denunciations are never listed. Creating needs the `api_key` of a registered client: only the
SHA-256 of each key is stored, the key itself is shown once when the client is added.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.db import utcnow
from engine.errors import NotFound, ValidationFailed
from engine.models import ProcessInstance
from engine.runtime import Runtime
from workflows import intake, petitions
from workflows.enterprises import normalize_tax_code, tax_code_problem
from workflows.intake import Source
from workflows.models import Enterprise, Open311Client, Petition
from workflows.petitions import HANOI, Submission, not_restricted
from workflows.reference import STATUS_NAMES_VI, get_reference
from workflows.users import get_or_create_enterprise

ANONYMOUS_TAX_CODE = "0000000000"
ANONYMOUS_NAME = "Nền tảng đô thị - người gửi không nêu doanh nghiệp"
CLIENT_CHANNELS = ("IHANOI", "CONG_DVC")
CLOSED_STATUSES = frozenset({"DONG", "KHONG_TIEP_NHAN", "CHUYEN_CO_QUAN_KHAC", "TRUNG_LAP", "RUT"})
MAX_RESULTS = 1000
DEFAULT_WINDOW = dt.timedelta(days=90)
GROUP = "Phản ánh, kiến nghị của doanh nghiệp"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_client(session: Session, name: str, channel: str = "IHANOI") -> tuple[Open311Client, str]:
    """Register a client; return it and its api key (shown once, stored only as a hash)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed({"name": "Give a name of at most 100 characters."})
    if channel not in CLIENT_CHANNELS:
        raise ValidationFailed({"channel": "Choose one of the allowed values."})
    if session.scalar(select(Open311Client.id).where(Open311Client.name == name)) is not None:
        raise ValidationFailed({"name": "A client with this name exists."})
    key = "o311_" + secrets.token_urlsafe(32)
    client = Open311Client(name=name, key_hash=_hash(key), key_prefix=key[:12], channel=channel)
    session.add(client)
    session.flush()
    return client, key


def client_for_key(session: Session, key: str | None) -> Open311Client | None:
    """Return the active client holding this api key, or None."""
    if not key or len(key) > 200:
        return None
    client = session.scalar(select(Open311Client).where(Open311Client.key_hash == _hash(key)))
    return client if client is not None and client.active else None


def _service(code: str, lang: str) -> dict[str, Any]:
    category = get_reference().categories[code]
    return {
        "service_code": code,
        "service_name": category.name_vi if lang == "vi" else category.name_en,
        "description": category.name_en if lang == "vi" else category.name_vi,
        "metadata": True,
        "type": "realtime",
        "keywords": code.lower(),
        "group": GROUP,
    }


def services(lang: str = "vi") -> list[dict[str, Any]]:
    """Return the service list: one service per petition category."""
    return [_service(code, lang) for code in get_reference().categories]


def service_definition(code: str, lang: str = "vi") -> dict[str, Any]:
    """Return the attributes a request of this service takes; raise NotFound for an unknown code."""
    ref = get_reference()
    if code not in ref.categories:
        raise NotFound("no service has this code")
    zones = [{"key": z, "name": zone.name_vi if lang == "vi" else zone.name_en} for z, zone in ref.zones.items()]
    return {"service_code": code, "attributes": [
        {"variable": True, "code": "zone", "datatype": "singlevaluelist", "required": True, "order": 1,
         "datatype_description": "Mã khu công nghiệp / khu công nghệ cao", "description": "Khu", "values": zones},
        {"variable": True, "code": "tax_code", "datatype": "string", "required": False, "order": 2,
         "datatype_description": "10 hoặc 13 chữ số", "description": "Mã số doanh nghiệp"},
        {"variable": True, "code": "enterprise_name", "datatype": "string", "required": False, "order": 3,
         "datatype_description": "", "description": "Tên doanh nghiệp (khi mã số chưa có trong hệ thống)"},
        {"variable": True, "code": "title", "datatype": "string", "required": False, "order": 4,
         "datatype_description": "Tối đa 500 ký tự", "description": "Tiêu đề"},
    ]}


@dataclass(frozen=True)
class NewRequest:
    """A POST requests body, already split into fields and attributes."""

    service_code: str
    description: str
    attributes: Mapping[str, str]
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    address_string: str = ""
    idempotency_key: str = ""


def _enterprise(session: Session, attributes: Mapping[str, str]) -> Enterprise:
    tax_code = normalize_tax_code(attributes.get("tax_code"))
    if not tax_code:
        return get_or_create_enterprise(session, ANONYMOUS_TAX_CODE, ANONYMOUS_NAME)
    if tax_code_problem(tax_code):
        raise ValidationFailed({"attribute[tax_code]": "A tax code has 10 or 13 digits."})
    return get_or_create_enterprise(session, tax_code, (attributes.get("enterprise_name") or "").strip() or None,
                                    attributes.get("zone") or None)


def create_request(session: Session, runtime: Runtime, client: Open311Client, req: NewRequest) -> Petition:
    """Create a petition from an Open311 request on the client's channel (the caller commits)."""
    errors: dict[str, str] = {}
    if req.service_code not in get_reference().categories:
        errors["service_code"] = "Unknown service_code."
    if not req.description.strip():
        errors["description"] = "This field is required."
    if errors:
        raise ValidationFailed(errors)
    enterprise = _enterprise(session, req.attributes)
    title = (req.attributes.get("title") or "").strip() or _title(req.description)
    key = f"o311-{client.id}-{hashlib.sha256(req.idempotency_key.encode()).hexdigest()[:40]}" \
        if req.idempotency_key else None
    sub = Submission(title=title, content=req.description.strip(), zone=req.attributes.get("zone") or "",
                     channel=client.channel, category_hint=req.service_code, submission_key=key)
    name = " ".join(part for part in (req.first_name.strip(), req.last_name.strip()) if part)
    source = Source(contact_name=name or None, contact_email=req.email.strip() or None,
                    contact_phone=req.phone.strip() or None, open311_client_id=client.id,
                    note=req.address_string.strip() or None)
    petition = intake.register(session, runtime, Actor(f"open311:{client.name}", "open311"), enterprise, sub,
                               source=source, allow_duplicate=True)
    client.last_used_at = utcnow()
    return petition


def _title(description: str) -> str:
    words = description.strip().split()
    title = " ".join(words[:20])
    return title if len(title) <= 200 else title[:200]


def _iso(moment: dt.datetime | dt.date | None, end_of_day: bool = False) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time(17, 0) if end_of_day else dt.time(0, 0), HANOI)
    return moment.astimezone(HANOI).isoformat(timespec="seconds")


def is_closed(petition: Petition) -> bool:
    """Tell whether a petition counts as `closed` in Open311."""
    return petition.closed_at is not None or petition.status in CLOSED_STATUSES


def request_view(session: Session, petition: Petition, lang: str = "vi") -> dict[str, Any]:
    """Return the public Open311 fields of a petition."""
    ref = get_reference()
    instance = session.get(ProcessInstance, petition.instance_id) if petition.instance_id else None
    code = petition.category or petition.category_hint
    category = ref.categories.get(code or "")
    unit = ref.units.get(petition.lead_unit or "")
    zone = ref.zones.get(petition.zone)
    expected = petition.due_date or (None if is_closed(petition) else intake.expected_answer_date(session, petition))
    status_label = ref.statuses.get(petition.status)
    return {
        "service_request_id": petition.tracking_code,
        "status": "closed" if is_closed(petition) else "open",
        "status_notes": (STATUS_NAMES_VI.get(petition.status) if lang == "vi" else
                         (status_label.name_en if status_label else petition.status)),
        "service_name": (category.name_vi if lang == "vi" else category.name_en) if category else None,
        "service_code": code,
        "agency_responsible": (unit.name_vi if lang == "vi" else unit.name_en) if unit else None,
        "service_notice": None,
        "requested_datetime": _iso(petition.received_at),
        "updated_datetime": _iso(instance.updated_at if instance else petition.received_at),
        "expected_datetime": _iso(expected, end_of_day=True),
        "address": (zone.name_vi if lang == "vi" else zone.name_en) if zone else None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def get_request(session: Session, request_id: str, lang: str = "vi") -> dict[str, Any]:
    """Return one request; raise NotFound for unknown codes and for denunciations."""
    petition = petitions.get(session, request_id)
    if petitions.is_restricted(petition):
        raise NotFound("no petition has this tracking code")
    return request_view(session, petition, lang)


@dataclass(frozen=True)
class RequestFilter:
    """The GET requests query: ids, service codes, open/closed, a window of requested times."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None


def find_requests(session: Session, flt: RequestFilter, lang: str = "vi") -> list[dict[str, Any]]:
    """Return requests matching the filter, newest first (by default the last 90 days, at most 1000)."""
    query = select(Petition).where(not_restricted()).order_by(Petition.received_at.desc()).limit(MAX_RESULTS)
    if flt.ids:
        query = query.where(Petition.tracking_code.in_(flt.ids))
    else:
        end = flt.end or utcnow()
        query = query.where(Petition.received_at >= (flt.start or end - DEFAULT_WINDOW), Petition.received_at <= end)
    if flt.service_codes:
        query = query.where(or_(Petition.category.in_(flt.service_codes),
                                Petition.category.is_(None) & Petition.category_hint.in_(flt.service_codes)))
    wanted = set(flt.statuses) & {"open", "closed"}
    closed = or_(Petition.closed_at.is_not(None), Petition.status.in_(CLOSED_STATUSES))
    if wanted == {"closed"}:
        query = query.where(closed)
    elif wanted == {"open"}:
        query = query.where(~closed)
    return [request_view(session, p, lang) for p in session.scalars(query)]
