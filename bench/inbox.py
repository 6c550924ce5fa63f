"""Figure 3 — inbox at volume: 1,000,000 petitions of history, 100,000 open tasks (PostgreSQL).

Measured with the project's own query functions, each call in a fresh session as a request would:
`workflows.tasks.inbox` (the inbox page's first page: the open tasks the officer may act on, by due date)
for a unit officer and for an intake officer, and `workflows.petitions.public_status` (lookup by tracking
code, with the petition's open tasks) for random codes. Baseline (same run): `SELECT 1` in a fresh session.
Targets: inbox p95 < 20 ms, lookup p95 < 5 ms.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bench.common import Actors, Figure, database, make_app, percentile, summary_ms
from bench.volume import analyze, code, populate

PROPOSED_INDEX = ("CREATE INDEX ix_human_task_open_queue ON human_task "
                  "(role, scope_kind, scope_value, due_date, created_at) WHERE status = 'open'")


def _measure(sessions: Any, action: Callable[[Any, int], Any], repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        with sessions() as session:
            started = time.perf_counter()
            action(session, i)
            times.append(time.perf_counter() - started)
    return times


def _plan(engine: Any, sql: str) -> list[str]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql))]


def run(quick: bool, scale: float | None = None) -> Figure:
    """Populate, VACUUM ANALYZE, then time the inbox and the lookup."""
    from sqlalchemy import text

    from workflows import petitions, tasks
    from workflows.models import User

    factor = scale if scale is not None else (0.05 if quick else 1.0)
    total, open_tasks = int(1_000_000 * factor), int(100_000 * factor)
    repeat = 60 if quick else 300
    with database("postgresql") as url:
        app = make_app(url)
        sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
        engine = app.extensions["petitions.engine"]
        with sessions() as session:
            actors = Actors(session)
            unit_id, intake_id = actors.by_role["unit"].id, actors.by_role["intake"].id
        started = time.perf_counter()
        with engine.begin() as conn:
            parts = populate(conn, total, open_tasks)
        load = time.perf_counter() - started
        vacuum = analyze(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT (SELECT count(*) FROM petition), (SELECT count(*) FROM human_task), "
                                     "(SELECT count(*) FROM human_task WHERE status = 'open')")).one()
        rng = random.Random(7)
        codes = [code(rng.randint(1, total)) for _ in range(repeat)]

        def inbox_of(user_id: int) -> Callable[[Any, int], Any]:
            def act(session: Any, _i: int) -> Any:
                items = tasks.inbox(session, runtime, session.get(User, user_id))
                assert items, "the officer's inbox must not be empty"
                return items
            return act

        def page_of(user_id: int, size: int = 50) -> Callable[[Any, int], Any]:
            def act(session: Any, _i: int) -> Any:  # what a paginated inbox would run: the same query, LIMIT 50
                from workflows.users import principal

                rows = runtime.inbox(session, principal(session, session.get(User, user_id)), limit=size)
                return tasks._with_petitions(session, rows)
            return act

        baseline = _measure(sessions, lambda s, _i: s.execute(text("SELECT 1")).scalar(), repeat)
        inbox_unit = _measure(sessions, inbox_of(unit_id), repeat)
        inbox_intake = _measure(sessions, inbox_of(intake_id), repeat)
        page_intake = _measure(sessions, page_of(intake_id), repeat)
        lookup = _measure(sessions, lambda s, i: petitions.public_status(s, codes[i]), repeat)
        with engine.begin() as conn:  # the index proposed in docs/performance.md, measured in the same run
            conn.execute(text(PROPOSED_INDEX))
            conn.execute(text("ANALYZE human_task"))
        indexed = (_measure(sessions, inbox_of(unit_id), repeat), _measure(sessions, inbox_of(intake_id), repeat),
                   _measure(sessions, page_of(intake_id), repeat))
        with sessions() as session:
            sizes = (len(tasks.inbox(session, runtime, session.get(User, unit_id))),
                     len(tasks.inbox(session, runtime, session.get(User, intake_id))))
        plan = _plan(engine, "SELECT id FROM human_task WHERE status = 'open' AND role = 'unit' AND "
                             "scope_kind = 'unit' AND scope_value = 'QHXD' "
                             "ORDER BY due_date NULLS LAST, created_at, id LIMIT 500")
        engine.dispose()
    worst_inbox = max(percentile(inbox_unit, 95), percentile(inbox_intake, 95))
    return Figure(
        3, f"Inbox at volume ({rows[0]:,} petitions, {open_tasks:,} open tasks, PostgreSQL)",
        value=f"inbox unit officer {summary_ms(inbox_unit)}; intake officer {summary_ms(inbox_intake)}; "
              f"lookup by code {summary_ms(lookup)}",
        target="inbox p95 < 20 ms; lookup p95 < 5 ms" + ("" if factor == 1.0 else f" (at full scale; ran x{factor})"),
        baseline=f"SELECT 1 in a fresh session {summary_ms(baseline)}",
        met=worst_inbox < 0.020 and percentile(lookup, 95) < 0.005,
        details=[f"{rows[1]:,} human_task rows ({rows[2]:,} open); inbox sizes (first page, max 500): unit {sizes[0]}, "
                 f"intake {sizes[1]}; bulk load {load:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in parts.items())}),"
                 f" VACUUM ANALYZE {vacuum:.0f} s",
                 f"a 50-row first page (runtime.inbox limit=50 + petitions) for the intake officer: "
                 f"{summary_ms(page_intake)}",
                 f"with the proposed partial index ({PROPOSED_INDEX[13:60]}...): inbox unit {summary_ms(indexed[0])};"
                 f" intake {summary_ms(indexed[1])}; 50-row page {summary_ms(indexed[2])}",
                 "plan of the unit officer's scoped branch of the inbox query (with the index): " + " | ".join(line.strip() for line in plan[:6])],
    )
