"""Dialogue conferences: the record, quick registration of its petitions (grid or XLSX/CSV) and follow-up.

Import policy: every row is checked first and the officer sees a report with each bad row, its line in the
file and the reasons; after confirmation the good rows are registered and the bad ones stay in the report
(nothing is dropped silently). Each row's submission key is derived from the conference and the row's
content, so importing the corrected file again registers only the rows that were missing.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from engine.models import AuditEvent
from engine.runtime import Runtime
from workflows import intake
from workflows.enterprises import email_problem, normalize_tax_code, tax_code_problem
from workflows.intake import Source, normalize_text
from workflows.models import Conference, ConferenceEnterprise, Enterprise, Petition, PetitionSource
from workflows.petitions import HANOI, MAX_CONTENT, MAX_TITLE, Submission
from workflows.reference import STATUS_NAMES_VI, get_reference
from workflows.users import get_or_create_enterprise

CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-]{2,39}$")
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_ROWS = 500
FIELDS = ("tax_code", "enterprise_name", "zone", "title", "content", "category", "contact_name", "contact_email",
          "contact_phone")
# Column headers accepted in a file, compared after normalize_text (no diacritics, lower case).
HEADERS = {
    "tax_code": ("tax code", "tax_code", "ma so doanh nghiep", "ma so thue", "mst", "ma doanh nghiep"),
    "enterprise_name": ("enterprise", "enterprise name", "enterprise_name", "ten doanh nghiep", "doanh nghiep"),
    "zone": ("zone", "kcn", "khu", "khu cong nghiep", "khu cong nghe cao", "kcn kcnc"),
    "title": ("title", "tieu de", "ten kien nghi", "trich yeu"),
    "content": ("content", "noi dung", "noi dung kien nghi"),
    "category": ("category", "linh vuc"),
    "contact_name": ("contact", "contact name", "contact_name", "nguoi lien he"),
    "contact_email": ("email", "e mail", "contact email", "contact_email", "thu dien tu"),
    "contact_phone": ("phone", "contact phone", "contact_phone", "dien thoai", "so dien thoai"),
}
REQUIRED_HEADERS = ("tax_code", "zone", "title", "content")

BAD_FILE = "The file cannot be read: send an XLSX or CSV file with a header row."
MISSING_COLUMNS = "The file lacks the columns: tax code, zone, title and content are required."
TOO_MANY_ROWS = "The file has too many rows (at most 500)."
FILE_TOO_LARGE = "The file is too large (at most 5 MB)."


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
    counts = dict(session.execute(
        select(PetitionSource.conference_id, func.count()).where(PetitionSource.conference_id.is_not(None))
        .group_by(PetitionSource.conference_id)
    ).tuples().all())
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


# ---- rows: from a grid form or a file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One petition to register: `line` is its line in the file (or its number in the grid)."""

    line: int
    tax_code: str = ""
    enterprise_name: str = ""
    zone: str = ""
    title: str = ""
    content: str = ""
    category: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""

    def is_blank(self) -> bool:
        """Tell whether the row has no value at all (a blank grid or file line is skipped)."""
        return not any(getattr(self, name) for name in FIELDS)


