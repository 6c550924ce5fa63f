"""Two officers completing the same task at the same moment: one wins, the other gets 409."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict
from engine.models import AuditEvent
from tests.integration.support import Lifecycle
from workflows import tasks
from workflows.models import User


def test_same_task_completed_twice_at_once(db_kind, app, session, runtime, make_user) -> None:  # noqa: ARG001
    life = Lifecycle(session, runtime, make_user)
    make_user("tn2", "intake")
    petition = life.submit()
    task_id = life.task_of(life.intake, petition, "register")
    session.rollback()  # end this session's transaction: on SQLite it would hold the write lock
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def officer(username: str) -> None:
        with app.extensions["petitions.sessions"]() as db:
            user = db.scalar(select(User).where(User.username == username))
            db.rollback()  # release SQLite's write lock before both officers go
            barrier.wait()
            try:
                tasks.complete(db, runtime, user, task_id, {"register_decision": "accept"})
                db.commit()
                outcomes[username] = "ok"
            except Conflict:
                db.rollback()
                outcomes[username] = "conflict"

    threads = [threading.Thread(target=officer, args=(name,)) for name in ("tn", "tn2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes.values()) == ["conflict", "ok"]
    completions = session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "TASK_COMPLETED", AuditEvent.task_id == task_id))
    assert completions == 1
    assert life.open_steps(petition) == [("classify", "intake")]


def test_completing_a_task_already_completed_is_a_conflict(db_kind, session, runtime, make_user) -> None:  # noqa: ARG001
    life = Lifecycle(session, runtime, make_user)
    petition = life.submit()
    task_id = life.task_of(life.intake, petition, "register")
    tasks.complete(session, runtime, life.intake, task_id, {"register_decision": "accept"})
    session.commit()
    with pytest.raises(Conflict):
        tasks.complete(session, runtime, life.intake, task_id, {"register_decision": "accept"})


def test_a_task_claimed_by_one_officer_cannot_be_completed_by_another(session, runtime, make_user) -> None:
    life = Lifecycle(session, runtime, make_user)
    other = make_user("tn2", "intake")
    petition = life.submit()
    task_id = life.task_of(life.intake, petition, "register")
    tasks.claim(session, runtime, life.intake, task_id)
    session.commit()
    with pytest.raises(Conflict):
        tasks.claim(session, runtime, other, task_id)
    session.rollback()
    with pytest.raises(Conflict):
        tasks.complete(session, runtime, other, task_id, {"register_decision": "accept"})
    session.rollback()
    tasks.release(session, runtime, life.intake, task_id)
    session.commit()
    tasks.complete(session, runtime, other, task_id, {"register_decision": "accept"})
    session.commit()
