"""Notifications: in-app rows per role, e-mails through the outbox to a real SMTP server on loopback.

The SMTP server is aiosmtpd in a thread of the test process; child processes that are SIGKILLed at the
worst moments (after the step's commit, after a send but before it is marked) show that every message
still arrives, and that a repeat carries the same Message-ID so the receiver can drop it.
"""
from __future__ import annotations

import datetime as dt
import email
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import outbox
from engine.db import utcnow
from engine.models import OutboxMessage, ProcessInstance
from engine.outbox import SmtpSender, deliver_pending
from engine.timers import fire_due_timers
from tests.conftest import TEST_PASSWORD
from tests.integration.support import Lifecycle
from webapp.cli import deliver_outbox
from workflows import notifications
from workflows.models import Enterprise, Notification, User
from workflows.petitions import HANOI

ROOT = Path(__file__).resolve().parents[2]
LATER = dt.timedelta(hours=2)  # past the claim lease and every back-off


# ---- the SMTP server ----------------------------------------------------------------------------------------
class Sink:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A running aiosmtpd on 127.0.0.1 and what it received."""

    def __init__(self, port: int) -> None:
        self.port, self.sink = port, Sink()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        with self.sink.lock:
            return [message for _, message in self.sink.received]

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)

    def by_recipient(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        with self.sink.lock:
            for rcpts, message in self.sink.received:
                for rcpt in rcpts:
                    found.setdefault(rcpt, []).append(str(message["Subject"]))
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port; the app's SMTP settings point at it."""
    server = SmtpServer(free_port()).start()
    monkeypatch.setenv("PETITIONS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PETITIONS_SMTP_PORT", str(server.port))
    monkeypatch.setenv("PETITIONS_MAIL_FROM", "kiennghi@bqlkcn.hanoi.test")
    monkeypatch.delenv("PETITIONS_SMTP_STARTTLS", raising=False)
    monkeypatch.delenv("PETITIONS_SMTP_USER", raising=False)
    yield server
    server.stop()


# ---- helpers ------------------------------------------------------------------------------------------------
@pytest.fixture
def life(db_kind, session, runtime, make_user) -> Lifecycle:  # noqa: ARG001 - db_kind parametrizes the backend
    """One user per role, each with an e-mail address, and an enterprise with a contact address."""
    driver = Lifecycle(session, runtime, make_user)
    for user in session.scalars(select(User)):
        user.email = f"{user.username}@example.vn"
    session.get(Enterprise, driver.enterprise_user.enterprise_id).contact_email = "lienhe@congtya.example.vn"
    session.commit()
    return driver


def release(session: Session) -> None:
    """End the test session's transaction: on SQLite it would hold the only write lock."""
    session.commit()


def notes_of(session: Session, user: User) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id)
                                .order_by(Notification.id)))


def outbox_rows(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)
                                .execution_options(populate_existing=True)))


