"""Database plumbing: declarative base, engine factory with the locking rules of DESIGN decision 3."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, create_engine, event
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
    return engine


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
