"""Who is told what, and when: in-app notifications and e-mails (through the outbox) in Vietnamese.

Rules fire from the engine's hooks inside the step's transaction, so a notification exists exactly when the
step committed. Task rules react to the bpmn id of a created user task; element rules react to the BPMN
property `notify` (reminder, overdue, extension) of an element the engine ran, never to its id. Every
notification and e-mail has a dedupe key `kind:task-or-element:user`, so a rule that runs twice writes once.

| Trigger                         | Kind                  | Recipients                                           |
|---------------------------------|-----------------------|------------------------------------------------------|
| task `assign` created           | assignment            | Board leaders                                        |
| task `handle` created           | assignment            | users of the lead unit                               |
| task `coordinate` created       | coordination_request  | liaison users of that agency                         |
| task `supply_info` created      | information_request   | the enterprise's users (+ its contact e-mail)        |
| task `confirm` created          | answer_sent           | the enterprise's users (+ its contact e-mail)        |
| element with notify=reminder    | reminder              | whoever may act on the watched open task(s)          |
| element with notify=overdue     | overdue               | Board leaders + whoever may act on the watched tasks |
| element with notify=extension   | extension             | the enterprise's users (+ its contact e-mail)        |

Watched tasks of an element: the instance's open tasks whose bpmn id is the element's `notifyTask` property,
or all its open tasks when the property is absent.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.orm import Session

from engine import outbox
from engine.db import insert_unless_present, transaction_memo, utcnow
from engine.errors import NotFound
from engine.models import HumanTask, ProcessInstance
from engine.task_rows import open_task_rows
from workflows.models import Enterprise, Notification, User

FOOTER = ("--\nThư tự động của Hệ thống tiếp nhận, xử lý phản ánh, kiến nghị của doanh nghiệp - Ban Quản lý các "
          "khu công nghệ cao và khu công nghiệp thành phố Hà Nội. Vui lòng không trả lời thư này.")


@dataclass(frozen=True)
class Context:
    """What a message may mention: the petition, the task and its due date, the process data."""

    code: str
    title: str
    enterprise: str
    task: str
    due: dt.date | None
    data: Mapping[str, Any]

    @property
    def due_vn(self) -> str:
        """Return the due date as dd/mm/yyyy ('' when unknown)."""
        return self.due.strftime("%d/%m/%Y") if self.due else ""


@dataclass(frozen=True)
class Message:
    """A composed message: its title (also the e-mail subject) and body."""

    title: str
    body: str


def _lines(*lines: str | None) -> str:
    return "\n".join(line for line in lines if line)


def _due_line(label: str, ctx: Context) -> str | None:
    return f"{label}: {ctx.due_vn}." if ctx.due else None


def _petition(ctx: Context, lead: str = "kiến nghị") -> str:
    owner = f" của {ctx.enterprise}" if ctx.enterprise else ""
    return f"{lead} {ctx.code} «{ctx.title}»{owner}"


def _to_leader(ctx: Context) -> Message:
    return Message(f"Kiến nghị {ctx.code} chờ Lãnh đạo Ban giao xử lý", _lines(
        f"{_petition(ctx, 'Kiến nghị')} đã được phân loại, chờ Lãnh đạo Ban giao đơn vị chủ trì và thời hạn xử lý.",
        f"Công việc: {ctx.task}.", _due_line("Hạn giao xử lý", ctx)))


def _to_lead_unit(ctx: Context) -> Message:
    return Message(f"Giao xử lý kiến nghị {ctx.code}", _lines(
        f"Đơn vị được giao chủ trì xử lý {_petition(ctx)}.",
        f"Công việc: {ctx.task}.", _due_line("Hạn xử lý", ctx)))


def _coordination(ctx: Context) -> Message:
    return Message(f"Đề nghị phối hợp xử lý kiến nghị {ctx.code}", _lines(
        f"Ban Quản lý đề nghị quý cơ quan phối hợp, có ý kiến đối với {_petition(ctx)}.",
        f"Công việc: {ctx.task}.", _due_line("Hạn trả lời", ctx)))


def _information(ctx: Context) -> Message:
    request = ctx.data.get("info_request")
    return Message(f"Đề nghị bổ sung thông tin cho kiến nghị {ctx.code}", _lines(
        f"Ban Quản lý đề nghị doanh nghiệp bổ sung thông tin cho kiến nghị {ctx.code} «{ctx.title}».",
        f"Nội dung cần bổ sung: {request}" if request else None, _due_line("Hạn bổ sung", ctx)))


def _answer(ctx: Context) -> Message:
    number, day = ctx.data.get("answer_document_no"), _date(ctx.data.get("answer_date"))
    document = "".join([f" số {number}" if number else "", f" ngày {day:%d/%m/%Y}" if day else ""])
    answer = ctx.data.get("answer_text")
    return Message(f"Kiến nghị {ctx.code} đã có văn bản trả lời", _lines(
        f"Ban Quản lý đã gửi văn bản trả lời{document} đối với kiến nghị {ctx.code} «{ctx.title}».",
        f"Nội dung trả lời: {answer}" if answer else None,
        "Đề nghị doanh nghiệp đánh giá mức độ hài lòng về kết quả giải quyết"
        + (f" trước ngày {ctx.due_vn}." if ctx.due else ".")))


def _reminder(ctx: Context) -> Message:
    return Message(f"Nhắc hạn: kiến nghị {ctx.code} sắp đến hạn xử lý", _lines(
        f"Công việc «{ctx.task}» của {_petition(ctx)} sắp đến hạn.", _due_line("Hạn xử lý", ctx)))


def _overdue(ctx: Context) -> Message:
    due = f" (hạn {ctx.due_vn})" if ctx.due else ""
    return Message(f"Quá hạn: kiến nghị {ctx.code}", _lines(
        f"Công việc «{ctx.task}» của {_petition(ctx)} đã quá hạn xử lý{due}.",
        "Đề nghị khẩn trương xử lý; Lãnh đạo Ban đã được báo cáo."))


def _extension(ctx: Context) -> Message:
    reason = ctx.data.get("extension_reason")
    return Message(f"Gia hạn giải quyết kiến nghị {ctx.code}", _lines(
        f"Ban Quản lý thành thật xin lỗi doanh nghiệp vì chưa thể giải quyết kiến nghị {ctx.code} «{ctx.title}» "
        "đúng thời hạn.",
        f"Thời hạn giải quyết được gia hạn đến ngày {ctx.due_vn}." if ctx.due else None,
        f"Lý do: {reason}" if reason else None))


Composer = Callable[[Context], Message]
# bpmn id of a created user task -> (kind, message)
TASK_RULES: dict[str, tuple[str, Composer]] = {
    "assign": ("assignment", _to_leader),
    "handle": ("assignment", _to_lead_unit),
    "coordinate": ("coordination_request", _coordination),
    "supply_info": ("information_request", _information),
    "confirm": ("answer_sent", _answer),
}
# value of the `notify` property of an element the engine ran -> message
ELEMENT_RULES: dict[str, Composer] = {"reminder": _reminder, "overdue": _overdue, "extension": _extension}
KINDS = ("assignment", "coordination_request", "information_request", "answer_sent", "reminder", "overdue",
         "extension")


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _context(instance: ProcessInstance, data: Mapping[str, Any], task: str, due: dt.date | None) -> Context:
    # Titles are user input: one line, so they can head an e-mail.
    title = " ".join(str(data.get("title") or "").split())
    return Context(code=str(data.get("tracking_code") or instance.business_key), title=title,
                   enterprise=str(data.get("enterprise_name") or ""), task=task, due=due, data=data)


# ---- recipients -------------------------------------------------------------------------------------------
_RECIPIENTS = "workflows.notifications.recipients"


def users_with_role(session: Session, role: str, scope_kind: str | None = None,
                    scope_value: str | None = None) -> list[User]:
    """Return the active users holding `role` within the scope (unit, agency or enterprise tax code).

    Remembered for the rest of the transaction: the timer sweep fires a batch of reminders in one, and a
    morning's reminders mostly go to the same units.
    """
    cached = transaction_memo(session, _RECIPIENTS)
    key = (role, scope_kind, scope_value)
    if key not in cached:
        cached[key] = _users_with_role(session, role, scope_kind, scope_value)
    return list(cached[key])


def _users_with_role(session: Session, role: str, scope_kind: str | None, scope_value: str | None) -> list[User]:
    # `roles` is a JSON list on both backends; its text holds each code in quotes.
    query = select(User).where(User.active.is_(True), cast(User.roles, String).like(f'%"{role}"%'))
    if scope_kind == "unit":
        query = query.where(User.unit_code == scope_value)
    elif scope_kind == "agency":
        query = query.where(User.agency_code == scope_value)
    elif scope_kind == "enterprise":
        query = query.join(Enterprise, Enterprise.id == User.enterprise_id).where(Enterprise.tax_code == scope_value)
    elif scope_kind is not None:
        return []
    with session.no_autoflush:  # a step's pending rows never change who holds a role: it flushes once, at its end
        return [user for user in session.scalars(query.order_by(User.id)) if role in user.roles]


def _task_users(session: Session, row: HumanTask) -> list[User]:
    return users_with_role(session, row.role, row.scope_kind, row.scope_value)


def _enterprise_contact(session: Session, tax_code: str | None) -> Enterprise | None:
    if not tax_code:
        return None
    with session.no_autoflush:
        return session.scalar(select(Enterprise).where(Enterprise.tax_code == tax_code))


# ---- writing ----------------------------------------------------------------------------------------------
_insert = insert_unless_present(Notification, "dedupe_key")  # unless this notification was already written


def petition_link(code: str) -> str | None:
    """The petition's page on the public address of the app (PETITIONS_PUBLIC_URL), or None when unset.

    The same path serves every role: officers see their view, the enterprise its own (after logging in).
    """
    base = os.environ.get("PETITIONS_PUBLIC_URL", "").strip().rstrip("/")
    return f"{base}/petitions/{code}" if base else None


def _email_body(greeting: str, text: Message, code: str) -> str:
    link = petition_link(code)
    return _lines(f"Kính gửi {greeting},", "", text.body, "",
                  f"Mã số kiến nghị: {code} (dùng để tra cứu tình trạng giải quyết).",
                  f"Xem và xử lý tại: {link}" if link else None, "", FOOTER)


def notify(session: Session, kind: str, subject: str, ctx: Context, text: Message, users: Iterable[User],
           contact: Enterprise | None = None) -> int:
    """Write an in-app notification per user and an e-mail per address; return how many were new."""
    written, addresses = 0, set()
    for user in users:
        key = f"{kind}:{subject}:{user.id}"
        row = {"user_id": user.id, "tracking_code": ctx.code, "kind": kind, "title": text.title, "body": text.body,
               "dedupe_key": key, "created_at": utcnow()}
        # On the session's connection: a Core insert that needs no flush of the step's pending changes.
        written += session.connection().execute(_insert(session), row).scalar_one_or_none() is not None
        if user.email:
            addresses.add(user.email.strip().lower())
            outbox.enqueue(session, key, user.email.strip(), text.title,
                           _email_body(user.full_name or user.username, text, ctx.code))
    if contact is not None and contact.contact_email and contact.contact_email.strip().lower() not in addresses:
        outbox.enqueue(session, f"{kind}:{subject}:enterprise-{contact.id}", contact.contact_email.strip(),
                       text.title, _email_body(contact.contact_name or contact.name, text, ctx.code))
    return written


# ---- hooks ------------------------------------------------------------------------------------------------
def on_task_created(session: Session, instance: ProcessInstance, row: HumanTask, data: Mapping[str, Any]) -> None:
    """Tell whoever must act on a newly created task (engine hook `task_created`)."""
    rule = TASK_RULES.get(row.bpmn_id)
    if rule is None:
        return
    kind, compose = rule
    ctx = _context(instance, data, row.name, row.due_date)
    contact = _enterprise_contact(session, row.scope_value) if row.scope_kind == "enterprise" else None
    notify(session, kind, row.id, ctx, compose(ctx), _task_users(session, row), contact)


def _watched(session: Session, instance: ProcessInstance, task_id: str | None) -> list[HumanTask]:
    # The step's own read of the instance's open rows (the engine's projection uses the same one).
    return [row for row in open_task_rows(session, instance.id) if not task_id or row.bpmn_id == task_id]


def on_element_ran(session: Session, instance: ProcessInstance, bpmn_id: str, props: Mapping[str, str],
                   data: Mapping[str, Any]) -> None:
    """Send reminders, overdue notices and extension notices for elements with a `notify` property."""
    kind = props.get("notify", "")
    compose = ELEMENT_RULES.get(kind)
    if compose is None:
        return
    # An element may run in many steps of one instance (and in every instance): the step's version tells them apart.
    subject = f"{instance.business_key}/{bpmn_id}/{instance.version}"
    if kind == "extension":
        ctx = _context(instance, data, "", _date(data.get("due_date")))
        contact = _enterprise_contact(session, data.get("enterprise_tax_code"))
        users = users_with_role(session, "enterprise", "enterprise", contact.tax_code) if contact else []
        notify(session, kind, subject, ctx, compose(ctx), users, contact)
        return
    recipients: dict[int, tuple[User, HumanTask | None]] = {}
    for row in _watched(session, instance, props.get("notifyTask")):
        for user in _task_users(session, row):
            recipients.setdefault(user.id, (user, row))
    if kind == "overdue":
        for user in users_with_role(session, "leader"):
            recipients.setdefault(user.id, (user, None))
    first = next(iter(recipients.values()), (None, None))[1]
    for user, row in recipients.values():
        row = row or first
        ctx = _context(instance, data, row.name if row else "", row.due_date if row else _date(data.get("due_date")))
        notify(session, kind, subject, ctx, compose(ctx), [user])


# ---- reading (the notifications page) ---------------------------------------------------------------------
def for_user(session: Session, user: User, limit: int = 200) -> list[Notification]:
    """Return the user's own notifications, newest first."""
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ))


def unread_count(session: Session, user: User) -> int:
    """Return how many of the user's notifications are unread."""
    return session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read; raise NotFound for anyone else's (no hint that it exists)."""
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound("notification not found")
    if note.read_at is None:
        note.read_at = utcnow()
    session.flush()
    return note


def mark_all_read(session: Session, user: User) -> int:
    """Mark every unread notification of the user read; return how many."""
    result = session.execute(
        update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0