def run_child(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


# ---- rules --------------------------------------------------------------------------------------------------
def test_a_petition_notifies_each_role_once_and_every_mail_arrives_once(life: Lifecycle, app, smtp,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("PETITIONS_PUBLIC_URL", "https://kiennghi.bqlkcn.hanoi.test/")
    s = life.session
    petition = life.submit(title="Mất điện kéo dài tại nhà xưởng")
    code = petition.tracking_code
    life.do(life.intake, petition, "register", register_decision="request_info", info_request="Bổ sung bản vẽ.")
    life.do(life.enterprise_user, petition, "supply_info", supplied_info="Đã gửi bản vẽ.")
    life.to_answer(petition, agencies=("EVNHN", "SCT"))
    life.answer_and_send(petition)

    kinds = {user.username: [n.kind for n in notes_of(s, user)] for user in s.scalars(select(User))}
    assert kinds == {
        "tn": [], "tnmt": [], "pm_cdt_ht": [], "dn2": [],
        "ld": ["assignment"], "qhxd": ["assignment"],
        "pm_evnhn": ["coordination_request"], "pm_sct": ["coordination_request"],
        "dn": ["information_request", "answer_sent"],
    }
    handle = notes_of(s, life.unit)[0]
    assert handle.title == f"Giao xử lý kiến nghị {code}" and handle.tracking_code == code
    assert "«Mất điện kéo dài tại nhà xưởng»" in handle.body and "Công việc: Xử lý." in handle.body
    assert f"Hạn xử lý: {petition.due_date:%d/%m/%Y}." in handle.body
    info, answer = notes_of(s, life.enterprise_user)
    assert info.title == f"Đề nghị bổ sung thông tin cho kiến nghị {code}" and "Bổ sung bản vẽ." in info.body
    assert answer.title == f"Kiến nghị {code} đã có văn bản trả lời"
    assert "số 12/BQL-QHXD ngày 02/02/2026" in answer.body and "đánh giá mức độ hài lòng" in answer.body

    rows = outbox_rows(s)
    assert len(rows) == 8  # 6 notifications to users with an address + 2 to the enterprise's contact address
    release(s)
    assert deliver_outbox(app) == 8
    assert deliver_outbox(app) == 0
    assert all(row.sent_at is not None and row.attempts == 1 for row in outbox_rows(s))
    ids = smtp.message_ids()
    assert len(ids) == 8 and set(ids.values()) == {1}
    assert smtp.by_recipient() == {
        "ld@example.vn": [f"Kiến nghị {code} chờ Lãnh đạo Ban giao xử lý"],
        "qhxd@example.vn": [f"Giao xử lý kiến nghị {code}"],
        "pm_evnhn@example.vn": [f"Đề nghị phối hợp xử lý kiến nghị {code}"],
        "pm_sct@example.vn": [f"Đề nghị phối hợp xử lý kiến nghị {code}"],
        "dn@example.vn": [f"Đề nghị bổ sung thông tin cho kiến nghị {code}", f"Kiến nghị {code} đã có văn bản trả lời"],
        "lienhe@congtya.example.vn": [f"Đề nghị bổ sung thông tin cho kiến nghị {code}",
                                      f"Kiến nghị {code} đã có văn bản trả lời"],
    }
    mail = next(m for m in smtp.messages if m["To"] == "pm_evnhn@example.vn")
    body = mail.get_content()
    assert body.startswith("Kính gửi pm_evnhn,") and "«Mất điện kéo dài tại nhà xưởng»" in body
    assert f"Xem và xử lý tại: https://kiennghi.bqlkcn.hanoi.test/petitions/{code}\n" in body
    assert mail["From"] == "kiennghi@bqlkcn.hanoi.test" and mail["Message-ID"].endswith("@bqlkcn.hanoi.test>")


def test_elements_with_a_notify_property_send_reminder_overdue_and_extension(life: Lifecycle) -> None:
    s = life.session
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN"], working_days=10)
    instance = s.get(ProcessInstance, petition.instance_id)
    data = {"tracking_code": petition.tracking_code, "title": petition.title, "enterprise_name": "Công ty TNHH A",
            "enterprise_tax_code": "0100000001", "due_date": "2026-03-20", "extension_reason": "Chờ ý kiến EVN."}
    for _ in range(2):  # a rule that runs twice in one step writes once
        notifications.on_element_ran(s, instance, "remind_handle", {"notify": "reminder", "notifyTask": "handle"}, data)
        notifications.on_element_ran(s, instance, "escalate_handle", {"notify": "overdue", "notifyTask": "handle"}, data)
        notifications.on_element_ran(s, instance, "grant_extension", {"notify": "extension"}, data)
        notifications.on_element_ran(s, instance, "some_script", {"status": "DANG_XU_LY"}, data)
    s.commit()
    unit_notes = {n.kind: n for n in notes_of(s, life.unit)}
    assert sorted(unit_notes) == ["assignment", "overdue", "reminder"]
    assert unit_notes["reminder"].title == f"Nhắc hạn: kiến nghị {petition.tracking_code} sắp đến hạn xử lý"
    assert f"Hạn xử lý: {petition.due_date:%d/%m/%Y}." in unit_notes["reminder"].body
    assert "«Xử lý»" in unit_notes["overdue"].body
    assert [n.kind for n in notes_of(s, life.leader)] == ["assignment", "overdue"]
    assert [n.kind for n in notes_of(s, life.agencies["EVNHN"])] == ["coordination_request"]
    extension = notes_of(s, life.enterprise_user)[-1]
    assert extension.kind == "extension" and "gia hạn đến ngày 20/03/2026" in extension.body
    assert "Lý do: Chờ ý kiến EVN." in extension.body
    keys = [row.dedupe_key for row in outbox_rows(s)]
    assert len(keys) == len(set(keys))
    assert sum(key.startswith("extension:") for key in keys) == 2  # the enterprise user and its contact address


def test_boundary_timers_of_the_model_remind_the_unit_and_escalate_to_the_leader(life: Lifecycle, app, smtp) -> None:
    s = life.session
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    due = petition.due_date
    release(s)
    after_deadline = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(10, 0), HANOI)
    with time_machine.travel(after_deadline, tick=True):
        assert fire_due_timers(app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]) >= 2
        assert deliver_outbox(app) >= 3
    code = petition.tracking_code
    unit = {n.kind: n for n in notes_of(s, life.unit)}
    assert sorted(unit) == ["assignment", "overdue", "reminder"]
    assert unit["reminder"].title == f"Nhắc hạn: kiến nghị {code} sắp đến hạn xử lý"
    assert f"Hạn xử lý: {due:%d/%m/%Y}." in unit["reminder"].body
    assert unit["overdue"].title == f"Quá hạn: kiến nghị {code}" and f"(hạn {due:%d/%m/%Y})" in unit["overdue"].body
    assert [n.kind for n in notes_of(s, life.leader)] == ["assignment", "overdue"]
    assert notes_of(s, life.other_unit) == []
    assert smtp.by_recipient()["qhxd@example.vn"][-2:] == [f"Nhắc hạn: kiến nghị {code} sắp đến hạn xử lý",
                                                            f"Quá hạn: kiến nghị {code}"]
    assert f"Quá hạn: kiến nghị {code}" in smtp.by_recipient()["ld@example.vn"]


