"""Shared fixtures: a fresh database per test on SQLite and (parametrized) PostgreSQL, the app, users."""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

os.environ.setdefault("PETITIONS_SECRET_KEY", "test-secret-key-not-for-production")

# The server's database (CI gives `test`); each pytest process works in its own database created from it,
# so that several test runs on one machine never drop each other's tables.
PG_SERVER_URL = os.environ.get("PETITIONS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_URL = PG_SERVER_URL.rsplit("/", 1)[0] + f"/petitions_test_{os.getpid()}"
TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    """Create this process's PostgreSQL database once, drop it at the end."""
    from sqlalchemy import create_engine

    name = PG_URL.rsplit("/", 1)[1]
    server = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_URL
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _reset_postgres(url: str) -> None:
    from engine.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def database_url(kind: str, tmp_path: Any) -> str:
    """Return the URL of an empty database of the given kind."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'petitions.sqlite'}"
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """An empty database; SQLite unless the test also uses `db_kind`."""
    kind = request.getfixturevalue("db_kind") if "db_kind" in request.fixturenames else "sqlite"
    if kind == "postgresql":
        request.getfixturevalue("_pg_database")
    return database_url(kind, tmp_path)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    """The app on a migrated database with the shipped BPMN deployed."""
    from webapp import create_app
    from webapp.cli import initialise

    application = create_app({"PETITIONS_DATABASE_URL": db_url, "TESTING": True, "WTF_CSRF_ENABLED": False,
                              "SESSION_COOKIE_SECURE": False})
    with application.app_context():
        initialise()
    yield application
    application.extensions["petitions.engine"].dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session on the app's database; the test commits what it wants others to see."""
    with app.extensions["petitions.sessions"]() as db:
        yield db


@pytest.fixture
def runtime(app: Flask) -> Any:
    """The engine runtime wired with the petition domain."""
    return app.extensions["petitions.runtime"]


@pytest.fixture
def make_user(session: Session) -> Callable[..., Any]:
    """Create (and commit) a user: make_user('hoa', 'intake'), make_user('u', 'unit', unit='QHXD')..."""
    from workflows.users import create_user, get_or_create_enterprise

    def factory(username: str, *roles: str, unit: str | None = None, agency: str | None = None,
                tax_code: str | None = None, enterprise_name: str | None = None) -> Any:
        enterprise = get_or_create_enterprise(session, tax_code, enterprise_name or f"Công ty {tax_code}") \
            if tax_code else None
        user = create_user(session, username, TEST_PASSWORD, list(roles), unit=unit, agency=agency,
                           enterprise=enterprise)
        session.commit()
        return user

    return factory


@pytest.fixture
def client(app: Flask) -> Any:
    """A Flask test client."""
    return app.test_client()


MONDAY = dt.datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.fixture
def clock() -> Iterator[Any]:
    """The clock at Monday 05/01/2026 09:00 in Hanoi, ticking; the working calendar reset around it.

    (Modules with a clock of their own, e.g. the timer tests', define `clock` themselves.)
    """
    from workflows.calendar import reset_calendar

    reset_calendar()
    with time_machine.travel(MONDAY, tick=True) as traveller:
        yield traveller
    reset_calendar()
