"""Figure 1 — engine step: task completions per second along the petition's happy path.

(a) SpiffWorkflow alone, in memory; (b) the same with serialize + deserialize (JSON, spec included) around
every task; (c) the project's engine (`workflows.tasks.complete`: lock, load, run, dump, timers, task
projection, audit chain, notifications) with one committed database transaction per task, on SQLite and on
PostgreSQL. Target: (c) >= 50 % of (b).
"""
from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import HAPPY_PATH, Actors, Figure, complete, database, make_app, submit


def _in_memory(petitions: int, round_trip: bool) -> float:
    from SpiffWorkflow.util.task import TaskState

    from engine.definitions import serializer
    from tests.bpmn_driver import petition_seed, script_engine, start

    engine = script_engine()
    ser = serializer()
    done, elapsed = 0, 0.0
    for n in range(petitions):
        workflow = start(petition_seed(tracking_code=f"KN.20260105.{n:04d}"), engine)
        started = time.perf_counter()
        for bpmn_id, _role, data in HAPPY_PATH:
            if round_trip:
                workflow = ser.deserialize_json(ser.serialize_json(workflow))
                workflow.script_engine = engine
            task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                        if t.task_spec.bpmn_id == bpmn_id)
            task.set_data(**data)
            task.run()
            workflow.do_engine_steps()
            done += 1
        if round_trip:
            ser.serialize_json(workflow)  # the last task's state is saved too
        elapsed += time.perf_counter() - started
        assert workflow.is_completed(), "the happy path must end the process"
    return done / elapsed


def _through_engine(kind: str, petitions: int) -> float:
    with database(kind) as url:
        app = make_app(url)
        sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
        with sessions() as session:
            actors = Actors(session)
            codes = [submit(session, runtime, actors).tracking_code for _ in range(petitions + 1)]
            for bpmn_id, role, data in HAPPY_PATH:  # warm up, as (a) and (b) are: forms, scripts, statements
                complete(session, runtime, actors, codes[0], bpmn_id, role, data)
            done, started = 0, time.perf_counter()
            for code in codes[1:]:
                for bpmn_id, role, data in HAPPY_PATH:
                    complete(session, runtime, actors, code, bpmn_id, role, data)
                    done += 1
            elapsed = time.perf_counter() - started
        app.extensions["petitions.engine"].dispose()
    return done / elapsed


def run(quick: bool) -> Figure:
    """Measure (a), (b), (c) SQLite and (c) PostgreSQL in this run, in interleaved rounds.

    The machine is shared: its speed drifts by tens of percent within a minute. Each round measures the four
    variants one after the other, and the figure compares the medians over the rounds, so that a slow spell
    weighs on (b) and (c) alike instead of on whichever ran during it.
    """
    petitions, rounds = (4, 2) if quick else (12, 3)
    _in_memory(1, True)  # warm up: parse the spec, import everything once
    samples: dict[str, list[float]] = {"a": [], "b": [], "sqlite": [], "postgresql": []}
    for _ in range(rounds):
        samples["a"].append(_in_memory(petitions, round_trip=False))
        samples["b"].append(_in_memory(petitions, round_trip=True))
        samples["sqlite"].append(_through_engine("sqlite", petitions))
        samples["postgresql"].append(_through_engine("postgresql", petitions))
    a, b, c_sqlite, c_pg = (statistics.median(samples[k]) for k in ("a", "b", "sqlite", "postgresql"))
    worst = min(c_sqlite, c_pg)
    spread = "; ".join(f"{k} " + ", ".join(f"{v:.0f}" for v in values) for k, values in samples.items())
    return Figure(
        1, "Engine step (tasks/s, petition happy path)",
        value=f"(c) SQLite {c_sqlite:.1f}/s = {c_sqlite / b:.0%} of (b); (c) PostgreSQL {c_pg:.1f}/s = {c_pg / b:.0%} of (b)",
        target="(c) >= 50% of (b)",
        baseline=f"(a) in memory {a:.1f}/s; (b) + serialize/deserialize per task {b:.1f}/s",
        met=worst >= 0.5 * b,
        details=[f"{petitions} petitions x {len(HAPPY_PATH)} tasks per variant and round, after one warm-up petition "
                 "each (the first use of each form, script and statement is not a step's cost)",
                 f"medians of {rounds} interleaved rounds (a, b, c SQLite, c PostgreSQL); per round, tasks/s: {spread}"],
    )


def profile(kind: str = "postgresql", petitions: int = 3) -> Any:
    """Profile (c) (for docs/performance.md): python -c 'from bench.engine_step import profile; profile()'."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(_through_engine, kind, petitions)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
