"""The audit log is append-only and hash-chained; a row changed behind the app's back is found."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from engine import audit
from engine.audit import Actor, verify_chain
from engine.models import AuditEvent, HumanTask


def _append(session, n: int) -> None:
    for i in range(n):
        audit.record(session, Actor("tn", "intake"), "TASK_COMPLETED", business_key="KN.1", data={"i": i})
    session.commit()


def test_chain_of_appended_events_verifies(db_kind, session) -> None:  # noqa: ARG001
    _append(session, 5)
    assert verify_chain(session) is None


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET actor = 'x' WHERE chain_index = 3",
                                       "DELETE FROM audit_event WHERE chain_index = 3"])
def test_database_refuses_update_and_delete(db_kind, session, statement) -> None:  # noqa: ARG001
    _append(session, 4)
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text(statement))
    session.rollback()


def _disable_guard(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
    else:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_edited_row_is_reported_as_the_first_broken_link(db_kind, session) -> None:  # noqa: ARG001
    _append(session, 6)
    first = session.execute(text("SELECT min(chain_index) FROM audit_event")).scalar()
    _disable_guard(session)
    session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE chain_index = :i"), {"i": first + 3})
    session.commit()
    session.expire_all()
    assert verify_chain(session) == first + 3


def test_removed_row_is_reported(db_kind, session) -> None:  # noqa: ARG001
    _append(session, 6)
    first = session.execute(text("SELECT min(chain_index) FROM audit_event")).scalar()
    _disable_guard(session)
    session.execute(text("DELETE FROM audit_event WHERE chain_index = :i"), {"i": first + 2})
    session.commit()
    session.expire_all()
    assert verify_chain(session) == first + 2


# ---- appends at commit (the chain's lock is held for the append, not for the whole step) -----------------
def _events(session) -> list[tuple[int, str, dict]]:
    # The events these tests record (the app's setup recorded its own before).
    rows = session.execute(text("SELECT chain_index, action, data FROM audit_event WHERE action IN "
                                "('KEPT', 'LOST', 'STEP', 'OUTER', 'INNER') ORDER BY chain_index")).all()
    return [(r.chain_index, r.action, r.data if isinstance(r.data, dict) else __import__("json").loads(r.data))
            for r in rows]


def test_events_of_a_rolled_back_transaction_are_never_appended(db_kind, session) -> None:  # noqa: ARG001
    audit.record(session, Actor("tn", "intake"), "KEPT", data={"n": 1})
    session.commit()
    audit.record(session, Actor("tn", "intake"), "LOST", data={"n": 2})
    session.rollback()
    audit.record(session, Actor("tn", "intake"), "KEPT", data={"n": 3})
    session.commit()
    assert [(a, d["n"]) for _, a, d in _events(session)] == [("KEPT", 1), ("KEPT", 3)]
    assert verify_chain(session) is None


def test_a_query_of_the_log_inside_the_transaction_sees_its_own_events(db_kind, session) -> None:  # noqa: ARG001
    audit.record(session, Actor("tn", "intake"), "TASK_COMPLETED", business_key="KN.7", data={"step": "a"})
    audit.record(session, Actor("tn", "intake"), "TASK_CREATED", business_key="KN.7", data={"step": "b"})
    seen = [e.action for e in audit.history(session, "KN.7")]
    assert seen == ["TASK_COMPLETED", "TASK_CREATED"]
    session.rollback()
    assert audit.history(session, "KN.7") == []


def test_the_queue_is_written_before_each_query_that_reads_the_log_even_in_a_subquery(db_kind, session) -> None:  # noqa: ARG001
    # Whether a statement reads the log is remembered per statement shape (audit._reads_log); the second turn
    # builds equal statements anew and must get the same answers from that memory.
    for step in ("a", "b"):
        audit.record(session, Actor("tn", "intake"), "TASK_COMPLETED", business_key="KN.8", task_id=f"t-{step}")
        session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.business_key == "KN.8"))
        assert session.info.get(audit._PENDING)  # a query that does not read the log leaves the queue alone
        reading = select(func.count()).select_from(HumanTask).where(
            HumanTask.id.in_(select(AuditEvent.task_id).where(AuditEvent.business_key == "KN.8")))
        session.scalar(reading)
        assert not session.info.get(audit._PENDING)  # written first: the subquery sees this step's event
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.business_key == "KN.8")) == (1 if step == "a" else 2)
    session.rollback()


def test_chain_order_is_commit_order_and_the_lock_is_not_held_while_a_step_runs(db_kind, app) -> None:  # noqa: ARG001
    """Two transactions record events; the one that commits first comes first in the chain.

    Before the change, the first `record` took the chain's lock (PostgreSQL) and held it until commit, so the
    second transaction's `record` would have blocked until the first committed; now both record freely.
    On SQLite each transaction holds the database's write lock, so only PostgreSQL runs both at once.
    """
    sessions = app.extensions["petitions.sessions"]
    if app.extensions["petitions.engine"].dialect.name == "sqlite":
        first, second = sessions(), None
    else:
        first, second = sessions(), sessions()
    audit.record(first, Actor("a", "intake"), "STEP", data={"who": "first"})
    if second is not None:
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # a wait for `first`'s lock fails instead of hanging
        audit.record(second, Actor("b", "intake"), "STEP", data={"who": "second"})
        second.commit()
    first.commit()
    with sessions() as check:
        who = [d["who"] for _, _, d in _events(check)]
        assert who == (["second", "first"] if second is not None else ["first"])
        assert verify_chain(check) is None
    first.close()
    if second is not None:
        second.close()


def test_events_queued_before_a_savepoint_survive_its_rollback(db_kind, session) -> None:  # noqa: ARG001
    audit.record(session, Actor("tn", "intake"), "OUTER")
    audit.write_pending(session)
    savepoint = session.begin_nested()
    audit.record(session, Actor("tn", "intake"), "INNER")  # written at once inside the savepoint
    savepoint.rollback()
    session.commit()
    assert [a for _, a, _ in _events(session)] == ["OUTER"]
    assert verify_chain(session) is None


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_an_append_that_waited_for_the_chain_links_to_the_head_committed_meanwhile(db_kind, app) -> None:  # noqa: ARG001
    """The lock and the head are read in one call (migrations 0014, 0015); the read must come after the wait.

    `first` has linked its event and holds the chain's lock; `second` asks for the chain and waits (seen in
    pg_stat_activity, not guessed with a sleep); `first` commits. `second` must link to `first`'s event: a
    head read with a snapshot from before the wait would reuse its index (a unique violation) or fork the chain.
    """
    import threading

    sessions = app.extensions["petitions.sessions"]
    first, second = sessions(), sessions()
    audit.record(first, Actor("a", "intake"), "STEP", data={"who": "first"})
    audit.write_pending(first)  # linked and inserted: `first` now holds the chain's lock until it commits
    audit.record(second, Actor("b", "intake"), "STEP", data={"who": "second"})
    failure: list[BaseException] = []

    def commit_second() -> None:
        try:
            second.commit()  # links at commit: waits for `first`'s lock
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    worker = threading.Thread(target=commit_second)
    worker.start()
    with sessions() as watch:
        for _ in range(2000):
            waiting = watch.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"))
            watch.rollback()
            if waiting or not worker.is_alive():
                break
            threading.Event().wait(0.005)
        assert waiting == 1, "the second append never waited for the chain"
    first.commit()
    worker.join(30)
    assert failure == []
    with sessions() as check:
        events = _events(check)
        assert [d["who"] for _, _, d in events] == ["first", "second"]
        assert events[1][0] == events[0][0] + 1
        assert verify_chain(check) is None
    first.close()
    second.close()


def test_an_append_rides_on_the_commit_and_links_as_the_app_would(db_kind, session) -> None:  # noqa: ARG001
    """PostgreSQL links a transaction's events in the database (migration 0015), sent with the COMMIT.

    Each event's hash must be the one `compute_hash` gives for its stored content (the verifier's rule), also
    for text that JSON escapes (quotes, backslashes, non-ASCII, a key that looks like the chain index) and
    for events with no instance; SQLite links them in the app, with one head read and one insert.
    """
    from sqlalchemy import event as sa_event

    statements: list[str] = []
    engine = session.get_bind()

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        statements.append(" ".join(statement.split()))

    _append(session, 2)  # a chain to link to
    head = session.scalar(select(func.max(AuditEvent.chain_index)))
    tricky = [{"text": 'Nhà xưởng "A" \\ mất điện', "chain_index": -7246001999, "n": 1.5, "none": None},
              {"list": ["ổ", {"b": 2, "a": 1}], "emoji": "✓"}, {}]
    sa_event.listen(engine, "before_cursor_execute", on_execute)
    try:
        events = [audit.record(session, Actor("tn", "intake"), "TASK_COMPLETED", instance_id=None if i else 7,
                               business_key=f"KN.{i}", task_id=f"t{i}", bpmn_id="handle", data=data)
                  for i, data in enumerate(tricky)]
        session.commit()
    finally:
        sa_event.remove(engine, "before_cursor_execute", on_execute)
    writes = [s for s in statements if "audit" in s]
    if db_kind == "postgresql":
        assert writes == []  # not a statement of its own: it rides on the COMMIT (engine.db.send_with_commit)
    else:
        assert len(writes) == 2  # the head, then one insert of all three
    assert [e.chain_index for e in events] == [head + 1, head + 2, head + 3]
    stored = session.scalars(select(AuditEvent).where(AuditEvent.chain_index > head)
                             .order_by(AuditEvent.chain_index)).all()
    assert [(e.hash, e.prev_hash) for e in stored] == [(e.hash, e.prev_hash) for e in events]
    assert all(e.hash == audit.compute_hash(e) for e in stored)
    assert stored[0].prev_hash == session.scalar(select(AuditEvent.hash).where(AuditEvent.chain_index == head))
    assert [e.data for e in stored] == [{"text": 'Nhà xưởng "A" \\ mất điện', "chain_index": -7246001999, "n": 1.5,
                                         "none": None}, {"list": ["ổ", {"b": 2, "a": 1}], "emoji": "✓"}, {}]
    assert verify_chain(session) is None


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_the_chain_is_locked_only_in_the_commits_own_round_trip(db_kind, app, session) -> None:  # noqa: ARG001
    """At the moment the app sends the COMMIT, nobody holds the chain's lock yet: the append goes with it.

    Before, `audit_append` ran as a statement of its own at `before_commit`: the transaction held the chain's
    lock from that answer to the end of the COMMIT, a time in which the app's thread could wait for the GIL
    while every other writer waited for the chain.
    """
    from sqlalchemy import event as sa_event

    sessions, engine = app.extensions["petitions.sessions"], app.extensions["petitions.engine"]
    free_at_commit: list[bool] = []

    def on_commit(_conn) -> None:  # the last moment before the driver's commit
        with sessions() as other:
            free_at_commit.append(other.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                               {"k": audit._CHAIN_LOCK_KEY}))
            other.rollback()

    event = audit.record(session, Actor("tn", "intake"), "STEP", business_key="KN.9", data={"n": 1})
    sa_event.listen(engine, "commit", on_commit)
    try:
        session.commit()
    finally:
        sa_event.remove(engine, "commit", on_commit)
    assert free_at_commit == [True]
    assert event.chain_index is not None and event.hash == audit.compute_hash(event)
    assert [(i, a) for i, a, _ in _events(session)][-1] == (event.chain_index, "STEP")
    assert verify_chain(session) is None


@pytest.mark.postgres
@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_an_append_that_fails_with_the_commit_commits_nothing(db_kind, app, session) -> None:  # noqa: ARG001
    """The append and the COMMIT travel together; if the append fails, the COMMIT must not apply the rest.

    Another transaction holds the chain's lock, so the append times out (`lock_timeout`): the commit raises,
    the step's other write (a new user) is not committed, nothing is linked, and the session works again.
    """
    from sqlalchemy.exc import OperationalError

    from workflows.users import create_user

    sessions = app.extensions["petitions.sessions"]
    with sessions() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit._CHAIN_LOCK_KEY})
        session.execute(text("SET LOCAL lock_timeout = '200ms'"))
        create_user(session, "probe_user", "mot-khau-rat-dai-2026", ["intake"])
        audit.record(session, Actor("tn", "intake"), "STEP", data={"who": "probe_user"})
        with pytest.raises(OperationalError, match="lock"):
            session.commit()
        session.rollback()
        holder.rollback()
    assert session.scalar(text("SELECT count(*) FROM app_user WHERE username = 'probe_user'")) == 0
    assert [a for _, a, _ in _events(session) if a == "STEP"] == []
    audit.record(session, Actor("tn", "intake"), "STEP", data={"who": "again"})
    session.commit()
    assert [d for _, a, d in _events(session) if a == "STEP"] == [{"who": "again"}]
    assert verify_chain(session) is None


def test_a_commit_that_fails_after_queueing_its_append_leaves_nothing_for_the_next(db_kind, session) -> None:  # noqa: ARG001
    """The flush fails after `before_commit` queued the append: the rollback drops the queue with the events.

    Otherwise the next transaction on the same connection would send the dead transaction's events with its
    own COMMIT, and the log would hold events of a step that never happened.
    """
    from sqlalchemy.exc import IntegrityError

    from workflows.models.user import User

    session.add(User(username="twice", password_hash="-", roles=["intake"]))
    session.commit()
    audit.record(session, Actor("tn", "intake"), "STEP", data={"who": "dead"})
    session.add(User(username="twice", password_hash="-", roles=["intake"]))  # the same name: the flush fails
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    audit.record(session, Actor("tn", "intake"), "STEP", data={"who": "alive"})
    session.commit()
    assert [d["who"] for _, a, d in _events(session) if a == "STEP"] == ["alive"]
    assert verify_chain(session) is None
