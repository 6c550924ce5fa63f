"""Keyset paging of the inbox (engine.inbox, workflows.tasks.inbox) on SQLite and PostgreSQL.

Task rows are written directly (one placeholder instance holds them): lanes with and without scope, due
dates with ties and without a date, priorities 0, 1, 2 (KHAN, CAO, THUONG) and the engine's default 100,
creation times with ties and microseconds. Every page is compared with the whole inbox sorted in Python by
(due date, no date last; priority; creation time; id) over the tasks `may_act` allows, so each open task
must appear exactly once, in order.
"""
from __future__ import annotations

import base64
import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from engine.contracts import Principal, may_act
from engine.errors import ValidationFailed
from engine.inbox import Cursor, open_tasks
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskStatus

BOTH = pytest.mark.usefixtures("db_kind")  # SQLite and PostgreSQL
LANES = (("intake", None, None), ("leader", None, None), ("unit", "unit", "QHXD"), ("unit", "unit", "QLDT"),
         ("agency", "agency", "EVNHN"), ("agency", "agency", "SCT"), ("unit", None, None))
PRINCIPALS = {
    "without scope": Principal("tiepnhan", frozenset({"intake"})),
    "with a scope": Principal("cv_qhxd", frozenset({"unit"}), {"unit": "QHXD"}),
    "several roles and scopes": Principal("multi", frozenset({"unit", "agency", "leader"}),
                                          {"unit": "QLDT", "agency": "EVNHN"}),
    "superuser": Principal("demo", frozenset({"intake"}), superuser=True),
    "no lane": Principal("nobody", frozenset({"enterprise"}), {"enterprise": "0101234567"}),
}
BASE = dt.datetime(2026, 3, 2, 1, 2, 3, 123456, tzinfo=dt.timezone.utc)


def key(task: HumanTask) -> tuple[Any, ...]:
    """The inbox order in Python."""
    created = task.created_at if task.created_at.tzinfo else task.created_at.replace(tzinfo=dt.timezone.utc)
    return (task.due_date is None, task.due_date or dt.date.max, task.priority, created, task.id)


def seed(session: Session, count: int = 120, seed_value: int = 3) -> list[HumanTask]:
    """Write `count` tasks over the lanes, a sixth of them completed; return them all."""
    rng = random.Random(seed_value)
    definition = session.scalars(select(ProcessDefinition.id)).first()
    instance = ProcessInstance(definition_id=definition, business_key="PAGING-1", serializer_version="test",
                               state="{}")
    session.add(instance)
    session.flush()
    rows = []
    for i in rng.sample(range(count), count):
        role, kind, value = LANES[i % len(LANES)]
        due = None if rng.random() < 0.2 else dt.date(2026, 3, 10) + dt.timedelta(days=rng.randrange(4))
        rows.append(HumanTask(priority=rng.choice((0, 1, 2, 2, 2, 100)),
            id=f"task{i:04d}", instance_id=instance.id, business_key=f"KN.PAGING.{i:04d}", bpmn_id="handle",
            name="Xử lý", lane=role, role=role, scope_kind=kind, scope_value=value, due_date=due,
            created_at=BASE + dt.timedelta(seconds=rng.randrange(5), microseconds=rng.randrange(3)),
            status=TaskStatus.COMPLETED if rng.random() < 1 / 6 else TaskStatus.OPEN))
    session.add_all(rows)
    session.commit()
    return rows


def expected(rows: list[HumanTask], principal: Principal) -> list[str]:
    return [t.id for t in sorted((t for t in rows if t.status == TaskStatus.OPEN and may_act(principal, t)), key=key)]


def all_pages(session: Session, principal: Principal, size: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = open_tasks(session, principal, size, after)
        pages.append([t.id for t in page])
        if len(page) < size:
            return pages
        after = Cursor.decode(Cursor.of(page[-1]).encode())  # through the client's string, as the web does


@BOTH
def test_the_migration_creates_the_partial_queue_index(session: Session) -> None:
    indexes = {ix["name"]: ix for ix in inspect(session.get_bind()).get_indexes("human_task")}
    assert indexes["ix_human_task_open_queue"]["column_names"] == [
        "role", "scope_kind", "scope_value", "due_date", "priority", "created_at", "id"]


@BOTH
def test_migration_0010_matches_the_task_model(session: Session) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.db import Base

    with session.get_bind().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_server_default": True}),
                                Base.metadata)
    assert [d for d in diff if "human_task" in repr(d)] == []


@BOTH
@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("size", [1, 7, 50])
def test_pages_return_every_open_task_once_in_order(session: Session, who: str, size: int) -> None:
    rows, principal = seed(session), PRINCIPALS[who]
    pages = all_pages(session, principal, size)
    flat = [task_id for page in pages for task_id in page]
    assert flat == expected(rows, principal)
    assert len(flat) == len(set(flat))
    assert all(len(page) == size for page in pages[:-1])
    if who == "no lane":
        assert flat == []
    else:
        assert flat and any(t.due_date is None for t in rows if t.id in flat)  # the undated tail is reached


