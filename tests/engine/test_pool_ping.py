"""Pooled PostgreSQL connections are tested at checkout only after they rested (engine.db._ping_when_idle).

A real server: the backend behind a pooled connection is terminated, as a server restart or a firewall would,
and the next checkout after the rest must get a working connection instead of failing the request.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

import engine.db
from engine.db import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pool(_pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int]]]:
    made = make_engine(_pg_database, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real = made.dialect.do_ping

    def counting(dbapi_conn: Any) -> bool:
        pings.append(1)
        return real(dbapi_conn)

    monkeypatch.setattr(made.dialect, "do_ping", counting)
    yield made, pings
    made.dispose()


def _backend(bind: Engine) -> int:
    with bind.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_connection_returned_moments_ago_is_not_tested(pool: tuple[Engine, list[int]]) -> None:
    bind, pings = pool
    first = _backend(bind)  # a new connection: nothing to test yet
    assert [_backend(bind) for _ in range(5)] == [first] * 5  # the same pooled connection every time
    assert pings == []  # no round trip spent on testing it


def test_a_rested_connection_whose_server_side_died_is_replaced(pool: tuple[Engine, list[int]], _pg_database: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bind, pings = pool
    dead = _backend(bind)
    _terminate(_pg_database, dead)
    monkeypatch.setattr(engine.db, "PING_AFTER_IDLE", 0.0)  # as if it had rested past the window
    assert _backend(bind) != dead  # the checkout tested it, dropped it and connected again
    assert pings  # it was tested
    assert _backend(bind) != dead


def test_without_the_test_a_dead_connection_fails_the_request(pool: tuple[Engine, list[int]],
                                                               _pg_database: str) -> None:
    # What the test at checkout saves a rested connection from (and why it is worth a round trip then).
    bind, _pings = pool
    dead = _backend(bind)
    _terminate(_pg_database, dead)
    with pytest.raises(Exception, match="terminat|closed|server"):
        _backend(bind)
    assert _backend(bind) != dead  # the pool noticed the disconnect and connects again
