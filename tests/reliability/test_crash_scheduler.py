"""SIGKILL the scheduler process inside a timer sweep, before and after a timer's commit (T-CRASH-3).

Six instances wait on timers that fell due an hour ago; the scheduler fires them four per transaction. It kills
itself (crash point `kill_before_commit:timer`, then `kill_after_commit:timer`); a third run sweeps the rest.
Every timer fires exactly once (one TIMER_FIRED event each), no instance is half-advanced, every instance loads.
"""
from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path

import time_machine
from flask import Flask
from sqlalchemy import func, select

from engine.audit import Actor
from engine.definitions import deploy
from engine.models import AuditEvent, Incident, InstanceStatus, ProcessInstance, Timer
from engine.runtime import Runtime
from engine.timers import MAX_ATTEMPTS, fire_due_timers
from tests.reliability.invariants import check_invariants, scalar
from tests.reliability.servers import run_scheduler, server_env, start_scheduler

N = 6
BATCH = 4  # timers fired per transaction by the scheduler here (PETITIONS_TIMERS_PER_TRANSACTION)
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="urn:test">
 <bpmn:process id="t_crash" isExecutable="true">
  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
   <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="after"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
   <bpmn:script>fired_count = fired_count + 1</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
  <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
 </bpmn:process>
</bpmn:definitions>
"""


def _seed(app: Flask, n_instances: int = N) -> None:
    runtime = Runtime()
    with app.extensions["petitions.sessions"]() as session:
        deploy(session, "t_crash", {"crash.bpmn": MODEL.encode()}, {}, Actor("designer", "designer"))
        with time_machine.travel(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2), tick=True):
            for n in range(n_instances):
                runtime.start(session, "t_crash", f"T-{n}", {"fired_count": 0}, Actor("intake", "intake"))
        session.commit()


def _fired(sessions) -> tuple[int, int, int]:  # noqa: ANN001
    rows = scalar(sessions, select(func.count()).select_from(Timer).where(Timer.fired_at.is_not(None)))
    events = scalar(sessions, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "TIMER_FIRED"))
    done = scalar(sessions, select(func.count()).select_from(ProcessInstance)
                  .where(ProcessInstance.status == InstanceStatus.COMPLETED))
    return rows, events, done


def test_scheduler_killed_in_a_sweep_fires_every_timer_exactly_once(db_kind, db_url, app: Flask,  # noqa: ARG001
                                                                     tmp_path: Path) -> None:
    _seed(app)
    sessions = app.extensions["petitions.sessions"]
    arm = tmp_path / "arm"
    arm.mkdir()
    env, log = server_env(db_url, arm), tmp_path / "scheduler.log"
    env["PETITIONS_TIMERS_PER_TRANSACTION"] = str(BATCH)
    assert scalar(sessions, select(func.count()).select_from(Timer).where(Timer.fired_at.is_(None))) == N

    (arm / "kill_before_commit:timer").touch()
    assert run_scheduler(env, log) == -signal.SIGKILL
    assert _fired(sessions) == (0, 0, 0)  # the batch's steps were rolled back whole

    (arm / "kill_after_commit:timer").touch()
    assert run_scheduler(env, log) == -signal.SIGKILL
    assert _fired(sessions) == (BATCH, BATCH, BATCH)  # the batch committed just before the crash: kept, only it

    proc = start_scheduler(env, log)  # crash points enabled but not armed: a normal sweep
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while _fired(sessions)[0] < N and dt.datetime.now() < deadline and proc.poll() is None:
            time.sleep(0.1)  # polling the database for progress, not ordering anything
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
    assert _fired(sessions) == (N, N, N)
    per_timer = scalar(sessions, select(func.count(func.distinct(AuditEvent.task_id)))
                       .where(AuditEvent.action == "TIMER_FIRED"))
    assert per_timer == N
    with sessions() as session:
        runtime = app.extensions["petitions.runtime"]
        for instance in session.scalars(select(ProcessInstance).where(ProcessInstance.business_key.like("T-%"))):
            assert runtime.load(session, instance).data["fired_count"] == 1  # the script ran once per instance
        session.rollback()
    check_invariants(sessions, app.extensions["petitions.runtime"])


def test_a_stored_state_of_an_unknown_format_becomes_an_incident_not_a_crash(app: Flask) -> None:
    _seed(app, 1)
    sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
    with sessions() as session:
        instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == "T-0"))
        instance.serializer_version = "9.0"  # as if written by a newer release
        session.commit()
        stored = instance.state
    for _ in range(MAX_ATTEMPTS):
        assert fire_due_timers(sessions, runtime) == 0  # refused, counted, the sweep goes on
    with sessions() as session:
        incident = session.scalar(select(Incident))
        instance = session.get(ProcessInstance, incident.instance_id)
        assert instance.status == InstanceStatus.ERROR and instance.state == stored
        assert "'9.0'" in incident.message and "reads only '1.5'" in incident.message
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "TIMER_FIRED")) == 0