@BOTH
def test_a_task_completed_between_two_pages_neither_repeats_nor_shifts_the_next_page(session: Session) -> None:
    rows, principal = seed(session), PRINCIPALS["several roles and scopes"]
    whole = expected(rows, principal)
    first = open_tasks(session, principal, 5)
    assert [t.id for t in first] == whole[:5]
    cursor = Cursor.of(first[-1]).encode()
    by_id = {t.id: t for t in rows}
    for task_id in (whole[2], whole[4], whole[6]):  # two already shown (one the cursor's own row), one to come
        by_id[task_id].status = TaskStatus.COMPLETED
    session.commit()
    second = [t.id for t in open_tasks(session, principal, 5, Cursor.decode(cursor))]
    assert second == [task_id for task_id in whole[5:] if task_id != whole[6]][:5]
    assert not set(second) & set(whole[:5])


@BOTH
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_priorities_interleaving_across_lanes_and_page_boundaries_page_in_order(session: Session, size: int) -> None:
    # Two lanes (two index branches); on one due day the urgent (0) come before the high (1) before the normal
    # (2) whatever their age or lane, ties of time go by id; then the next day; then the undated, by priority.
    definition = session.scalars(select(ProcessDefinition.id)).first()
    instance = ProcessInstance(definition_id=definition, business_key="PAGING-2", serializer_version="test",
                               state="{}")
    session.add(instance)
    session.flush()
    day = dt.date(2026, 3, 10)
    specs = {  # id: (role, due date, priority, seconds after BASE)
        "a": ("intake", day, 2, 0), "b": ("leader", day, 2, 1), "c": ("intake", day, 1, 2), "k": ("leader", day, 1, 2),
        "d": ("leader", day, 0, 3), "e": ("intake", day, 0, 4), "f": ("leader", day, 1, 5), "g": ("intake", day, 2, 5),
        "h": ("leader", day + dt.timedelta(days=1), 0, 0), "i": ("intake", None, 1, 0), "j": ("leader", None, 0, 9),
        "x": ("intake", day, 0, 1),
    }
    session.add_all(HumanTask(
        id=task_id, instance_id=instance.id, business_key=f"KN.PAGING.{task_id}", bpmn_id="handle", name="Xử lý",
        lane=role, role=role, due_date=due, priority=priority, created_at=BASE + dt.timedelta(seconds=seconds),
        status=TaskStatus.COMPLETED if task_id == "x" else TaskStatus.OPEN)
        for task_id, (role, due, priority, seconds) in specs.items())
    session.commit()
    principal = Principal("both", frozenset({"intake", "leader"}))
    pages = all_pages(session, principal, size)
    assert [task_id for page in pages for task_id in page] == ["d", "e", "c", "k", "f", "a", "b", "g", "h", "j", "i"]
    assert all(len(page) == size for page in pages[:-1])


def test_a_cursor_round_trips_microseconds_and_the_missing_due_date() -> None:
    for due in (dt.date(2026, 3, 10), None):
        for priority in (0, 2, 100):
            cursor = Cursor(due, priority, BASE, "task0001")
            assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("raw", [
    "not-a-cursor", "!!!", base64.urlsafe_b64encode(b'["2026-03-10",2,"2026-03-02T01:02:03",""]').decode(),
    base64.urlsafe_b64encode(b'["2026-03-10",2,"2026-03-02T01:02:03",12]').decode(),
    base64.urlsafe_b64encode(b'["2026-13-40",2,"2026-03-02T01:02:03+00:00","x"]').decode(),
    base64.urlsafe_b64encode(b'["2026-03-10",2,"2026-03-02T01:02:03"]').decode(),
    base64.urlsafe_b64encode(b'["2026-03-10","2026-03-02T01:02:03+00:00","x"]').decode(),  # before priorities
    base64.urlsafe_b64encode(b'["2026-03-10","1","2026-03-02T01:02:03+00:00","x"]').decode(),
    base64.urlsafe_b64encode(b'["2026-03-10",1.5,"2026-03-02T01:02:03+00:00","x"]').decode(),
    base64.urlsafe_b64encode(b'["2026-03-10",true,"2026-03-02T01:02:03+00:00","x"]').decode(),
    base64.urlsafe_b64encode(b'["2026-03-10",99999,"2026-03-02T01:02:03+00:00","x"]').decode(),
    base64.urlsafe_b64encode(b'{"a": 1}').decode(), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_an_invalid_cursor_is_refused_with_a_message(raw: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        Cursor.decode(raw)
    assert refused.value.http_status == 400
    assert "first page" in refused.value.errors["after"]


@BOTH
def test_the_workflow_inbox_pages_and_still_returns_everything_by_default(
        session: Session, runtime: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows import tasks

    rows = seed(session)
    user = make_user("cv_qhxd", "unit", unit="QHXD")
    whole = expected(rows, PRINCIPALS["with a scope"])
    first = tasks.inbox(session, runtime, user, 4)
    assert [i.task.id for i in first] == whole[:4] and first.has_more
    second = tasks.inbox(session, runtime, user, 4, first.next)
    assert [i.task.id for i in second] == whole[4:8]
    monkeypatch.setattr(tasks, "MAX_PAGE", 3)  # "all my open tasks" walks the pages itself
    everything = tasks.inbox(session, runtime, user)
    assert [i.task.id for i in everything] == whole and everything.next is None
    last = tasks.inbox(session, runtime, user, len(whole))
    assert len(last) == len(whole) and not last.has_more
