"""The audit log is append-only and hash-chained; a row changed behind the app's back is found."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from engine import audit
from engine.audit import Actor, verify_chain


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