# ---- the outbox ---------------------------------------------------------------------------------------------
def test_the_same_dedupe_key_is_stored_once(db_kind, session: Session) -> None:  # noqa: ARG001
    assert outbox.enqueue(session, "assignment:t1:7", "a@example.vn", "Giao xử lý", "Nội dung") is True
    assert outbox.enqueue(session, "assignment:t1:7", "a@example.vn", "Giao xử lý", "Nội dung khác") is False
    session.commit()
    assert outbox.enqueue(session, "assignment:t1:7", "b@example.vn", "Giao xử lý", "Lần ba") is False
    session.commit()
    rows = outbox_rows(session)
    assert [(r.dedupe_key, r.recipient, r.body_text) for r in rows] == [("assignment:t1:7", "a@example.vn", "Nội dung")]


CHILD_STEP = r"""
import os, signal, sys
from sqlalchemy import select
from engine.outbox import SmtpSender, deliver_pending
from engine.timers import fire_due_timers
from webapp import create_app
from workflows import tasks
from workflows.models import User

url, task_id = sys.argv[1], sys.argv[2]
app = create_app({"PETITIONS_DATABASE_URL": url})
with app.extensions["petitions.sessions"]() as session:
    leader = session.scalar(select(User).where(User.username == "ld"))
    tasks.complete(session, app.extensions["petitions.runtime"], leader, task_id,
                   {"lead_unit": "QHXD", "coordinating_agencies": ["EVNHN", "SCT"], "working_days": 10})
    session.commit()

class DiesBeforeSending(SmtpSender):
    def send(self, mail):
        os.kill(os.getpid(), signal.SIGKILL)

deliver_pending(app.extensions["petitions.sessions"], DiesBeforeSending.from_env())
"""


def test_mail_of_a_committed_step_is_sent_after_the_process_dies(life: Lifecycle, app, db_url, smtp) -> None:
    s = life.session
    petition = life.submit()
    life.to_assignment(petition)
    task_id = life.task_of(life.leader, petition, "assign")
    pending_before = len(outbox_rows(s))
    release(s)
    child = run_child(CHILD_STEP, db_url, task_id)
    assert child.returncode == -signal.SIGKILL, child.stderr
    rows = outbox_rows(s)
    new = sorted(r.recipient for r in rows[pending_before:])
    assert new == ["pm_evnhn@example.vn", "pm_sct@example.vn", "qhxd@example.vn"]
    assert all(r.sent_at is None for r in rows) and sum(r.attempts for r in rows) == 1  # one was claimed
    assert smtp.messages == []
    release(s)
    deliver_outbox(app)  # the two unclaimed go now; the claimed one waits for its lease to run out
    assert deliver_outbox(app, now=utcnow() + LATER) >= 1
    rows = outbox_rows(s)
    assert all(r.sent_at is not None for r in rows)
    ids = smtp.message_ids()
    assert len(ids) == len(rows) and set(ids.values()) == {1}
    assert set(new) <= set(smtp.by_recipient())


CHILD_DELIVERY = r"""
import os, signal, sys
from engine.db import make_engine, session_factory
from engine.outbox import SmtpSender, deliver_pending
from engine.timers import fire_due_timers

url, die_after = sys.argv[1], int(sys.argv[2])

class DiesAfterSending(SmtpSender):
    sent = 0
    def send(self, mail):
        super().send(mail)  # the server has accepted it (250 after DATA) ...
        self.sent += 1
        if self.sent == die_after:
            os.kill(os.getpid(), signal.SIGKILL)  # ... and the row is never marked sent

deliver_pending(session_factory(make_engine(url)), DiesAfterSending.from_env())
"""


