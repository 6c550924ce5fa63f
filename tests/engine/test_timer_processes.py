"""Three real `petitions scheduler` processes sweep 1,000 due timers on PostgreSQL; one is SIGKILLed mid-sweep.

Every timer must fire exactly once (T-TIMER-2, T-TIMER-3; issue 3 acceptance 3): one `TIMER_FIRED` audit
event per timer row, no unfired row left, every instance completed (none half-advanced), the audit chain
intact. The subprocesses work in a database of their own (named after this pytest process's database).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import make_url, text

from engine.audit import Actor, verify_chain
from engine.db import make_engine, session_factory
from engine.definitions import deploy
from engine.runtime import Runtime
from tests.conftest import PG_SERVER_URL, PG_URL
from workflows.database import upgrade

pytestmark = pytest.mark.postgres

N_TIMERS = 1000
N_PROCESSES = 3
KILL_AFTER = 250  # fired timers before one process is killed
DEADLINE_S = 600  # a safety cap only: the waits below end on completion or when progress stalls
STALL_S = 60  # no timer fired for this long while some remain: the tickers are stuck

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="urn:test">
 <bpmn:process id="t_overdue" isExecutable="true">
  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
   <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="after"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
   <bpmn:script>escalated = True</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
  <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
 </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def own_database() -> Iterator[str]:
    """An empty PostgreSQL database used by this test only, migrated to head."""
    url = make_url(PG_URL)
    url = url.set(database=f"{url.database}_timer_processes")
    admin = make_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    upgrade(engine)
    engine.dispose()
    yield rendered
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def _seed(url: str) -> None:
    """1,000 instances waiting on a timer that fell due an hour ago: one started, the rest cloned in SQL."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    runtime = Runtime()
    with sessions() as session:
        deploy(session, "t_overdue", {"overdue.bpmn": MODEL.encode()}, {}, Actor("designer", "designer"))
        # Started two hours ago (on a moved clock), so its PT1H timer is an hour overdue in real time.
        with time_machine.travel(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2), tick=True):
            template = runtime.start(session, "t_overdue", "P-1", {}, Actor("intake", "intake"))
        session.commit()
        session.execute(text(
            "INSERT INTO process_instance (definition_id, business_key, status, business_status, serializer_version,"
            " state, end_event, error, version, created_at, updated_at)"
            " SELECT definition_id, 'P-' || g, status, business_status, serializer_version, state, end_event, error,"
            " version, created_at, updated_at FROM process_instance, generate_series(2, :n) AS g WHERE id = :t"),
            {"n": N_TIMERS, "t": template.id})
        # Due times spread over the last hour and a bit, so that the sweep order is not the insertion order.
        session.execute(text(
            "INSERT INTO timer (instance_id, task_id, bpmn_id, kind, due_at, attempts)"
            " SELECT p.id, t.task_id, t.bpmn_id, t.kind, t.due_at - ((p.id * 7919) % 3600) * interval '1 second', 0"
            " FROM process_instance p CROSS JOIN timer t WHERE t.instance_id = :t AND p.id <> :t"), {"t": template.id})
        session.commit()
        assert session.execute(text("SELECT count(*) FROM timer WHERE fired_at IS NULL AND due_at < now()")).scalar() \
            == N_TIMERS
    engine.dispose()


def _scalar(engine: Any, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _wait_until_all_fired(engine: Any, started: float) -> None:
    """Wait while timers remain and the tickers keep making progress."""
    last_left, last_progress = None, time.monotonic()
    while time.monotonic() - started < DEADLINE_S and time.monotonic() - last_progress < STALL_S:
        left = _scalar(engine, "SELECT count(*) FROM timer WHERE fired_at IS NULL")
        if left == 0:
            return
        if left != last_left:
            last_left, last_progress = left, time.monotonic()
        time.sleep(0.1)


def test_three_scheduler_processes_fire_1000_timers_exactly_once_despite_a_sigkill(own_database, tmp_path: Path) -> None:
    _seed(own_database)
    engine = make_engine(own_database)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    started = time.monotonic()
    try:
        for n in range(N_PROCESSES):
            env = {**os.environ, "PETITIONS_DATABASE_URL": f"{own_database}?application_name=ticker{n}",
                   "PETITIONS_SECRET_KEY": "test-secret-key-not-for-production"}
            log = tmp_path / f"ticker{n}.log"
            logs.append(log)
            with log.open("wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", "from webapp.cli import main; main()", "scheduler", "--interval", "0.5",
                     "--batch", "50"],
                    env=env, stdout=out, stderr=subprocess.STDOUT))

        # Kill ticker0 once it is inside a transaction (mid-fire), after a good part of the work is done.
        victim_in_transaction = False
        fired_at_kill = None
        while time.monotonic() - started < DEADLINE_S:
            fired = _scalar(engine, "SELECT count(*) FROM timer WHERE fired_at IS NOT NULL")
            if fired >= KILL_AFTER:
                state = _scalar(engine, "SELECT string_agg(state, ',') FROM pg_stat_activity "
                                        "WHERE application_name = 'ticker0' AND state <> 'idle'")
                if state or fired >= N_TIMERS // 2:
                    procs[0].send_signal(signal.SIGKILL)
                    victim_in_transaction, fired_at_kill = bool(state), fired
                    break
            time.sleep(0.005)
        assert fired_at_kill is not None and fired_at_kill < N_TIMERS, "no ticker was killed mid-sweep"
        procs[0].wait(10)
        assert procs[0].returncode == -signal.SIGKILL

        _wait_until_all_fired(engine, started)
        duration = time.monotonic() - started

        for proc in procs[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc in procs[1:]:
            proc.wait(30)
        outputs = [log.read_text(errors="replace") for log in logs]
        for proc, output in zip(procs[1:], outputs[1:], strict=True):
            assert proc.returncode == 0, output[-3000:]
            assert "scheduler stopped" in output
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    assert _scalar(engine, "SELECT count(*) FROM timer WHERE fired_at IS NULL") == 0
    assert _scalar(engine, "SELECT count(*) FROM timer") == N_TIMERS
    fired_events = _scalar(engine, "SELECT count(*) FROM audit_event WHERE action = 'TIMER_FIRED'")
    duplicates = _scalar(engine, "SELECT count(*) FROM (SELECT data->>'timer_id' FROM audit_event "
                                 "WHERE action = 'TIMER_FIRED' GROUP BY 1 HAVING count(*) > 1) d")
    per_timer = _scalar(engine, "SELECT count(DISTINCT data->>'timer_id') FROM audit_event WHERE action = 'TIMER_FIRED'")
    assert (fired_events, per_timer, duplicates) == (N_TIMERS, N_TIMERS, 0)
    assert _scalar(engine, "SELECT count(*) FROM process_instance WHERE status = 'completed' AND end_event = 'end'") \
        == N_TIMERS
    assert _scalar(engine, "SELECT count(*) FROM audit_event WHERE action = 'PROCESS_COMPLETED'") == N_TIMERS
    assert _scalar(engine, "SELECT count(*) FROM incident") == 0
    with session_factory(engine)() as session:
        assert verify_chain(session) is None
    engine.dispose()

    swept = [sum(int(m) for m in re.findall(r"sweep: (\d+) timer", output)) for output in outputs]
    print(f"\n{N_TIMERS} timers, {N_PROCESSES} processes: all fired once in {duration:.1f} s; ticker0 SIGKILLed at "
          f"{fired_at_kill} fired ({'inside a transaction' if victim_in_transaction else 'between transactions'}); "
          f"fired per process as logged by completed sweeps: {swept}")
