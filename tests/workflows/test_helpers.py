"""Helpers callable from BPMN expressions: JSON-friendly results and clear errors."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from workflows import helpers
from workflows.calendar import reset_calendar
from workflows.helpers import (
    HELPERS,
    deadline_at,
    now_iso,
    overdue_at,
    pause_working_days,
    reminder_at,
    routing_agencies,
    routing_lead_unit,
    routing_working_days,
    today,
    working_days_after,
    working_days_before,
)


@pytest.fixture(autouse=True)
def reference_calendar() -> Iterator[None]:
    reset_calendar()  # count with the reference calendar, whatever a database test loaded before
    yield


def test_helpers_registry_names_every_helper() -> None:
    assert HELPERS == {
        "working_days_after": working_days_after,
        "working_days_before": working_days_before,
        "deadline_at": deadline_at,
        "reminder_at": reminder_at,
        "overdue_at": overdue_at,
        "now_iso": now_iso,
        "pause_working_days": pause_working_days,
        "today": today,
        "routing_lead_unit": routing_lead_unit,
        "routing_agencies": routing_agencies,
        "routing_working_days": routing_working_days,
    }


def test_working_days_after_returns_an_iso_date() -> None:
    assert working_days_after("2025-12-18", 10) == "2026-01-02"
    assert working_days_after("2026-01-21", 20) == "2026-02-25"


def test_working_days_after_counts_the_make_up_saturday() -> None:
    assert working_days_after("2026-08-20", 5) == "2026-08-26"


def test_working_days_after_accepts_a_datetime_in_local_time() -> None:
    assert working_days_after("2026-03-04T10:00:00", 1) == "2026-03-05"
    # 20:00 UTC on Wed 4 March is already Thu 5 March in Hanoi.
    assert working_days_after("2026-03-04T20:00:00+00:00", 1) == "2026-03-06"


def test_working_days_after_accepts_a_whole_number_string() -> None:
    assert working_days_after("2026-03-02", "1") == "2026-03-03"  # type: ignore[arg-type]


def test_working_days_after_with_zero_keeps_a_working_day() -> None:
    assert working_days_after("2026-03-02", 0) == "2026-03-02"


@pytest.mark.parametrize("bad", ["18/12/2025", "", "2026-02-30", None, 20251218])
def test_working_days_after_refuses_a_bad_date(bad: object) -> None:
    with pytest.raises(ValueError, match="ISO date"):
        working_days_after(bad, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "ten", None])
def test_working_days_after_refuses_a_bad_count(bad: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        working_days_after("2026-03-02", bad)  # type: ignore[arg-type]


def test_today_is_the_date_in_hanoi(monkeypatch: pytest.MonkeyPatch) -> None:
    late_utc = dt.datetime(2026, 3, 3, 18, 30, tzinfo=dt.timezone.utc)  # 01:30 on 4 March in Hanoi
    monkeypatch.setattr(helpers, "_now", lambda: late_utc)
    assert today() == "2026-03-04"


def test_today_is_an_iso_date_string() -> None:
    assert dt.date.fromisoformat(today())


def test_routing_lead_unit_applies_the_zone_override() -> None:
    assert routing_lead_unit("VTHONG", "HHTP") == "KHCN"
    assert routing_lead_unit("VTHONG", "TL") == "QHXD"
    assert routing_lead_unit("TTHC", "TL") == "VP"


def test_routing_agencies_returns_a_list() -> None:
    assert routing_agencies("DIEN", "PN") == ["EVNHN", "SCT"]
    assert routing_agencies("KHAC") == []


def test_routing_working_days_returns_the_category_default() -> None:
    assert routing_working_days("ANTT") == 7
    assert routing_working_days("DD", "QM") == 20


def test_helper_results_are_json_serialisable() -> None:
    values = [
        working_days_after("2026-01-12", 15), today(), routing_lead_unit("MT", "SDB"),
        routing_agencies("MT", "SDB"), routing_working_days("MT"),
    ]
    assert json.loads(json.dumps(values)) == values


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: routing_lead_unit("NOPE", "TL"), "Unknown category code 'NOPE'"),
        (lambda: routing_lead_unit("DD", "NOPE"), "Unknown zone code 'NOPE'"),
        (lambda: routing_agencies("NOPE"), "Unknown category code 'NOPE'"),
        (lambda: routing_working_days(None), "Unknown category code None"),  # type: ignore[arg-type]
    ],
)
def test_routing_helpers_refuse_unknown_codes(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# ---- deadline moments -------------------------------------------------------------------------------------

HANOI_NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@pytest.fixture
def wednesday(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helpers, "_now", lambda: HANOI_NOW.astimezone(dt.timezone.utc))


def test_deadline_at_is_17_00_in_hanoi_with_an_explicit_offset() -> None:
    assert deadline_at("2026-01-21") == "2026-01-21T17:00:00+07:00"
    assert dt.datetime.fromisoformat(deadline_at("2026-01-21")).utcoffset() == dt.timedelta(hours=7)


def test_working_days_before_skips_days_off() -> None:
    assert working_days_before("2026-02-23", 1) == "2026-02-13"  # Tết week and a weekend
    assert working_days_before("2026-03-09", 2) == "2026-03-05"
    assert working_days_before("2026-03-07", 0) == "2026-03-06"  # a Saturday: the working day before
    assert working_days_before("2026-08-24", 1) == "2026-08-22"  # the make-up Saturday counts


def test_reminder_at_is_08_00_n_working_days_before(wednesday: None) -> None:
    assert reminder_at("2026-03-16", 2) == "2026-03-12T08:00:00+07:00"


def test_a_reminder_whose_moment_passed_fires_at_once_until_the_deadline(wednesday: None) -> None:
    assert reminder_at("2026-03-05", 2) == "2026-03-03T08:00:00+07:00"  # in the past: fires at the next sweep
    assert reminder_at("2026-03-03", 2) == helpers.FAR_FUTURE  # the deadline itself has passed


def test_overdue_at_is_the_deadline_unless_it_had_already_passed(wednesday: None) -> None:
    assert overdue_at("2026-03-04") == "2026-03-04T17:00:00+07:00"
    assert overdue_at("2026-03-03") == helpers.FAR_FUTURE


def test_now_iso_carries_the_hanoi_offset(wednesday: None) -> None:
    assert now_iso() == "2026-03-04T10:00:00+07:00"


@pytest.mark.parametrize(("paused", "resumed", "days"), [
    ("2026-03-02T10:00:00+07:00", "2026-03-02T16:00:00+07:00", 0),   # same day
    ("2026-03-02T10:00:00+07:00", "2026-03-04T16:00:00+07:00", 2),   # Tue, Wed
    ("2026-03-02T10:00:00+07:00", "2026-03-04T17:30:00+07:00", 3),   # after the cut-off: Thu
    ("2026-02-13T10:00:00+07:00", "2026-02-23T09:00:00+07:00", 1),   # across Tết
    ("2026-03-06T10:00:00+07:00", "2026-03-07T10:00:00+07:00", 1),   # a Saturday answer counts on Monday
])
def test_pause_working_days(paused: str, resumed: str, days: int) -> None:
    assert pause_working_days(paused, resumed) == days


def test_pause_working_days_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="ISO datetime"):
        pause_working_days("yesterday", "2026-03-04T10:00:00+07:00")
