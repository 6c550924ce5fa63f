"""Date formats in Vietnamese style, Hanoi time, deadline marks and labels."""
from __future__ import annotations

import datetime as dt

from flask import Flask, session

from webapp.filters import date_vn, datetime_vn, deadline_state, label, status_label, step_label


def test_dates_are_formatted_day_first() -> None:
    assert date_vn(dt.date(2025, 3, 7)) == "07/03/2025"
    assert date_vn("2025-03-07") == "07/03/2025"
    assert date_vn(None) == "" and date_vn("") == ""
    assert date_vn("not a date") == "not a date"


def test_datetimes_are_shown_in_hanoi_time() -> None:
    utc = dt.datetime(2025, 3, 7, 18, 30, tzinfo=dt.timezone.utc)
    assert datetime_vn(utc) == "08/03/2025 01:30"
    assert datetime_vn(utc.replace(tzinfo=None)) == "08/03/2025 01:30"  # naive values are UTC
    assert datetime_vn("2025-03-07T18:30:00+00:00") == "08/03/2025 01:30"
    assert date_vn(utc) == "08/03/2025"


def test_deadline_state() -> None:
    today = dt.date(2025, 3, 10)
    assert deadline_state(dt.date(2025, 3, 9), today) == "overdue"
    assert deadline_state(dt.date(2025, 3, 10), today) == "due_soon"
    assert deadline_state("2025-03-12", today) == "due_soon"
    assert deadline_state(dt.date(2025, 3, 13), today) == "on_time"
    assert deadline_state(None, today) == ""


def test_labels_follow_the_session_language(app: Flask) -> None:
    with app.test_request_context("/"):
        assert label("QHXD", "units") == "Phòng Quản lý Quy hoạch và Xây dựng"
        assert status_label("MOI_TIEP_NHAN") == "Mới tiếp nhận"
        assert label("khong_hai_long", "satisfaction_levels") == "Không hài lòng"
        assert label("NOPE", "units") == "NOPE"
        assert step_label("register") == "Tiếp nhận, vào sổ"
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert status_label("MOI_TIEP_NHAN") == "Received"
        assert step_label("register") == "Register the petition"
        assert step_label("unknown_step", "Bước lạ") == "Bước lạ"