@dataclass(frozen=True)
class RowProblem:
    """Why a row cannot be registered: messages are fixed texts with optional parameters."""

    row: Row
    messages: tuple[tuple[str, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class RowCheck:
    """The result of checking rows: the good ones (normalized) and each bad one with its reasons."""

    good: list[Row] = field(default_factory=list)
    bad: list[RowProblem] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Return how many non-blank rows were read."""
        return len(self.good) + len(self.bad)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def row_from(line: int, values: Mapping[str, Any]) -> Row:
    """Build a row from field values (missing fields are empty)."""
    return Row(line, **{name: _cell(values.get(name)) for name in FIELDS})


def _header_map(header: Sequence[Any]) -> dict[int, str]:
    lookup = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
    mapping = {}
    for index, title in enumerate(header):
        name = lookup.get(normalize_text(_cell(title)))
        if name and name not in mapping.values():
            mapping[index] = name
    return mapping


def _table(filename: str, data: bytes) -> Iterable[tuple[int, Sequence[Any]]]:
    if filename.lower().endswith(".xlsx"):
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds of errors on a damaged file
            raise ValidationFailed({"file": BAD_FILE}) from exc
        return ((i, row) for i, row in enumerate(sheet.iter_rows(values_only=True), start=1))
    if filename.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed({"file": BAD_FILE}) from exc
        delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
        return enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
    raise ValidationFailed({"file": BAD_FILE})


def read_rows(filename: str, data: bytes) -> list[Row]:
    """Read the rows of an XLSX or CSV file with a header row; raise ValidationFailed when unreadable."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed({"file": FILE_TOO_LARGE})
    rows: list[Row] = []
    mapping: dict[int, str] | None = None
    for line, values in _table(filename, data):
        if mapping is None:
            if not any(_cell(v) for v in values):
                continue
            mapping = _header_map(values)
            if any(name not in mapping.values() for name in REQUIRED_HEADERS):
                raise ValidationFailed({"file": MISSING_COLUMNS})
            continue
        row = row_from(line, {name: values[i] for i, name in mapping.items() if i < len(values)})
        if not row.is_blank():
            rows.append(row)
        if len(rows) > MAX_ROWS:
            raise ValidationFailed({"file": TOO_MANY_ROWS})
    if mapping is None:
        raise ValidationFailed({"file": BAD_FILE})
    return rows


def _code_of(value: str, kind: str) -> str | None:
    # A cell may hold the code (TL) or the Vietnamese or English name (KCN Thăng Long).
    entries = getattr(get_reference(), kind)
    if value.upper() in entries:
        return value.upper()
    wanted = normalize_text(value)
    for code, entry in entries.items():
        if wanted in (normalize_text(entry.name_vi), normalize_text(entry.name_en)):
            return code
    return None


def _row_problems(session: Session, row: Row, named: set[str]) -> tuple[Row, list[tuple[str, Mapping[str, Any]]]]:
    problems: list[tuple[str, Mapping[str, Any]]] = []
    tax_code = normalize_tax_code(row.tax_code)
    zone = _code_of(row.zone, "zones") if row.zone else None
    category = _code_of(row.category, "categories") if row.category else ""
    if tax_code_problem(tax_code):
        problems.append(("The tax code must have 10 or 13 digits.", {}))
    elif tax_code not in named and session.scalar(
            select(Enterprise.id).where(Enterprise.tax_code == tax_code)) is None:
        problems.append(("The enterprise name is required for a tax code not yet known.", {}))
    if zone is None:
        problems.append(("Unknown zone.", {}))
    if not row.title:
        problems.append(("The title is required.", {}))
    elif len(row.title) > MAX_TITLE:
        problems.append(("The title is too long (at most 500 characters).", {}))
    if not row.content:
        problems.append(("The content is required.", {}))
    elif len(row.content) > MAX_CONTENT:
        problems.append(("The content is too long.", {}))
    if category is None:
        problems.append(("Unknown category.", {}))
    if row.contact_email and email_problem(row.contact_email):
        problems.append(("The e-mail address is not valid.", {}))
    fixed = Row(row.line, tax_code, row.enterprise_name, zone or row.zone, row.title, row.content, category or "",
                row.contact_name, row.contact_email, row.contact_phone)
    return fixed, problems


def check_rows(session: Session, rows: Iterable[Row]) -> RowCheck:
    """Check every non-blank row; a row repeating an earlier one (same tax code and title) is bad too."""
    result = RowCheck()
    rows = [row for row in rows if not row.is_blank()]
    named = {normalize_tax_code(row.tax_code) for row in rows if row.enterprise_name}
    seen: dict[tuple[str, str], int] = {}
    for raw in rows:
        row, problems = _row_problems(session, raw, named)
        key = (row.tax_code, normalize_text(row.title))
        if row.title and key in seen:
            problems.append(("The same petition appears twice (see line %(line)s).", {"line": seen[key]}))
        seen.setdefault(key, row.line)
        if problems:
            result.bad.append(RowProblem(row, tuple(problems)))
        else:
            result.good.append(row)
    return result


def row_key(conference: Conference, row: Row) -> str:
    """Return the submission key of a row: the same row of the same conference is registered once."""
    digest = hashlib.sha256("\x1f".join((conference.code, row.tax_code, normalize_text(row.title),
                                         normalize_text(row.content))).encode()).hexdigest()
    return f"conf-{digest[:48]}"


def _received_at(conference: Conference) -> dt.datetime:
    held = dt.datetime.combine(conference.held_on, dt.time(9, 0), HANOI)
    return min(held, dt.datetime.now(HANOI))


def register_rows(session: Session, runtime: Runtime, actor: Actor, conference: Conference,
                  rows: Sequence[Row], is_demo: bool = False) -> list[Petition]:
    """Register checked rows as HOI_NGHI petitions linked to the conference (the caller commits)."""
    registered = []
    for row in rows:
        enterprise = get_or_create_enterprise(session, row.tax_code, row.enterprise_name or None, row.zone,
                                              contact_name=row.contact_name or None,
                                              contact_email=row.contact_email or None,
                                              contact_phone=row.contact_phone or None)
        sub = Submission(title=row.title, content=row.content, zone=row.zone, channel="HOI_NGHI",
                         category_hint=row.category or None, submission_key=row_key(conference, row))
        source = Source(conference_code=conference.code, contact_name=row.contact_name or None,
                        contact_email=row.contact_email or None, contact_phone=row.contact_phone or None)
        registered.append(intake.register(session, runtime, actor, enterprise, sub, source=source,
                                          allow_duplicate=True, received_at=_received_at(conference),
                                          is_demo=is_demo))
        add_participant(session, conference, enterprise)
    return registered


# ---- a file waiting for confirmation ----------------------------------------------------------------------


def stage_file(base: Path, data: bytes) -> str:
    """Keep an uploaded import file until the officer confirms; return its random token."""
    token = secrets.token_hex(16)
    folder = base / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / token).write_bytes(data)
    return token


def staged_file(base: Path, token: str) -> bytes:
    """Return a staged file's bytes; raise NotFound for an unknown or malformed token."""
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        raise NotFound("the import file has expired; upload it again")
    path = base / "imports" / token
    if not path.exists():
        raise NotFound("the import file has expired; upload it again")
    return path.read_bytes()


def drop_staged(base: Path, token: str) -> None:
    """Delete a staged file once its rows are registered."""
    if re.fullmatch(r"[0-9a-f]{32}", token or ""):
        (base / "imports" / token).unlink(missing_ok=True)


# ---- follow-up report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpLine:
    """One petition of the follow-up report."""

    petition: Petition
    enterprise: Enterprise
    result_type: str | None
    answer_document_no: str | None
    answer_date: str | None
    overdue: bool


@dataclass(frozen=True)
class FollowUp:
    """The report the Board publishes after a conference: each petition, then the totals."""

    conference: Conference
    lines: list[FollowUpLine]
    totals: dict[str, int]


def _answers(session: Session, codes: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if not codes:
        return found
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.business_key.in_(codes), AuditEvent.action == "TASK_COMPLETED",
                                 AuditEvent.bpmn_id.in_(("draft_answer", "send_answer")))
        .order_by(AuditEvent.chain_index)
    )
    for event in events:
        found.setdefault(event.business_key or "", {}).update(event.data or {})
    return found


