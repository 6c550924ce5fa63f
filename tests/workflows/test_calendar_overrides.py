"""Calendar overrides in the database: seeding, loading, the process-wide refresh, the admin page."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from engine.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.integration.support import Lifecycle
from workflows import calendar
from workflows.calendar import (
    CalendarOverride,
    WorkingCalendar,
    add_override,
    calendar_stamp,
    current_calendar,
    load_calendar,
    refresh_calendar,
    remove_override,
    reset_calendar,
    seed_overrides,
)
from workflows.helpers import working_days_after

D = dt.date
ADMIN = Actor("quantri", "admin")
MAKE_UP_SATURDAYS = {D(2024, 5, 4), D(2025, 4, 26), D(2026, 8, 22)}


@pytest.fixture(autouse=True)
def fresh_calendar() -> Iterator[None]:
    reset_calendar()
    yield
    reset_calendar()  # never leave a test's overrides in the process-wide calendar


def _rows(session: Session) -> dict[D, str]:
    return {row.day: row.kind for row in session.scalars(select(CalendarOverride))}


def test_init_seeds_the_reference_days_once(db_kind: str, session: Session) -> None:  # noqa: ARG001
    assert _rows(session) == dict.fromkeys(MAKE_UP_SATURDAYS, "working")
    reasons = {row.day: row.reason for row in session.scalars(select(CalendarOverride))}
    assert reasons[D(2026, 8, 22)] == "make-up for the day off on 2026-08-31"
    assert seed_overrides(session) == 0
    session.commit()
    assert len(_rows(session)) == 3


def test_seeding_keeps_what_the_admin_decided(session: Session) -> None:
    row = session.scalar(select(CalendarOverride).where(CalendarOverride.day == D(2026, 8, 22)))
    session.delete(row)
    session.flush()
    session.add(CalendarOverride(day=D(2026, 8, 22), kind="off", reason="tested", created_by="quantri"))
    session.commit()
    assert seed_overrides(session) == 0
    assert _rows(session)[D(2026, 8, 22)] == "off"


def test_load_calendar_counts_with_the_table(session: Session) -> None:
    loaded = load_calendar(session)
    assert loaded.extra_working_days == MAKE_UP_SATURDAYS and not loaded.extra_days_off
    assert loaded.add_working_days(D(2026, 8, 20), 5) == D(2026, 8, 26)
    add_override(session, D(2026, 3, 2), "off", "Nghỉ bù theo quyết định mới", ADMIN)
    loaded = load_calendar(session)
    assert D(2026, 3, 2) in loaded.extra_days_off
    assert loaded.add_working_days(D(2026, 2, 27), 1) == D(2026, 3, 3)


def test_an_empty_table_means_the_reference_days(session: Session) -> None:
    for row in session.scalars(select(CalendarOverride)):
        session.delete(row)
    session.flush()
    assert load_calendar(session).extra_working_days == MAKE_UP_SATURDAYS


def test_every_change_moves_the_stamp(session: Session) -> None:
    first = calendar_stamp(session)
    row = add_override(session, D(2026, 3, 2), "off", "a", ADMIN)
    second = calendar_stamp(session)
    remove_override(session, row.id, ADMIN)
    third = calendar_stamp(session)
    add_override(session, D(2026, 3, 3), "off", "b", ADMIN)
    fourth = calendar_stamp(session)
    assert len({second, third, fourth}) == 3 and second != first and fourth != first
    assert third[1] == first[1] == fourth[1] - 1  # a removal lowers the count, an addition raises it


def test_the_helpers_count_with_the_refreshed_calendar(session: Session) -> None:
    assert working_days_after("2026-02-27", 1) == "2026-03-02"
    add_override(session, D(2026, 3, 2), "off", "Nghỉ thêm", ADMIN)  # refreshes this process at once
    assert working_days_after("2026-02-27", 1) == "2026-03-03"
    session.rollback()  # the change was never committed: the next refresh drops it
    refresh_calendar(session)
    assert working_days_after("2026-02-27", 1) == "2026-03-02"


def test_another_process_sees_the_change_at_its_next_step(app: Any, session: Session) -> None:
    refresh_calendar(session)
    session.rollback()
    seen_here = (calendar._current, calendar._stamp)
    with app.extensions["petitions.sessions"]() as other:  # e.g. the admin page served by another worker
        add_override(other, D(2026, 3, 2), "off", "Nghỉ thêm", ADMIN)
        other.commit()
    calendar._current, calendar._stamp = seen_here  # this process has not seen the change yet
    assert current_calendar() is seen_here[0]
    assert working_days_after("2026-02-27", 1) == "2026-03-02"  # stale until a step starts
    refresh_calendar(session)  # what the runtime's before_step hook does
    assert working_days_after("2026-02-27", 1) == "2026-03-03"


@pytest.mark.parametrize(("day", "kind", "reason", "field"), [
    (D(2026, 3, 4), "working", "x", "day"),    # a Wednesday already works
    (D(2026, 3, 7), "off", "x", "day"),        # a Saturday is already off
    (D(2026, 2, 17), "off", "x", "day"),       # Tết is already off
    (D(2026, 8, 22), "off", "x", "day"),       # already has an override
    (D(2026, 3, 4), "holiday", "x", "kind"),
    (D(2026, 3, 4), "off", "  ", "reason"),
])
def test_pointless_or_clashing_overrides_are_refused(session: Session, day: D, kind: str, reason: str,
                                                     field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        add_override(session, day, kind, reason, ADMIN)
    assert field in err.value.errors


def test_changes_are_audited(session: Session) -> None:
    row = add_override(session, D(2027, 5, 8), "working", "Làm bù cho ngày 3/5/2027", ADMIN)
    remove_override(session, row.id, ADMIN)
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.chain_index))]
    assert actions[-2:] == ["CALENDAR_OVERRIDE_ADDED", "CALENDAR_OVERRIDE_REMOVED"]
    with pytest.raises(NotFound):
        remove_override(session, row.id, ADMIN)


def test_a_day_off_added_by_the_admin_moves_the_next_deadline(db_kind: str, session: Session, runtime: Any,  # noqa: ARG001
                                                              make_user: Any) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition)
    received = petition.received_date
    base = load_calendar(session)
    day_off = base.add_working_days(received, 3)
    add_override(session, day_off, "off", "Nghỉ đột xuất", ADMIN)
    session.commit()
    reset_calendar()  # this process has not seen it: the runtime's step refreshes the calendar
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=[], working_days=10)
    expected = WorkingCalendar(base.extra_working_days, {day_off}).add_working_days(received, 10)
    assert petition.due_date == expected == base.add_working_days(received, 11)


# ---- the admin page -------------------------------------------------------------------------------------

def _login(client: Any, username: str) -> None:
    client.post("/login", data={"username": username, "password": TEST_PASSWORD})


def test_only_admins_reach_the_calendar_page(client: Any, make_user: Any) -> None:
    make_user("ld", "leader")
    _login(client, "ld")
    assert client.get("/admin/calendar").status_code == 403
    assert client.post("/admin/calendar", data={"day": "2026-03-02", "kind": "off", "reason": "x"}).status_code == 403


def test_an_admin_lists_adds_and_removes_days(client: Any, make_user: Any, session: Session) -> None:
    make_user("quantri", "admin")
    _login(client, "quantri")
    page = client.get("/admin/calendar")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lịch ngày làm việc" in html and 'data-day="2026-08-22"' in html and 'data-kind="working"' in html
    added = client.post("/admin/calendar", data={"day": "2026-03-02", "kind": "off", "reason": "Nghỉ thêm"})
    assert added.status_code == 302
    session.expire_all()
    row = session.scalar(select(CalendarOverride).where(CalendarOverride.day == D(2026, 3, 2)))
    assert row is not None and row.kind == "off" and row.created_by == "quantri"
    row_id = row.id
    session.commit()  # end the read transaction: SQLite lets one writer in at a time
    assert 'data-day="2026-03-02"' in client.get("/admin/calendar").get_data(as_text=True)
    refused = client.post("/admin/calendar", data={"day": "2026-03-07", "kind": "off", "reason": "x"})
    assert refused.status_code == 400
    assert "Ngày này đã là ngày nghỉ." in refused.get_data(as_text=True)
    assert client.post("/admin/calendar", data={"day": "02/03/2026", "kind": "off", "reason": "x"}).status_code == 400
    removed = client.post(f"/admin/calendar/{row_id}/delete")
    assert removed.status_code == 302
    session.expire_all()
    assert session.get(CalendarOverride, row_id) is None
    session.commit()
    assert client.post(f"/admin/calendar/{row_id}/delete").status_code == 404


def test_the_stamp_is_read_once_per_transaction(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several steps in one transaction (a timer batch) share one calendar; the next transaction reads again."""
    reads: list[Any] = []
    real = calendar.calendar_stamp
    monkeypatch.setattr(calendar, "calendar_stamp", lambda s, read=None: reads.append(1) or real(s, read))
    refresh_calendar(session)
    refresh_calendar(session)  # the second step of the same transaction: no new read
    assert len(reads) == 1
    add_override(session, D(2026, 3, 2), "off", "Nghỉ thêm", ADMIN)  # forces a read: this transaction changed it
    assert len(reads) == 2 and working_days_after("2026-02-27", 1) == "2026-03-03"
    session.rollback()
    refresh_calendar(session)  # a new transaction reads the stamp again (and drops the rolled-back day)
    assert len(reads) == 3 and working_days_after("2026-02-27", 1) == "2026-03-02"
