"""Deterministic interleavings of two completions on one instance (T-CONC-1, T-CONC-2), and many random
completions from 20 threads (T-CONC-3), on SQLite and PostgreSQL.

The interleaving is injected, not slept: the first officer's step pauses in the runtime's `before_flush`
hook, holding the instance, until the second officer's request has started (on PostgreSQL: until it is seen
waiting for the row lock). Then the first is released.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.errors import Conflict
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus
from tests.integration.support import Lifecycle
from tests.reliability.invariants import check_invariants
from workflows import tasks
from workflows.models import User

WAIT = 60  # a safety cap on every wait below; the waits end on their condition


class PauseFirstStep:
    """A `before_flush` hook that holds the first step of the thread `holder` until released."""

    def __init__(self, holder: str) -> None:
        self.holder, self.paused, self.release = holder, threading.Event(), threading.Event()

    def __call__(self, session: Session, instance: ProcessInstance) -> None:
        if threading.current_thread().name == self.holder and not self.paused.is_set():
            self.paused.set()
            assert self.release.wait(WAIT), "never released"


def _waiting_for_lock(sessions: Callable[[], Session]) -> bool:
    with sessions() as db:
        if db.get_bind().dialect.name != "postgresql":
            return True  # SQLite: the second writer waits in BEGIN IMMEDIATE, which no view shows
        n = db.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'"))
        db.rollback()
        return n > 0


def _race(app: Flask, runtime: Any, first: tuple[str, str, dict], second: tuple[str, str, dict]) -> dict[str, str]:
    """Run two completions (username, task id, data): `first` pauses inside its step until `second` waits."""
    sessions = app.extensions["petitions.sessions"]
    hook = PauseFirstStep("first")
    runtime.hooks.before_flush = hook
    outcomes: dict[str, str] = {}
    second_started = threading.Event()

    def officer(label: str, username: str, task_id: str, data: dict) -> None:
        if label == "second":
            second_started.set()  # from here on it needs the database, which the first step holds
        with sessions() as db:
            try:
                user = db.scalar(select(User).where(User.username == username))
                tasks.complete(db, runtime, user, task_id, data)
                db.commit()
                outcomes[label] = "ok"
            except Conflict:
                db.rollback()
                outcomes[label] = "conflict"

    one = threading.Thread(target=officer, name="first", args=("first", *first))
    two = threading.Thread(target=officer, name="second", args=("second", *second))
    try:
        one.start()
        assert hook.paused.wait(WAIT), "the first step never reached its flush"
        two.start()
        assert second_started.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while not _waiting_for_lock(sessions) and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for a condition (the second request blocked on the row lock)
        hook.release.set()
        one.join(WAIT)
        two.join(WAIT)
    finally:
        hook.release.set()
        runtime.hooks.before_flush = lambda session, instance: None
    return outcomes


def _completions(session: Session, task_id: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "TASK_COMPLETED", AuditEvent.task_id == task_id))


def test_same_task_two_officers_first_holder_wins(db_kind, app, session, runtime, make_user) -> None:  # noqa: ARG001
    life = Lifecycle(session, runtime, make_user)
    make_user("tn2", "intake")
    petition = life.submit()
    task_id = life.task_of(life.intake, petition, "register")
    session.rollback()
    outcomes = _race(app, runtime, ("tn", task_id, {"register_decision": "accept"}),
                     ("tn2", task_id, {"register_decision": "reject", "rejection_reason": "KHAC"}))
    # The first holds the instance; the second waits, then finds the task done: 409, nothing applied.
    assert outcomes == {"first": "ok", "second": "conflict"}
    assert _completions(session, task_id) == 1
    assert life.open_steps(petition) == [("classify", "intake")]
    session.rollback()  # SQLite: let the checker's own transaction take the database
    check_invariants(app.extensions["petitions.sessions"], runtime)


def test_two_parallel_tasks_of_one_instance_both_complete_and_join(db_kind, app, session, runtime,  # noqa: ARG001
                                                                   make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    life.to_assignment(petition)
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN"], working_days=10)
    handle = life.task_of(life.unit, petition, "handle")
    coordinate = life.task_of(life.agencies["EVNHN"], petition, "coordinate")
    session.rollback()
    outcomes = _race(app, runtime, ("qhxd", handle, {"handling_notes": "Đã làm việc với điện lực."}),
                     ("pm_evnhn", coordinate, {"reply_text": "Đã thay máy biến áp."}))
    assert outcomes == {"first": "ok", "second": "ok"}  # serialized by the lock: neither completion is lost
    assert (_completions(session, handle), _completions(session, coordinate)) == (1, 1)
    assert life.open_steps(petition) == [("draft_answer", "unit")]  # the join saw both branches
    session.rollback()  # SQLite: let the checker's own transaction take the database
    check_invariants(app.extensions["petitions.sessions"], runtime)


# ---- T-CONC-3: 20 threads x 50 random completions over 10 instances --------------------------------------

THREADS, ATTEMPTS, INSTANCES = 20, 50, 10


def _form(bpmn_id: str, rng: random.Random) -> dict[str, Any]:
    """Valid data for each step; loops (request info, return, reopen) are chosen often to keep work open."""
    if bpmn_id == "register":
        return ({"register_decision": "request_info", "info_request": "Bổ sung hồ sơ."} if rng.random() < 0.3
                else {"register_decision": "accept"})
    if bpmn_id == "approve":
        return ({"decision": "return", "return_reason": "Chưa đủ căn cứ."} if rng.random() < 0.7
                else {"decision": "approve"})
    if bpmn_id == "confirm":
        return ({"rating": "khong_hai_long", "comment": "Chưa khắc phục."} if rng.random() < 0.5
                else {"rating": "hai_long"})
    if bpmn_id == "assign":
        return {"lead_unit": "QHXD", "coordinating_agencies": rng.sample(["EVNHN", "SCT"], rng.randint(0, 2)),
                "working_days": 10}
    return {
        "supply_info": {"supplied_info": "Đã bổ sung."},
        "classify": {"petition_type": "KN", "category": "DIEN", "priority": "THUONG", "within_authority": True,
                     "triage_outcome": "THUOC_THAM_QUYEN"},
        "handle": {"handling_notes": "Đã xử lý."},
        "coordinate": {"reply_text": "Ý kiến phối hợp."},
        "draft_answer": {"answer_text": "Dự thảo trả lời.", "result_type": "DA_GIAI_QUYET"},
        "send_answer": {"answer_document_no": "1/BQL", "answer_date": "2026-12-01"},
    }[bpmn_id]


def _actor(users: dict[str, User], row: HumanTask) -> User:
    if row.role == "agency":
        return users[f"pm_{row.scope_value.lower()}"]
    return users[{"intake": "tn", "leader": "ld", "unit": "qhxd", "enterprise": "dn"}[row.role]]


def test_random_completions_from_20_threads_keep_every_completion_once(db_kind, app, session, runtime,  # noqa: ARG001
                                                                       make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    codes = [life.submit(title=f"Kiến nghị số {n}").tracking_code for n in range(INSTANCES)]
    session.rollback()
    sessions = app.extensions["petitions.sessions"]
    results: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def officer(seed: int) -> None:
        rng = random.Random(seed)
        with sessions() as db:
            users = {u.username: u for u in db.scalars(select(User))}
            db.rollback()
            start.wait(WAIT)  # every thread starts together: as much contention as possible
            for _ in range(ATTEMPTS):
                outcome = _attempt(db, rng, users)
                with lock:
                    results[outcome] += 1

    def _attempt(db: Session, rng: random.Random, users: dict[str, User]) -> str:
        code = rng.choice(codes)
        rows = db.scalars(select(HumanTask).where(HumanTask.business_key == code,
                                                  HumanTask.status == TaskStatus.OPEN)).all()
        db.rollback()  # the choice may be stale by the time the step locks the instance: that is the point
        if not rows:
            return "nothing open"
        row = rng.choice(rows)
        try:
            tasks.complete(db, runtime, _actor(users, row), row.id, _form(row.bpmn_id, rng))
            db.commit()
            return "completed"
        except Conflict:
            db.rollback()
            return "conflict"
        except Exception as exc:  # noqa: BLE001 - any other failure fails the test below
            db.rollback()
            with lock:
                errors.append(exc)
            return "error"

    threads = [threading.Thread(target=officer, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors[:3]
    assert sum(results.values()) == THREADS * ATTEMPTS
    completed_events = session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.action == "TASK_COMPLETED"))
    assert completed_events == results["completed"]  # every success is recorded once, no lost update
    session.rollback()
    counts = check_invariants(sessions, runtime)
    assert counts["completed_tasks"] == results["completed"]
    print(f"\n{db_kind}: {dict(results)}")
    if results["conflict"] == 0:
        pytest.fail("no two completions ever raced: the test exercised nothing")