def test_a_delivery_killed_between_send_and_mark_resends_with_the_same_message_id(
    db_kind, app, session: Session, db_url, smtp  # noqa: ARG001
) -> None:
    for n in range(5):
        outbox.enqueue(session, f"reminder:task-{n}:1", f"user{n}@example.vn", f"Nhắc hạn {n}", f"Thư số {n}")
    session.commit()
    child = run_child(CHILD_DELIVERY, db_url, "2")
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(smtp.messages) == 2
    assert [r.sent_at is not None for r in outbox_rows(session)] == [True, False, False, False, False]
    release(session)
    assert deliver_outbox(app) == 3  # the second row is still leased by the dead process
    assert deliver_outbox(app, now=utcnow() + LATER) == 1
    assert all(r.sent_at is not None for r in outbox_rows(session))
    ids = smtp.message_ids()
    assert len(smtp.messages) == 6 and len(ids) == 5
    repeated = [mid for mid, count in ids.items() if count == 2]
    assert len(repeated) == 1
    copies = [m for m in smtp.messages if m["Message-ID"] == repeated[0]]
    assert copies[0]["Subject"] == copies[1]["Subject"] == "Nhắc hạn 1"
    assert copies[0].get_content() == copies[1].get_content()
    # Dropping repeats by Message-ID at the receiver gives each message exactly once.
    assert sorted({m["Message-ID"]: str(m["Subject"]) for m in smtp.messages}.values()) == [
        f"Nhắc hạn {n}" for n in range(5)]


def test_a_server_that_is_down_leaves_mail_queued_and_it_goes_out_later(
    db_kind, app, session: Session, monkeypatch  # noqa: ARG001
) -> None:
    port = free_port()  # nothing listens here yet
    monkeypatch.setenv("PETITIONS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PETITIONS_SMTP_PORT", str(port))
    for n in range(3):
        outbox.enqueue(session, f"overdue:e{n}:1", f"ld{n}@example.vn", f"Quá hạn: kiến nghị {n}", "Đã quá hạn.")
    session.commit()
    started = utcnow()
    assert deliver_outbox(app) == 0
    rows = outbox_rows(session)
    assert [r.attempts for r in rows] == [1, 0, 0]  # the pass stops at the first refused connection
    assert "Connection refused" in (rows[0].last_error or "") or "Errno" in (rows[0].last_error or "")
    assert rows[0].next_attempt_at > started and all(r.sent_at is None for r in rows)
    release(session)
    assert deliver_outbox(app) == 0  # the first backs off; the second is tried and refused
    assert [r.attempts for r in outbox_rows(session)] == [1, 1, 0]
    release(session)
    server = SmtpServer(port).start()
    try:
        assert deliver_outbox(app, now=utcnow() + LATER) == 3
    finally:
        server.stop()
    rows = outbox_rows(session)
    assert all(r.sent_at is not None and r.last_error is None for r in rows)
    assert [r.attempts for r in rows] == [2, 2, 1]
    assert sorted(str(m["Subject"]) for m in server.messages) == [f"Quá hạn: kiến nghị {n}" for n in range(3)]


def test_a_mailbox_refused_for_good_is_given_up_and_the_others_go_out(app, session: Session, smtp) -> None:
    outbox.enqueue(session, "reminder:a:1", "nobody@example.vn", "Nhắc hạn", "Nội dung")
    outbox.enqueue(session, "reminder:a:2", "qhxd@example.vn", "Nhắc hạn", "Nội dung")
    session.commit()
    assert deliver_outbox(app) == 1
    assert deliver_outbox(app, now=utcnow() + LATER) == 0
    refused, delivered = outbox_rows(session)
    assert refused.sent_at is None and refused.next_attempt_at is None and refused.attempts == 1
    assert "No such mailbox" in (refused.last_error or "")
    assert delivered.sent_at is not None and outbox.pending_count(session) == 0
    assert smtp.by_recipient() == {"qhxd@example.vn": ["Nhắc hạn"]}


