"""Shared plumbing of the benchmarks: databases, the app, users, driving a petition, timing and reporting."""
from __future__ import annotations

import contextlib
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PETITIONS_SECRET_KEY", "bench-secret-key-not-for-production")

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_bench"
# PostgreSQL on the same machine is reached by its Unix socket when it has one, as docs/deployment.md advises for
# a server next to the app: each round trip then costs the app's CPU less than through the TCP loopback.
PG_SOCKET_DIR = "/var/run/postgresql"
_RUN = os.getpid()  # two runs at once never share (and drop) each other's database

# The happy path of bpmn/petition.bpmn: (bpmn id, role key, form data).
HAPPY_PATH: list[tuple[str, str, dict[str, Any]]] = [
    ("register", "intake", {"register_decision": "accept"}),
    ("classify", "intake", {"petition_type": "KN", "category": "DIEN", "priority": "THUONG",
                            "within_authority": True, "triage_outcome": "THUOC_THAM_QUYEN"}),
    ("assign", "leader", {"lead_unit": "QHXD", "coordinating_agencies": ["EVNHN"], "working_days": 10}),
    ("handle", "unit", {"handling_notes": "Đã làm việc với điện lực."}),
    ("coordinate", "agency", {"reply_text": "Ý kiến của EVNHN", "reply_document_no": "EVNHN/01"}),
    ("draft_answer", "unit", {"answer_text": "Đã khắc phục.", "result_type": "DA_GIAI_QUYET"}),
    ("approve", "leader", {"decision": "approve"}),
    ("send_answer", "intake", {"answer_document_no": "12/BQL-QHXD", "answer_date": "2026-02-02"}),
    ("confirm", "enterprise", {"rating": "hai_long"}),
]
ENTERPRISE_TAX = "0100000001"


@dataclass
class Figure:
    """One line of the report: the measured value, its target and the baseline measured in the same run."""

    number: int
    name: str
    value: str
    target: str
    baseline: str
    met: bool | None  # None: not measured
    details: list[str] = field(default_factory=list)


# ---- timing ------------------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> str:
    """Return 'p50 x ms, p95 y ms (n)' of durations in seconds."""
    return (f"p50 {statistics.median(values) * 1000:.2f} ms, p95 {percentile(values, 95) * 1000:.2f} ms "
            f"(n={len(values)})")


def timed(fn: Callable[[], Any]) -> float:
    """Return how long fn() took, in seconds."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def load_average() -> str:
    """Return the 1/5/15-minute load averages of the machine."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# ---- databases ------------------------------------------------------------------------------------------


def pg_url() -> str:
    """Return the URL of this run's own PostgreSQL database, `petitions_bench_<pid>` (created and dropped).

    `PETITIONS_BENCH_PG_URL` names another one; otherwise the local server's Unix socket when it answers there,
    else 127.0.0.1:5432.
    """
    return os.environ.get("PETITIONS_BENCH_PG_URL") or _local_url()


@functools.lru_cache(maxsize=1)
def _local_url() -> str:
    from sqlalchemy import URL, create_engine, make_url, text

    tcp = make_url(f"{DEFAULT_PG}_{_RUN}")
    if os.path.exists(os.path.join(PG_SOCKET_DIR, ".s.PGSQL.5432")):
        local = URL.create(tcp.drivername, tcp.username, tcp.password, database=tcp.database,
                           query={"host": PG_SOCKET_DIR})
        probe = create_engine(local.set(database="postgres"))
        try:
            with probe.connect() as conn:
                conn.execute(text("SELECT 1"))
            return local.render_as_string(hide_password=False)
        except Exception:  # noqa: BLE001 - no socket access (peer authentication, say): TCP then
            pass
        finally:
            probe.dispose()
    return tcp.render_as_string(hide_password=False)


def by_socket(url: str) -> bool:
    """Tell whether `url` reaches its server through a Unix socket (a `host` query naming a directory)."""
    from sqlalchemy import make_url

    return str(make_url(url).query.get("host", "")).startswith("/")


def server_url(url: str) -> str:
    """Return the URL of the `postgres` database on the server of `url`."""
    from sqlalchemy import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def _server(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(server_url(url), isolation_level="AUTOCOMMIT")


def _name(url: str) -> str:
    from sqlalchemy import make_url

    return str(make_url(url).database)


def create_pg(url: str) -> None:
    """Create the database of `url` afresh (dropping a leftover one)."""
    from sqlalchemy import text

    name = _name(url)
    server = _server(url)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()


def drop_pg(url: str) -> None:
    """Drop the database of `url`."""
    from sqlalchemy import text

    name = _name(url)
    server = _server(url)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """Yield the URL of an empty database of `kind` ('sqlite' or 'postgresql'), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="petitions-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite"
        return
    url = pg_url()
    create_pg(url)
    try:
        yield url
    finally:
        drop_pg(url)


def make_app(url: str) -> Any:
    """Return the app on `url`, migrated, with the shipped BPMN deployed."""
    import logging

    from webapp import create_app
    from webapp.cli import initialise

    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = create_app({"PETITIONS_DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SESSION_COOKIE_SECURE": False})
    with app.app_context(), contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
        initialise()
    return app


# ---- users and petitions --------------------------------------------------------------------------------


class Actors:
    """One user per role of the happy path (created once per database)."""

    def __init__(self, session: Any, suffix: str = "") -> None:
        from workflows.users import create_user, get_or_create_enterprise

        def make(name: str, role: str, **scope: Any) -> Any:
            return create_user(session, f"{name}{suffix}", PASSWORD, [role], **scope)

        enterprise = get_or_create_enterprise(session, ENTERPRISE_TAX, "Công ty TNHH Đo Hiệu Năng")
        self.by_role = {
            "intake": make("bench_tn", "intake"),
            "leader": make("bench_ld", "leader"),
            "unit": make("bench_qhxd", "unit", unit="QHXD"),
            "agency": make("bench_evn", "agency", agency="EVNHN"),
            "enterprise": make("bench_dn", "enterprise", enterprise=enterprise),
        }
        self.enterprise = enterprise
        session.commit()


def submit(session: Any, runtime: Any, actors: Actors, title: str = "Mất điện kéo dài tại nhà xưởng") -> Any:
    """Submit one petition as the enterprise user and commit."""
    from engine.audit import Actor
    from workflows import petitions

    sub = petitions.Submission(title=title, content="Nhà xưởng bị mất điện nhiều lần trong tuần.", zone="TL",
                               channel="CONG_DVC", category_hint="DIEN")
    petition = petitions.submit(session, runtime, Actor("bench_dn", "enterprise"), actors.enterprise, sub)
    session.commit()
    return petition


def open_task_id(session: Any, tracking_code: str, bpmn_id: str) -> str:
    """Return the id of the petition's open task `bpmn_id`."""
    from sqlalchemy import select

    from engine.models import HumanTask, TaskStatus

    task_id = session.scalar(select(HumanTask.id).where(
        HumanTask.business_key == tracking_code, HumanTask.bpmn_id == bpmn_id, HumanTask.status == TaskStatus.OPEN))
    if task_id is None:
        raise RuntimeError(f"{tracking_code} has no open {bpmn_id} task")
    return task_id


def complete(session: Any, runtime: Any, actors: Actors, tracking_code: str, bpmn_id: str, role: str,
             data: dict[str, Any]) -> None:
    """Complete the petition's open task `bpmn_id` as the role's user, in one transaction (committed)."""
    from workflows import tasks

    task_id = open_task_id(session, tracking_code, bpmn_id)
    tasks.complete(session, runtime, actors.by_role[role], task_id, data)
    session.commit()
