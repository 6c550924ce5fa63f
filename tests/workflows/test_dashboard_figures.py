"""Every dashboard figure equals an independent computation (raw SQL rows + Python) on a generated history,
on SQLite and PostgreSQL; drill-downs list exactly the petitions a figure counts; petitions driven through the
real engine are counted the same way; the generated history keeps the audit chain intact."""
from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from sqlalchemy.orm import Session

from engine import audit
from tests.integration.support import Lifecycle
from tests.workflows import dashboard_oracle as oracle
from workflows.calendar import load_calendar
from workflows.dashboard import figures
from workflows.dashboard.drill import Drill, query
from workflows.dashboard.history import generate_history

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone.utc)
PERIODS = [
    (dt.date(2025, 1, 1), dt.date(2025, 6, 30)),  # a closed half-year
    (dt.date(2026, 9, 1), dt.date(2026, 11, 30)),  # runs past `now`: open and overdue counted now
]


def _compare(session: Session, start: dt.date, end: dt.date, now: dt.datetime) -> figures.Figures:
    calendar = load_calendar(session)
    got = figures.compute(session, figures.Period(start, end), now=now, calendar=calendar)
    expected = oracle.figures(oracle.load(session), start, end, now, calendar)
    assert oracle.dashboard_as_dict(got) == expected
    return got


def test_every_figure_matches_an_independent_computation(app, session, db_kind) -> None:
    generate_history(session, 1500, 2, seed=11, now=NOW)
    session.commit()
    for start, end in PERIODS:
        got = _compare(session, start, end, NOW)
        assert got.received > 100 and got.answered > 100  # the mixes give every figure something to count
    current = figures.compute(session, figures.Period(*PERIODS[1]), now=NOW, calendar=load_calendar(session))
    assert current.open > 0 and current.overdue > 0 and current.reopened > 0
    assert all(current.outcomes[o] > 0 for o in ("within_authority", "coordinated", "escalated", "forwarded"))
    assert 0.3 < current.on_time_rate < 1.0
    assert len({round(r.rate, 2) for r in current.by_unit.values() if r.answered > 20}) >= 2  # units differ


def test_drill_down_lists_the_petitions_each_figure_counts(app, session) -> None:
    generate_history(session, 600, 1, seed=5, now=NOW)
    session.commit()
    calendar = load_calendar(session)
    period = figures.Period(*PERIODS[1])
    fig = figures.compute(session, period, now=NOW, calendar=calendar)
    for metric in ("received", "answered", "on_time", "open", "overdue", "reopened"):
        assert len(query(session, period, Drill(metric), now=NOW, calendar=calendar)) == getattr(fig, metric), metric
    late = query(session, period, Drill("late"), now=NOW, calendar=calendar)
    assert len(late) == fig.answered - fig.on_time
    unit, rate = max(fig.by_unit.items(), key=lambda item: item[1].answered)
    listed = query(session, period, Drill("on_time", "unit", unit), now=NOW, calendar=calendar)
    assert len(listed) == rate.on_time and {p.lead_unit for p in listed} == {unit}
    for rating, count in fig.satisfaction.items():
        assert len(query(session, period, Drill("answered", rating=rating), now=NOW, calendar=calendar)) == count
    for outcome, count in fig.outcomes.items():
        assert len(query(session, period, Drill("handled", outcome=outcome), now=NOW, calendar=calendar)) == count
    for bucket, count in fig.backlog:
        assert len(query(session, period, Drill("open", age=bucket), now=NOW, calendar=calendar)) == count


def test_generated_history_keeps_the_audit_chain_and_marks_its_rows(app, session) -> None:
    result = generate_history(session, 200, 1, seed=3, now=NOW)
    session.commit()
    assert audit.verify_chain(session) is None
    assert result.events > result.tasks > result.petitions == 200
    from sqlalchemy import text
    assert session.scalar(text("SELECT count(*) FROM petition WHERE is_demo")) == 200
    assert session.scalar(text("SELECT count(*) FROM process_instance WHERE serializer_version = 'generated'")) == 200


def test_petitions_driven_through_the_engine_are_counted_alike(app, session, runtime, make_user, db_kind) -> None:
    life = Lifecycle(session, runtime, make_user)
    satisfied, reopened, forwarded, waiting = life.submit(), life.submit(), life.submit(), life.submit()
    for petition in (satisfied, reopened):
        life.to_answer(petition, agencies=())
        life.answer_and_send(petition)
    life.do(life.enterprise_user, satisfied, "confirm", rating="hai_long")
    life.do(life.enterprise_user, reopened, "confirm", rating="khong_hai_long", comment="Chưa rõ.")
    life.to_assignment(forwarded, triage_outcome="KHONG_THUOC_THAM_QUYEN")
    life.do(life.intake, forwarded, "forward", forwarded_to="Sở Công Thương", forward_document_no="15/BQL")
    life.to_assignment(waiting)
    generate_history(session, 100, 1, seed=2)  # beside generated ones, counted by the same code
    session.commit()
    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    today = now.astimezone(figures.HANOI).date()
    got = _compare(session, today - dt.timedelta(days=400), today, now)
    assert got.answered >= 2 and got.reopened >= 1 and got.outcomes["forwarded"] >= 1
    session.refresh(reopened)
    assert reopened.reopen_count == 1 and reopened.answered_at is not None and reopened.within_authority is True


@pytest.mark.skipif(os.environ.get("PETITIONS_SKIP_LARGE") == "1", reason="PETITIONS_SKIP_LARGE=1 asks to skip it")
def test_twenty_thousand_petitions_match_too(app, session) -> None:
    started = time.monotonic()
    generate_history(session, 20000, 2, seed=2026, now=NOW)
    session.commit()
    _compare(session, dt.date(2026, 1, 1), dt.date(2026, 6, 30), NOW)
    print(f"20,000 petitions generated and checked in {time.monotonic() - started:.1f} s")
