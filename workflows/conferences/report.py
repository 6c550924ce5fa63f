"""Build a conference's follow-up report and export it as a Vietnamese XLSX workbook."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import AuditEvent
from workflows.conferences.records import petitions_of
from workflows.models import Conference, Enterprise, Petition
from workflows.petitions import HANOI
from workflows.reference import STATUS_NAMES_VI, get_reference


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
