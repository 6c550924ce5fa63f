"""Working-day arithmetic against DOMAIN.md 9.3 and the holidays.VN 0.109 calendar."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from workflows.calendar import WorkingCalendar, default_calendar

D = dt.date
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MAKE_UP_SATURDAY_2026 = D(2026, 8, 22)


@pytest.fixture
def plain() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.fixture
def board() -> WorkingCalendar:
    return default_calendar()


# DOMAIN.md 9.3 fixture table (Mon-Fri minus holidays.VN 0.109, counting from the next day).
FIXTURES = [
    (D(2025, 12, 18), 10, D(2026, 1, 2)),    # skips 01/01
    (D(2025, 12, 18), 20, D(2026, 1, 16)),   # crosses the year boundary
    (D(2026, 1, 12), 15, D(2026, 2, 2)),     # stops before Tết
    (D(2026, 1, 21), 20, D(2026, 2, 25)),    # skips Tết 16-20/02
    (D(2026, 2, 12), 10, D(2026, 3, 5)),     # skips the Tết week
    (D(2026, 4, 24), 5, D(2026, 5, 6)),      # skips observed Hùng Kings day, 30/4 and 1/5
    (D(2026, 8, 27), 5, D(2026, 9, 8)),      # skips 31/8, 1/9, 2/9
]


@pytest.mark.parametrize(("start", "n", "expected"), FIXTURES)
def test_add_working_days_matches_domain_fixture_table(board: WorkingCalendar, start: D, n: int, expected: D) -> None:
    assert board.add_working_days(start, n) == expected


@pytest.mark.parametrize(("start", "n", "expected"), FIXTURES)
def test_fixture_table_holds_without_overrides(plain: WorkingCalendar, start: D, n: int, expected: D) -> None:
    assert plain.add_working_days(start, n) == expected


def test_make_up_saturday_counts_with_the_override(board: WorkingCalendar) -> None:
    assert board.add_working_days(D(2026, 8, 20), 5) == D(2026, 8, 26)


def test_make_up_saturday_is_a_day_off_without_the_override(plain: WorkingCalendar) -> None:
    assert plain.add_working_days(D(2026, 8, 20), 5) == D(2026, 8, 27)


def test_default_calendar_knows_every_make_up_saturday(board: WorkingCalendar, plain: WorkingCalendar) -> None:
    for saturday in (D(2024, 5, 4), D(2025, 4, 26), MAKE_UP_SATURDAY_2026):
        assert saturday.weekday() == 5
        assert board.is_working_day(saturday)
        assert not plain.is_working_day(saturday)


def test_swap_days_off_come_from_the_holidays_package(plain: WorkingCalendar) -> None:
    for day in (D(2024, 4, 29), D(2025, 5, 2), D(2026, 8, 31)):
        assert not plain.is_working_day(day)


def test_extra_day_off_removes_a_weekday() -> None:
    calendar = WorkingCalendar(extra_days_off=[D(2026, 3, 2)])
    assert not calendar.is_working_day(D(2026, 3, 2))
    assert calendar.add_working_days(D(2026, 2, 27), 1) == D(2026, 3, 3)


def test_a_day_cannot_be_both_extra_working_and_off() -> None:
    with pytest.raises(ValueError, match="2026-08-22"):
        WorkingCalendar(extra_working_days=[MAKE_UP_SATURDAY_2026], extra_days_off=[MAKE_UP_SATURDAY_2026])


@pytest.mark.parametrize("day", [D(2027, 2, 4) + dt.timedelta(days=i) for i in range(7)])
def test_tet_2027_is_off_from_4_to_10_february(plain: WorkingCalendar, day: D) -> None:
    assert not plain.is_working_day(day)


def test_tet_2027_is_skipped_when_counting(plain: WorkingCalendar) -> None:
    assert plain.is_working_day(D(2027, 2, 3)) and plain.is_working_day(D(2027, 2, 11))
    assert plain.add_working_days(D(2027, 2, 3), 1) == D(2027, 2, 11)


def test_hung_kings_2026_is_observed_on_monday_27_april(plain: WorkingCalendar) -> None:
    assert not plain.is_working_day(D(2026, 4, 27))
    assert plain.next_working_day(D(2026, 4, 24)) == D(2026, 4, 28)


def test_vietnam_cultural_day_2026_is_off(plain: WorkingCalendar) -> None:
    assert not plain.is_working_day(D(2026, 11, 24))


def test_counting_across_new_year_skips_the_holiday(plain: WorkingCalendar) -> None:
    assert plain.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)  # 1/1/2027 is a Friday holiday
    assert plain.add_working_days(D(2025, 12, 31), 1) == D(2026, 1, 2)


def test_counting_starts_the_day_after_the_start(plain: WorkingCalendar) -> None:
    assert plain.add_working_days(D(2026, 3, 2), 1) == D(2026, 3, 3)
    assert plain.add_working_days(D(2026, 3, 6), 1) == D(2026, 3, 9)  # Friday -> Monday
    assert plain.add_working_days(D(2026, 3, 7), 1) == D(2026, 3, 9)  # from a Saturday


def test_zero_working_days_returns_the_start_or_the_next_working_day(plain: WorkingCalendar) -> None:
    assert plain.add_working_days(D(2026, 3, 2), 0) == D(2026, 3, 2)
    assert plain.add_working_days(D(2026, 3, 7), 0) == D(2026, 3, 9)
    assert plain.add_working_days(D(2026, 2, 16), 0) == D(2026, 2, 23)


def test_negative_working_days_are_refused(plain: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        plain.add_working_days(D(2026, 3, 2), -1)


def test_next_working_day_is_strictly_after(plain: WorkingCalendar) -> None:
    assert plain.next_working_day(D(2026, 3, 2)) == D(2026, 3, 3)
    assert plain.next_working_day(D(2026, 2, 13)) == D(2026, 2, 23)


def test_working_days_between_counts_after_a_up_to_b(plain: WorkingCalendar) -> None:
    assert plain.working_days_between(D(2026, 3, 2), D(2026, 3, 2)) == 0
    assert plain.working_days_between(D(2026, 3, 2), D(2026, 3, 3)) == 1
    assert plain.working_days_between(D(2026, 3, 6), D(2026, 3, 8)) == 0
    assert plain.working_days_between(D(2026, 2, 13), D(2026, 2, 23)) == 1


def test_working_days_between_is_negative_backwards(plain: WorkingCalendar) -> None:
    assert plain.working_days_between(D(2026, 3, 9), D(2026, 3, 2)) == -5


@pytest.mark.parametrize(("start", "n", "expected"), FIXTURES)
def test_working_days_between_inverts_add_working_days(
    board: WorkingCalendar, start: D, n: int, expected: D
) -> None:
    assert board.working_days_between(start, expected) == n


def test_receipt_before_the_cut_off_counts_that_day(board: WorkingCalendar) -> None:
    assert board.receipt_date(dt.datetime(2026, 3, 4, 16, 59, tzinfo=HANOI)) == D(2026, 3, 4)
    assert board.receipt_date(dt.datetime(2026, 3, 4, 17, 0, tzinfo=HANOI)) == D(2026, 3, 4)


def test_receipt_after_the_cut_off_counts_the_next_working_day(board: WorkingCalendar) -> None:
    assert board.receipt_date(dt.datetime(2026, 3, 4, 17, 1, tzinfo=HANOI)) == D(2026, 3, 5)
    assert board.receipt_date(dt.datetime(2026, 3, 6, 17, 1, tzinfo=HANOI)) == D(2026, 3, 9)


def test_receipt_on_a_saturday_counts_the_monday(board: WorkingCalendar) -> None:
    assert board.receipt_date(dt.datetime(2026, 3, 7, 9, 0, tzinfo=HANOI)) == D(2026, 3, 9)


def test_receipt_on_a_make_up_saturday_counts_that_day(board: WorkingCalendar) -> None:
    assert board.receipt_date(dt.datetime(2026, 8, 22, 9, 0, tzinfo=HANOI)) == MAKE_UP_SATURDAY_2026


def test_receipt_on_a_holiday_counts_the_next_working_day(board: WorkingCalendar) -> None:
    assert board.receipt_date(dt.datetime(2026, 2, 17, 10, 0, tzinfo=HANOI)) == D(2026, 2, 23)


def test_receipt_in_utc_is_converted_to_hanoi_time(board: WorkingCalendar) -> None:
    # 18:30 UTC on Tue 3 March is 01:30 on Wed 4 March in Hanoi, before the cut-off.
    assert board.receipt_date(dt.datetime(2026, 3, 3, 18, 30, tzinfo=dt.timezone.utc)) == D(2026, 3, 4)
    # 09:30 UTC is 16:30 in Hanoi (same day); 10:30 UTC is 17:30 (after the cut-off).
    assert board.receipt_date(dt.datetime(2026, 3, 4, 9, 30, tzinfo=dt.timezone.utc)) == D(2026, 3, 4)
    assert board.receipt_date(dt.datetime(2026, 3, 4, 10, 30, tzinfo=dt.timezone.utc)) == D(2026, 3, 5)


def test_receipt_cut_off_is_configurable() -> None:
    calendar = WorkingCalendar(cutoff=dt.time(15, 0))
    assert calendar.receipt_date(dt.datetime(2026, 3, 4, 15, 30, tzinfo=HANOI)) == D(2026, 3, 5)


def test_receipt_refuses_a_naive_datetime(board: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        board.receipt_date(dt.datetime(2026, 3, 4, 9, 0))


def test_default_calendar_uses_the_reference_settings(board: WorkingCalendar) -> None:
    assert board.cutoff == dt.time(17, 0)
    assert board.tz == HANOI
    assert MAKE_UP_SATURDAY_2026 in board.extra_working_days
    assert default_calendar() is board
