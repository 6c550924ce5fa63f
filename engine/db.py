"""Database plumbing: declarative base, engine factory with the locking rules of DESIGN decision 3."""
from __future__ import annotations

import datetime as dt
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, create_engine, event
from sqlalchemy import exc as exc_mod
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator

# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Store timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every table (engine and domain)."""

    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, dt.datetime: UTCDateTime}


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


def is_sqlite(session_or_engine: Session | Engine) -> bool:
    """Tell whether the session or engine talks to SQLite."""
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite every transaction starts with BEGIN IMMEDIATE (one writer at a time)."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    _send_queued_with_commit(engine)
    return engine


# ---- statements sent in the COMMIT's round trip (PostgreSQL with psycopg) ----------------------------------
# The raw connection -> the statements queued for its transaction's COMMIT: (sql, parameters, on_rows).
_WITH_COMMIT: weakref.WeakKeyDictionary[Any, list[tuple[str, Any, Callable[[list[Any]], None]]]] = (
    weakref.WeakKeyDictionary())


def send_with_commit(connection: Connection, sql: str, parameters: Any, on_rows: Callable[[list[Any]], None]) -> bool:
    """Queue `sql` to run last in this transaction, sent with its COMMIT in one round trip; False if it cannot be.

    `on_rows(rows)` gets the statement's rows once the COMMIT has succeeded (it must not fail: the transaction is
    committed). When the statement fails, the COMMIT is not applied: the commit raises the statement's error and
    the transaction rolls back, as if the statement had run on its own before it. A rollback drops the queue.
    Only engines made by `make_engine` on psycopg with pipeline support (libpq 14+) can; the caller executes the
    statement at once when this returns False (`sql` uses psycopg's `%(name)s` placeholders).

    Why: a statement that takes a lock held to the end of the transaction (the audit chain's) holds it, on its
    own, for two round trips and for whatever the app does between them; under load the app's threads wait for
    the GIL there, and every other writer waits behind them (docs/performance.md, figure 2).
    """
    if not connection.dialect.__dict__.get("petitions_commit_pipeline"):
        return False
    raw = connection.connection.dbapi_connection
    _WITH_COMMIT.setdefault(raw, []).append((sql, parameters, on_rows))
    return True


def _send_queued_with_commit(engine: Engine) -> None:
    """Make this engine's commits send the statements queued by `send_with_commit` in a psycopg pipeline."""
    if engine.dialect.driver != "psycopg":
        return
    import psycopg

    if not psycopg.Pipeline.is_supported():
        return
    dialect = engine.dialect
    plain_commit, plain_rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)  # the pool's proxy, or the raw one
        queued = _WITH_COMMIT.pop(raw, None)
        if not queued:
            plain_commit(dbapi_connection)
            return
        cursors = []
        with raw.pipeline():  # the statements, then COMMIT, then one Sync: one round trip
            for sql, parameters, _on_rows in queued:
                cursor = raw.cursor()
                cursor.execute(sql, parameters)
                cursors.append(cursor)
            raw.commit()
        for (_sql, _parameters, on_rows), cursor in zip(queued, cursors, strict=True):
            on_rows(cursor.fetchall())
            cursor.close()

    def do_rollback(dbapi_connection: Any) -> None:
        _WITH_COMMIT.pop(getattr(dbapi_connection, "dbapi_connection", dbapi_connection), None)
        plain_rollback(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
    dialect.petitions_commit_pipeline = True


PING_AFTER_IDLE = 10.0  # seconds a pooled connection may rest before its next checkout tests it


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection at checkout only when it rested `PING_AFTER_IDLE` seconds or more.

    SQLAlchemy's `pool_pre_ping` costs a round trip at every checkout, i.e. per HTTP request (docs/performance.md,
    figure 2). A connection returned moments ago is as good as the last statement it ran; one that rested may
    have been closed by a server restart or a firewall, and a failed test makes the pool replace it (and
    retry the checkout) instead of failing the request. A server restart within the idle window fails the
    one request that meets a dead connection; SQLAlchemy then invalidates the pool's older connections.
    """
    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _rested_since(_dbapi_conn: Any, record: Any) -> None:  # a new connection has just proved itself
        if record is not None:
            record.info["engine.checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_rested(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("engine.checked_in_at")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            ok = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the connection is unusable
            raise exc_mod.DisconnectionError(f"pooled connection failed its test: {exc}") from exc
        if ok is False:
            raise exc_mod.DisconnectionError("pooled connection failed its test")


def _configure_sqlite(engine: Engine) -> None:
    # SQLite ignores SELECT ... FOR UPDATE; BEGIN IMMEDIATE takes the write lock at transaction start so
    # two requests on one instance serialize instead of losing an update (reliability notes E17).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory; callers own commit and rollback (engine code never commits)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


_MEMOS = "engine.transaction_memos"  # session.info: (transaction, {name: {...}})


def transaction_memo(session: Session, name: str) -> dict[Any, Any]:
    """Return the dict `name` kept for the session's current transaction: what it read once and may reuse.

    A new transaction (after a commit or a rollback) starts with empty memos, and so does the rest of a
    transaction after a savepoint ends (its commit or rollback may have added or dropped rows behind them).
    """
    session.connection()  # begins the transaction if need be: the memo belongs to it
    transaction = session.get_transaction()
    known = session.info.get(_MEMOS)
    if known is None or known[0] is not transaction:
        known = session.info[_MEMOS] = (transaction, {})
    return known[1].setdefault(name, {})


@event.listens_for(Session, "after_transaction_end")
def _forget_memos(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.pop(_MEMOS, None)


def insert_unless_present(model: Any, key: str) -> Callable[[Session], Any]:
    """Return a chooser of "insert one `model` row unless one with the same `key` exists, returning its id".

    The statement is built once per database kind; execute the chosen one with the row's values as parameters.
    """
    built = {name: insert(model).on_conflict_do_nothing(index_elements=[key]).returning(model.id)
             for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
    return lambda session: built["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