def test_without_an_smtp_host_mail_stays_queued_and_a_log_line_says_so(
    app, session: Session, monkeypatch, caplog
) -> None:
    monkeypatch.delenv("PETITIONS_SMTP_HOST", raising=False)
    monkeypatch.setattr(outbox, "_next_warning", None)
    outbox.enqueue(session, "assignment:x:1", "a@example.vn", "Giao xử lý", "Nội dung")
    session.commit()
    with caplog.at_level(logging.WARNING, logger="engine.outbox"):
        assert deliver_outbox(app) == 0
    assert "no SMTP host configured" in caplog.text and "1 message(s) stay queued" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="engine.outbox"):
        assert deliver_outbox(app) == 0
    assert caplog.text == ""  # the ticker calls every few seconds: the warning is not repeated each time
    row = outbox_rows(session)[0]
    assert row.sent_at is None and row.attempts == 0


def test_concurrent_delivery_passes_send_each_message_once(db_kind, app, session: Session, smtp) -> None:  # noqa: ARG001
    for n in range(30):
        outbox.enqueue(session, f"assignment:c{n}:1", f"u{n}@example.vn", f"Giao xử lý {n}", "Nội dung")
    session.commit()
    sessions = app.extensions["petitions.sessions"]
    barrier, sent = threading.Barrier(3), []

    def worker() -> None:
        barrier.wait()
        sent.append(deliver_pending(sessions, SmtpSender("127.0.0.1", smtp.port, mail_from="a@b.test")))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(sent) == 30
    ids = smtp.message_ids()
    assert len(ids) == 30 and set(ids.values()) == {1}
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))) == 0


# ---- the page -----------------------------------------------------------------------------------------------
def _login(app, username: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


def test_the_notifications_page_shows_only_ones_own_and_marks_read(life: Lifecycle, app) -> None:
    s = life.session
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    mine = notes_of(s, life.leader)
    theirs = notes_of(s, life.unit)
    assert len(mine) == 1 and len(theirs) == 1
    release(s)

    leader = _login(app, "ld")
    html = leader.get("/notifications").get_data(as_text=True)
    assert html.count('data-testid="notification"') == 1
    assert mine[0].title in html and theirs[0].title not in html
    assert 'data-testid="unread-count">1<' in html
    assert leader.post(f"/notifications/{theirs[0].id}/read").status_code == 404
    assert leader.post(f"/notifications/{mine[0].id}/read").status_code == 302
    html = leader.get("/notifications").get_data(as_text=True)
    assert 'data-read="yes"' in html and 'data-testid="unread-count"' not in html
    assert s.get(Notification, mine[0].id, populate_existing=True).read_at is not None
    assert s.get(Notification, theirs[0].id, populate_existing=True).read_at is None
    release(s)

    unit = _login(app, "qhxd")
    html = unit.get("/notifications").get_data(as_text=True)
    assert theirs[0].title in html and mine[0].title not in html
    assert unit.post("/notifications/read-all").status_code == 302
    assert 'data-testid="unread-count"' not in unit.get("/notifications").get_data(as_text=True)
    assert 'data-testid="notifications-empty"' in _login(app, "tnmt").get("/notifications").get_data(as_text=True)
    assert app.test_client().get("/notifications").status_code == 302  # anonymous: to the login page


def test_mail_links_the_petition_only_when_the_public_address_is_configured(monkeypatch) -> None:
    from workflows.notifications import Message, _email_body

    text = Message("Giao xử lý kiến nghị KN.20261127.0001", "Công việc: Xử lý.")
    monkeypatch.delenv("PETITIONS_PUBLIC_URL", raising=False)
    assert "Xem và xử lý tại" not in _email_body("qhxd", text, "KN.20261127.0001")
    monkeypatch.setenv("PETITIONS_PUBLIC_URL", "https://kiennghi.example.vn/app/")
    assert "Xem và xử lý tại: https://kiennghi.example.vn/app/petitions/KN.20261127.0001" in _email_body(
        "qhxd", text, "KN.20261127.0001")


def test_recipients_are_read_once_per_transaction_and_again_in_the_next(session: Session, make_user: Any) -> None:
    from sqlalchemy import event

    make_user("qh1", "unit", unit="QHXD")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = notifications.users_with_role(session, "unit", "unit", "QHXD")
        again = notifications.users_with_role(session, "unit", "unit", "QHXD")  # the timer batch's next reminder
        assert [u.username for u in first] == [u.username for u in again] == ["qh1"]
        assert sum("app_user" in s for s in statements) == 1
        session.commit()
        make_user("qh2", "unit", unit="QHXD")  # a new officer of the unit, in a later transaction
        later = notifications.users_with_role(session, "unit", "unit", "QHXD")
        assert [u.username for u in later] == ["qh1", "qh2"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
