"""Figure 3 — inbox at volume: 1,000,000 petitions of history, 100,000 open tasks (PostgreSQL).

Measured with the project's own query functions, each call in a fresh session as a request would:
`workflows.tasks.inbox(..., limit=50)` (the inbox page's first page as the officer sees it: 50 open tasks by
due date then priority, with their petitions, read through the partial index `ix_human_task_open_queue` of migration 0010)
for a unit officer and for an intake officer, the second page (after the first page's cursor), and
`workflows.petitions.public_status` (lookup by tracking code, with the petition's open tasks) for random
codes, and the petition of random instances (`workflows.wiring.petition_of`, the read every engine step makes).
Baseline (same run): `SELECT 1` in a fresh session. Targets: inbox p95 < 20 ms, lookup p95 < 5 ms.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bench.common import Actors, Figure, database, make_app, percentile, summary_ms
from bench.volume import analyze, code, populate

PAGE = 50


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
    from workflows.wiring import petition_of

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

        def inbox_of(user_id: int, after: str | None = None) -> Callable[[Any, int], Any]:
            def act(session: Any, _i: int) -> Any:
                items = tasks.inbox(session, runtime, session.get(User, user_id), PAGE, after)
                assert len(items) == PAGE, "the officer's first pages must be full"
                return items
            return act

        with sessions() as session:
            cursor = tasks.inbox(session, runtime, session.get(User, intake_id), PAGE).next
        baseline = _measure(sessions, lambda s, _i: s.execute(text("SELECT 1")).scalar(), repeat)
        inbox_unit = _measure(sessions, inbox_of(unit_id), repeat)
        inbox_intake = _measure(sessions, inbox_of(intake_id), repeat)
        second_intake = _measure(sessions, inbox_of(intake_id, cursor), repeat)
        lookup = _measure(sessions, lambda s, i: petitions.public_status(s, codes[i]), repeat)
        with engine.connect() as conn:
            instance_ids = [row[0] for row in conn.execute(text(
                "SELECT instance_id FROM petition WHERE instance_id IS NOT NULL ORDER BY random() LIMIT :n"),
                {"n": repeat})]
        step_read = _measure(sessions, lambda s, i: petition_of(s, instance_ids[i % len(instance_ids)]), repeat)
        with engine.connect() as conn:
            index = conn.execute(text("SELECT pg_size_pretty(pg_relation_size('ix_human_task_open_queue')), "
                                      "pg_size_pretty(pg_relation_size('ix_human_task_inbox'))")).one()
        plan = _plan(engine, "SELECT id FROM human_task WHERE status = 'open' AND role = 'intake' AND "
                             "scope_kind IS NULL AND scope_value IS NULL ORDER BY scope_kind, scope_value, "
                             f"due_date NULLS LAST, priority, created_at, id LIMIT {PAGE + 1}")
        count = _measure(sessions, lambda s, _i: s.execute(text(
            "SELECT count(*) FROM human_task WHERE status = 'open' AND role = 'intake' "
            "AND scope_kind IS NULL AND scope_value IS NULL")).scalar(), max(10, repeat // 6))
        engine.dispose()
    worst_inbox = max(percentile(inbox_unit, 95), percentile(inbox_intake, 95))
    return Figure(
        3, f"Inbox at volume ({rows[0]:,} petitions, {open_tasks:,} open tasks, PostgreSQL)",
        value=f"inbox unit officer {summary_ms(inbox_unit)}; intake officer {summary_ms(inbox_intake)}; "
              f"lookup by code {summary_ms(lookup)}",
        target="inbox p95 < 20 ms; lookup p95 < 5 ms" + ("" if factor == 1.0 else f" (at full scale; ran x{factor})"),
        baseline=f"SELECT 1 in a fresh session {summary_ms(baseline)}",
        met=worst_inbox < 0.020 and percentile(lookup, 95) < 0.005,
        details=[f"{rows[1]:,} human_task rows ({rows[2]:,} open); bulk load {load:.0f} s "
                 f"({', '.join(f'{k} {v:.0f} s' for k, v in parts.items())}), VACUUM ANALYZE {vacuum:.0f} s; "
                 f"ix_human_task_open_queue {index[0]} (ix_human_task_inbox {index[1]})",
                 f"the intake officer's second page (after the first page's cursor): {summary_ms(second_intake)}",
                 f"the petition of an instance, which every engine step reads (`workflows.wiring.petition_of`, "
                 f"index of migration 0013): {summary_ms(step_read)}",
                 f"not shown on the page: COUNT of the intake officer's open tasks over the partial index "
                 f"{summary_ms(count)}",
                 "plan of the intake officer's branch of the first page: "
                 + " | ".join(line.strip() for line in plan[:5])],
    )
