"""The database counters behind login throttling and rate limits: a sliding window, exact Retry-After, pruning."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import throttle
from workflows.models import RateEvent

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)


def test_a_sliding_window_refuses_the_hit_beyond_the_limit_and_says_how_long_to_wait(session: Session) -> None:
    limits = [(3, 60)]
    for seconds in (0, 10, 20):
        assert throttle.hit(session, "b", "k", limits, T0 + dt.timedelta(seconds=seconds))[0] is None
    wait, counted = throttle.hit(session, "b", "k", limits, T0 + dt.timedelta(seconds=30))
    assert (wait, counted) == (30, None)  # the hit at T0 leaves the window at T0 + 60 s
    assert throttle.hit(session, "b", "other-key", limits, T0 + dt.timedelta(seconds=30))[0] is None
    assert throttle.hit(session, "other-bucket", "k", limits, T0 + dt.timedelta(seconds=30))[0] is None
    assert throttle.hit(session, "b", "k", limits, T0 + dt.timedelta(seconds=61))[0] is None
    assert throttle.hit(session, "b", "k", limits, T0 + dt.timedelta(seconds=62))[0] == 8  # the hit at +10 s


def test_the_longest_wait_of_several_windows_wins(session: Session) -> None:
    limits = [(2, 60), (3, 3600)]
    for minutes in (0, 5, 10):
        assert throttle.hit(session, "b", "k", limits, T0 + dt.timedelta(minutes=minutes))[0] is None
    wait, _ = throttle.hit(session, "b", "k", limits, T0 + dt.timedelta(minutes=20))
    assert wait == 40 * 60  # the hourly window: the hit at T0 leaves it at T0 + 60 min


def test_forget_and_clear_take_hits_back(session: Session) -> None:
    limits = [(2, 60)]
    _, first = throttle.hit(session, "b", "k", limits, T0)
    throttle.hit(session, "b", "k", limits, T0)
    assert throttle.retry_after(session, "b", "k", limits, T0) is not None
    throttle.forget(session, first)
    assert throttle.retry_after(session, "b", "k", limits, T0) is None
    throttle.hit(session, "b", "k", limits, T0)
    throttle.clear(session, "b", "k")
    assert session.scalar(select(func.count()).select_from(RateEvent)) == 0


def test_old_hits_are_pruned(session: Session) -> None:
    for n in range(5):
        throttle.record(session, "b", f"key-{n}", T0)
    throttle.record(session, "b", "fresh", T0 + dt.timedelta(days=3))
    assert throttle.prune(session, T0 + dt.timedelta(days=3)) == 5
    assert session.scalars(select(RateEvent.key)).all() == ["fresh"]