def follow_up(session: Session, conference: Conference, today: dt.date | None = None) -> FollowUp:
    """Return the follow-up report of a conference: lead unit, deadline, status and result per petition."""
    today = today or dt.datetime.now(HANOI).date()
    petitions = petitions_of(session, conference)
    answers = _answers(session, [p.tracking_code for p in petitions])
    lines = []
    for p in petitions:
        answer = answers.get(p.tracking_code, {})
        sent = answer.get("answer_document_no")
        lines.append(FollowUpLine(
            p, session.get(Enterprise, p.enterprise_id), answer.get("result_type") if sent else None, sent,
            answer.get("answer_date") if sent else None,
            overdue=p.closed_at is None and p.due_date is not None and p.due_date < today and not sent,
        ))
    totals = {
        "total": len(lines),
        "answered": sum(1 for line in lines if line.answer_document_no),
        "in_progress": sum(1 for line in lines if line.petition.closed_at is None and not line.answer_document_no),
        "overdue": sum(1 for line in lines if line.overdue),
        "closed": sum(1 for line in lines if line.petition.closed_at is not None),
    }
    return FollowUp(conference, lines, totals)


TOTAL_LABELS_VI = {
    "total": "Tổng số kiến nghị",
    "answered": "Đã trả lời",
    "in_progress": "Đang xử lý",
    "overdue": "Quá hạn",
    "closed": "Đã đóng",
}


def _vi(kind: str, code: str | None) -> str:
    if not code:
        return ""
    entry = getattr(get_reference(), kind).get(code)
    return entry.name_vi if entry else code


def follow_up_xlsx(report: FollowUp) -> bytes:
    """Return the follow-up report as an XLSX workbook (Vietnamese, one row per petition, then totals)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Theo dõi"
    conf = report.conference
    sheet.append([f"BÁO CÁO THEO DÕI KẾT QUẢ XỬ LÝ KIẾN NGHỊ - {conf.title}"])
    sheet.append([f"Mã hội nghị: {conf.code}", f"Ngày: {conf.held_on:%d/%m/%Y}"])
    sheet.append([])
    header = ["STT", "Mã kiến nghị", "Doanh nghiệp", "Mã số doanh nghiệp", "Khu", "Nội dung kiến nghị", "Lĩnh vực",
              "Đơn vị chủ trì", "Hạn xử lý", "Trạng thái", "Kết quả", "Văn bản trả lời", "Ngày trả lời",
              "Đánh giá"]
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for i, line in enumerate(report.lines, start=1):
        p = line.petition
        sheet.append([
            i, p.tracking_code, line.enterprise.name, line.enterprise.tax_code, _vi("zones", p.zone), p.title,
            _vi("categories", p.category or p.category_hint), _vi("units", p.lead_unit),
            p.due_date.strftime("%d/%m/%Y") if p.due_date else "", STATUS_NAMES_VI.get(p.status, p.status)
            + (" (quá hạn)" if line.overdue else ""),
            _vi("result_types", line.result_type), line.answer_document_no or "",
            _format_date(line.answer_date), _vi("satisfaction_levels", (p.rating or "").upper()),
        ])
    sheet.append([])
    sheet.append(["TỔNG HỢP"])
    sheet[sheet.max_row][0].font = Font(bold=True)
    for key, label in TOTAL_LABELS_VI.items():
        sheet.append([label, report.totals[key]])
    for column, width in zip("ABCDEFGHIJKLMN", (5, 18, 40, 16, 22, 60, 22, 28, 12, 18, 30, 18, 12, 16), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _format_date(value: str | None) -> str:
    try:
        return dt.date.fromisoformat(str(value)[:10]).strftime("%d/%m/%Y") if value else ""
    except ValueError:
        return str(value)


# ---- demo data ------------------------------------------------------------------------------------------


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
