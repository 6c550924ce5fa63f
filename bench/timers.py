"""Figure 5 — timers: a sweep of 10,000 due timers (PostgreSQL), timers fired per second.

One real petition is driven to `handle` (lead unit, no coordinating agency) on Monday 2026-01-05 with the
clock moved (time-machine), which arms its reminder and overdue boundary timers; it is cloned (bench/clone.py)
into the baseline batch and the measured batch. The sweeps run with the clock at Friday 2026-01-16 12:00
(Hanoi), when only the reminder is due: one due timer per instance, whose firing runs the reminder branch
(notifications included) in one transaction with its audit rows, as `petitions scheduler` does.

Baseline (same run): one sweeping process. Measured: `procs` processes sweeping the same table at once
(claims with FOR UPDATE SKIP LOCKED). Afterwards: every timer fired exactly once and the audit chain verifies.
Target: >= 200 timers/s.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import time
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import HAPPY_PATH, Actors, Figure, complete, database, make_app, submit

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
BUILT_AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=HANOI)
SWEEP_AT = dt.datetime(2026, 1, 16, 12, 0, tzinfo=HANOI)


def _template(url: str) -> str:
    import time_machine

    app = make_app(url)
    sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
    with time_machine.travel(BUILT_AT, tick=True), sessions() as session:
        actors = Actors(session)
        code = submit(session, runtime, actors).tracking_code
        for bpmn_id, role, data in HAPPY_PATH[:3]:
            if bpmn_id == "assign":
                data = dict(data, coordinating_agencies=[])
            complete(session, runtime, actors, code, bpmn_id, role, data)
    app.extensions["petitions.engine"].dispose()
    return code


def _due(conn: Any) -> int:
    from sqlalchemy import text

    return conn.execute(text("SELECT count(*) FROM timer WHERE fired_at IS NULL AND due_at <= :now"),
                        {"now": SWEEP_AT}).scalar_one()


def _sweeper(url: str, limit: int | None, ready: Any, go: Any, out: Any) -> None:
    """One scheduler process: sweep until nothing is due (or `limit` steps), report (fired, seconds)."""
    import logging

    import time_machine

    from engine.timers import fire_due_timers
    from webapp import create_app

    logging.disable(logging.WARNING)
    app = create_app({"PETITIONS_DATABASE_URL": url, "TESTING": True})
    sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
    engine = app.extensions["petitions.engine"]
    with time_machine.travel(SWEEP_AT, tick=True):
        ready.set()
        go.wait()
        started, fired = time.perf_counter(), 0
        while True:
            batch = 100 if limit is None else min(100, limit - fired)
            got = fire_due_timers(sessions, runtime, batch=batch)
            fired += got
            if limit is not None and fired >= limit:
                break
            if got == 0:
                with engine.connect() as conn:
                    if _due(conn) == 0:
                        break
                time.sleep(0.01)  # the rest is held by the other sweepers
        out.put((fired, time.perf_counter() - started))
    engine.dispose()


def _sweep(url: str, procs: int, limit: int | None = None) -> tuple[int, float]:
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(procs)]
    workers = [ctx.Process(target=_sweeper, args=(url, limit, readies[i], go, out)) for i in range(procs)]
    for worker in workers:
        worker.start()
    for ready in readies:
        ready.wait(120)
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=3600) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return sum(fired for fired, _ in results), elapsed


def run(quick: bool, procs: int = 3) -> Figure:
    """Baseline: one process; measured: `procs` processes over N timers; then check exactly once + chain."""
    from sqlalchemy import text

    from bench.clone import clone_petition
    from engine.audit import verify_chain
    from engine.db import make_engine, session_factory

    count, baseline_count = (1000, 300) if quick else (10_000, 1000)
    with database("postgresql") as url:
        code = _template(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            clone_petition(conn, code, count + baseline_count)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # As figure 2 does: statistics for the bulk-loaded rows now, not an autovacuum during the sweep.
            for table in ("process_instance", "petition", "human_task", "timer"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        setup = time.perf_counter() - started
        with engine.connect() as conn:
            due_before = _due(conn)
        base_fired, base_time = _sweep(url, 1, limit=baseline_count)
        fired, elapsed = _sweep(url, procs)
        with engine.connect() as conn:
            left = _due(conn)
            fire_events = conn.execute(text("SELECT count(*), count(DISTINCT data->>'timer_id') FROM audit_event "
                                            "WHERE action = 'TIMER_FIRED'")).one()
        with session_factory(engine)() as session:
            broken = verify_chain(session)
        engine.dispose()
    rate, base_rate = fired / elapsed, base_fired / base_time
    exactly_once = fire_events[0] == fire_events[1] == base_fired + fired and left == 0
    return Figure(
        5, f"Timers (sweep of {fired:,} due timers, {procs} processes, PostgreSQL)",
        value=f"{rate:.0f} timers/s ({elapsed:.1f} s)",
        target=">= 200 timers/s" + ("" if count == 10_000 else " (for 10,000)"),
        baseline=f"1 process: {base_rate:.0f} timers/s over {base_fired:,}",
        met=rate >= 200 and exactly_once and broken is None,
        details=[f"{due_before:,} due timers cloned in {setup:.1f} s; fired events {fire_events[0]:,} for "
                 f"{fire_events[1]:,} distinct timers, {left} left due -> exactly once: {exactly_once}; "
                 f"audit chain {'intact' if broken is None else f'BROKEN at {broken}'}"],
    )
