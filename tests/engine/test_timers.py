"""Timer rows, the sweep and the ticker (reliability notes §2, R1, R3, R8; T-TIMER-1, -4, -5).

Small inline BPMN models are deployed under their own process ids and run by a plain engine `Runtime`.
Nothing sleeps: the clock is moved with time-machine (SpiffWorkflow compares with `datetime.now`), and
races are ordered with `threading.Event`s set from the engine's own hooks.
"""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import Actor, verify_chain
from engine.contracts import Hooks, Principal
from engine.db import make_engine, session_factory, utcnow
from engine.definitions import deploy
from engine.errors import Conflict
from engine.models import AuditEvent, HumanTask, Incident, InstanceStatus, ProcessInstance, TaskStatus, Timer
from engine.models.timer import TimerKind
from engine.runtime import Runtime
from engine.scheduler import JOB_ID, make_scheduler, run_blocking
from engine.timers import MAX_ATTEMPTS, fire_due_timers, resolve_incident
from workflows.database import upgrade

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="urn:test">
 <bpmn:process id="{pid}" isExecutable="true">
  <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
"""
TAIL = """ </bpmn:process>
</bpmn:definitions>
"""

# A user task with an interrupting deadline (1 h) and a non-interrupting reminder (30 min).
BOUNDARY = HEAD.format(pid="t_boundary") + """
  <bpmn:userTask id="review" name="Review"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
  <bpmn:boundaryEvent id="deadline" attachedToRef="review"><bpmn:outgoing>f3</bpmn:outgoing>
   <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:boundaryEvent id="reminder" attachedToRef="review" cancelActivity="false"><bpmn:outgoing>f4</bpmn:outgoing>
   <bpmn:timerEventDefinition><bpmn:timeDuration>"PT30M"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:endEvent id="end_done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  <bpmn:endEvent id="end_escalated"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  <bpmn:scriptTask id="remind"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
   <bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="end_reminded"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
  <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end_done"/>
  <bpmn:sequenceFlow id="f3" sourceRef="deadline" targetRef="end_escalated"/>
  <bpmn:sequenceFlow id="f4" sourceRef="reminder" targetRef="remind"/>
  <bpmn:sequenceFlow id="f5" sourceRef="remind" targetRef="end_reminded"/>
""" + TAIL

# An intermediate timer whose date comes from the data (timeDate expression), then a script, then the end.
WAIT_UNTIL = HEAD.format(pid="t_wait_until") + """
  <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
   <bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
  </bpmn:intermediateCatchEvent>
  <bpmn:scriptTask id="after"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
   <bpmn:script>result = flaky()</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
  <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
  <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
""" + TAIL

DESIGNER = Actor("designer", "designer")
OFFICER = Principal("officer", frozenset(), superuser=True)
ADMIN = Actor("admin", "admin")
T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)  # 09:00 in Hanoi


class Model:
    """Behaviour the tests switch at run time: the `flaky()` helper, a pause inside a step."""

    def __init__(self) -> None:
        self.broken = False
        self.calls = 0
        self.fail_calls: set[int] = set()  # the calls (1-based) that fail even when not broken
        self.pause_thread: str | None = None  # the thread whose step stops in after_step
        self.in_step = threading.Event()
        self.resume = threading.Event()

    def flaky(self) -> str:
        self.calls += 1
        if self.broken or self.calls in self.fail_calls:
            raise RuntimeError("the agency register is unreachable")
        return "ok"

    def after_step(self, session: Session, instance: ProcessInstance, data: Any) -> None:  # noqa: ARG002
        if threading.current_thread().name == self.pause_thread:
            self.in_step.set()
            assert self.resume.wait(30), "the test never resumed the paused step"


@pytest.fixture
def model() -> Model:
    return Model()


@pytest.fixture
def runtime(model: Model) -> Runtime:
    return Runtime(Hooks(helpers={"flaky": model.flaky}, after_step=model.after_step))


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as session:
        deploy(session, "t_boundary", {"boundary.bpmn": BOUNDARY.encode()}, {}, DESIGNER)
        deploy(session, "t_wait_until", {"wait_until.bpmn": WAIT_UNTIL.encode()}, {}, DESIGNER)
        session.commit()
    yield factory
    engine.dispose()


@pytest.fixture
def clock() -> Iterator[Callable[[dt.datetime], None]]:
    """Move the process clock (every thread sees it); it keeps ticking from there."""
    traveller: list[Any] = []

    def move_to(when: dt.datetime) -> None:
        while traveller:
            traveller.pop().stop()
        travel = time_machine.travel(when, tick=True)
        travel.start()
        traveller.append(travel)

    yield move_to
    while traveller:
        traveller.pop().stop()


def start(sessions: sessionmaker[Session], runtime: Runtime, process_id: str, key: str, **data: Any) -> int:
    with sessions() as session:
        instance = runtime.start(session, process_id, key, data, Actor("intake", "intake"))
        session.commit()
        return instance.id


def timers(sessions: sessionmaker[Session], instance_id: int | None = None) -> list[Timer]:
    with sessions() as session:
        query = select(Timer).order_by(Timer.due_at)
        if instance_id is not None:
            query = query.where(Timer.instance_id == instance_id)
        return list(session.scalars(query))


def audit_rows(sessions: sessionmaker[Session], action: str, instance_id: int | None = None) -> list[AuditEvent]:
    with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.chain_index)
        if instance_id is not None:
            query = query.where(AuditEvent.instance_id == instance_id)
        return list(session.scalars(query))


def instance_row(sessions: sessionmaker[Session], instance_id: int) -> ProcessInstance:
    with sessions() as session:
        return session.get(ProcessInstance, instance_id)


def open_task(sessions: sessionmaker[Session], instance_id: int) -> str:
    with sessions() as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                        HumanTask.status == TaskStatus.OPEN))


def complete(sessions: sessionmaker[Session], runtime: Runtime, task_id: str) -> None:
    with sessions() as session:
        runtime.complete(session, task_id, OFFICER, {})
        session.commit()


# ---- rows follow the waiting timers ---------------------------------------------------------------------


def test_rows_appear_on_start_and_go_when_the_task_is_done_in_time(db_kind, sessions, runtime, clock) -> None:  # noqa: ARG001
    clock(T0)
    instance_id = start(sessions, runtime, "t_boundary", "B-1")
    rows = timers(sessions, instance_id)
    assert [(r.bpmn_id, r.kind.value, r.fired_at, r.attempts) for r in rows] == [
        ("reminder", "boundary", None, 0), ("deadline", "boundary", None, 0)]
    assert abs(rows[0].due_at - (T0 + dt.timedelta(minutes=30))) < dt.timedelta(seconds=5)
    assert abs(rows[1].due_at - (T0 + dt.timedelta(hours=1))) < dt.timedelta(seconds=5)
    assert len({r.task_id for r in rows}) == 2

    clock(T0 + dt.timedelta(minutes=20))
    complete(sessions, runtime, open_task(sessions, instance_id))
    assert timers(sessions, instance_id) == []
    assert instance_row(sessions, instance_id).end_event == "end_done"
    clock(T0 + dt.timedelta(days=2))
    assert fire_due_timers(sessions, runtime) == 0


def test_intermediate_timer_with_a_time_date_expression(db_kind, sessions, runtime, clock) -> None:  # noqa: ARG001
    clock(T0)
    instance_id = start(sessions, runtime, "t_wait_until", "W-1", due="2026-12-03T09:00:00+07:00")
    [row] = timers(sessions, instance_id)
    assert (row.bpmn_id, row.kind.value) == ("wait", "intermediate")
    assert row.due_at == dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.timezone.utc)


def test_a_timer_date_already_past_at_start_fires_within_the_step(db_kind, sessions, runtime, clock) -> None:  # noqa: ARG001
    clock(T0)
    instance_id = start(sessions, runtime, "t_wait_until", "W-1", due="2026-11-30T09:00:00+07:00")
    assert instance_row(sessions, instance_id).status == InstanceStatus.COMPLETED
    assert timers(sessions, instance_id) == []


def test_a_timer_expired_but_not_yet_run_keeps_its_row(clock) -> None:
    # A timer that expires in a step's final refresh_timers() is left READY until the next
    # do_engine_steps(): it must keep a (due) row, or nothing would ever run it.
    from engine.bpmn_xml import get_spec, parse_bpmn_files
    from engine.timers import armed_timers, waiting_due

    spec, subprocess_specs = get_spec(parse_bpmn_files({"w.bpmn": WAIT_UNTIL.encode()}), "t_wait_until")
    clock(T0)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=Runtime().script_engine)
    workflow.task_tree.data["due"] = (T0 + dt.timedelta(hours=1)).isoformat()
    workflow.do_engine_steps()
    [(task_id, armed)] = armed_timers(workflow).items()
    assert armed == ("wait", TimerKind.INTERMEDIATE, T0 + dt.timedelta(hours=1))
    assert waiting_due(workflow) == {task_id: T0 + dt.timedelta(hours=1)}
    clock(T0 + dt.timedelta(hours=2))
    workflow.refresh_timers()
    assert workflow.get_task_from_id(uuid.UUID(task_id)).state == TaskState.READY
    assert armed_timers(workflow) == {task_id: armed}
    assert waiting_due(workflow) == {}


# ---- the sweep fires each timer once --------------------------------------------------------------------


def test_sweep_fires_each_timer_exactly_once(db_kind, sessions, runtime, clock) -> None:  # noqa: ARG001
    clock(T0)
    instance_id = start(sessions, runtime, "t_boundary", "B-1")
    assert fire_due_timers(sessions, runtime) == 0

    clock(T0 + dt.timedelta(minutes=29))
    assert fire_due_timers(sessions, runtime) == 0

    clock(T0 + dt.timedelta(minutes=31))  # the non-interrupting reminder: the task stays open
    assert fire_due_timers(sessions, runtime) == 1
    assert fire_due_timers(sessions, runtime) == 0
    assert open_task(sessions, instance_id) is not None
    reminder, deadline = timers(sessions, instance_id)
    assert reminder.fired_at is not None and deadline.fired_at is None

    clock(T0 + dt.timedelta(minutes=61))  # the interrupting deadline: the task is cancelled
    assert fire_due_timers(sessions, runtime) == 1
    assert fire_due_timers(sessions, runtime) == 0
    instance = instance_row(sessions, instance_id)
    assert (instance.status, instance.end_event) == (InstanceStatus.COMPLETED, "end_escalated")
    assert open_task(sessions, instance_id) is None
    fired = audit_rows(sessions, "TIMER_FIRED", instance_id)
    assert [(e.bpmn_id, e.actor, e.role) for e in fired] == [("reminder", "scheduler", "system"),
                                                              ("deadline", "scheduler", "system")]
    assert all(0 < e.data["lateness_seconds"] < 120 for e in fired)
    assert all(r.fired_at is not None for r in timers(sessions, instance_id))


def test_timers_due_during_a_week_of_downtime_fire_on_the_first_sweep_in_due_order(
    db_kind, sessions, runtime, clock  # noqa: ARG001
) -> None:
    clock(T0)
    ids = {}
    for key, days in (("W-3", 3), ("W-1", 1), ("W-5", 5), ("W-2", 2)):
        due = (T0 + dt.timedelta(days=days)).isoformat()
        ids[key] = start(sessions, runtime, "t_wait_until", key, due=due)
    boundary_id = start(sessions, runtime, "t_boundary", "B-1")  # reminder +30 min, deadline +1 h

    clock(T0 + dt.timedelta(days=7))  # the app was down all week; nothing swept meanwhile
    assert all(r.fired_at is None for r in timers(sessions))
    assert fire_due_timers(sessions, runtime) == 6

    fired = audit_rows(sessions, "TIMER_FIRED")
    keys = [(e.business_key, e.bpmn_id) for e in fired]
    assert keys == [("B-1", "reminder"), ("B-1", "deadline"), ("W-1", "wait"), ("W-2", "wait"), ("W-3", "wait"),
                    ("W-5", "wait")]
    lateness = {e.business_key: e.data["lateness_seconds"] for e in fired if e.bpmn_id == "wait"}
    for key, days in (("W-1", 6), ("W-2", 5), ("W-3", 4), ("W-5", 2)):
        assert days * 86400 <= lateness[key] < days * 86400 + 120
    assert all(instance_row(sessions, i).status == InstanceStatus.COMPLETED for i in [*ids.values(), boundary_id])
    assert fire_due_timers(sessions, runtime) == 0
    assert len(audit_rows(sessions, "TIMER_FIRED")) == 6


# ---- failures, incidents, resolution --------------------------------------------------------------------


def test_failing_timer_path_becomes_an_incident_after_three_attempts_without_blocking_others(
    db_kind, sessions, runtime, model, clock  # noqa: ARG001
) -> None:
    clock(T0)
    failing = start(sessions, runtime, "t_wait_until", "F-1", due=(T0 + dt.timedelta(hours=1)).isoformat())
    state_before = instance_row(sessions, failing).state
    healthy = [start(sessions, runtime, "t_boundary", f"B-{n}") for n in range(3)]  # due after the failing one
    model.broken = True

    clock(T0 + dt.timedelta(hours=2))
    assert fire_due_timers(sessions, runtime) == 6  # the failing timer is tried first, the others still fire
    assert all(instance_row(sessions, i).status == InstanceStatus.COMPLETED for i in healthy)
    assert all(open_task(sessions, i) is None for i in healthy)  # the deadline cancelled the review
    [row] = timers(sessions, failing)
    assert (row.attempts, row.fired_at) == (1, None)
    assert "agency register is unreachable" in row.last_error
    after_one = instance_row(sessions, failing)
    assert after_one.status == InstanceStatus.RUNNING
    assert after_one.state == state_before  # the failed step was rolled back

    assert fire_due_timers(sessions, runtime) == 0
    assert fire_due_timers(sessions, runtime) == 0
    assert fire_due_timers(sessions, runtime) == 0  # stopped retrying
    assert model.calls == MAX_ATTEMPTS == 3
    [row] = timers(sessions, failing)
    assert (row.attempts, row.fired_at) == (3, None)
    instance = instance_row(sessions, failing)
    assert instance.status == InstanceStatus.ERROR and "unreachable" in instance.error
    assert instance.state == state_before
    with sessions() as session:
        [incident] = session.scalars(select(Incident)).all()
    assert (incident.instance_id, incident.timer_id, incident.kind, incident.resolved_at) == (failing, row.id, "timer",
                                                                                             None)
    assert len(audit_rows(sessions, "INCIDENT_RAISED", failing)) == 1
    assert audit_rows(sessions, "TIMER_FIRED", failing) == []

    # The fix is deployed (here: the helper works again); the admin resolves; the next tick fires it.
    model.broken = False
    with sessions() as session:
        resolve_incident(session, runtime, incident.id, ADMIN)
        session.commit()
    instance = instance_row(sessions, failing)
    assert (instance.status, instance.error) == (InstanceStatus.RUNNING, None)
    assert fire_due_timers(sessions, runtime) == 1
    instance = instance_row(sessions, failing)
    assert (instance.status, instance.end_event) == (InstanceStatus.COMPLETED, "end")
    assert model.calls == 4
    [resolved] = audit_rows(sessions, "INCIDENT_RESOLVED", failing)
    assert (resolved.actor, resolved.data["incident_id"]) == ("admin", incident.id)
    with sessions() as session:
        assert session.get(Incident, incident.id).resolved_by == "admin"
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
    assert len(audit_rows(sessions, "TIMER_FIRED", failing)) == 1


def test_a_step_failing_inside_a_batch_costs_one_attempt_and_the_others_fire_exactly_once(
    db_kind, sessions, runtime, model, clock  # noqa: ARG001
) -> None:
    """Timers fire several per transaction; the second step of the batch fails.

    The whole batch rolls back (the first instance's step with it), the failing timer gets one attempt, and
    the next batch fires the others: each of them has exactly one TIMER_FIRED and completed once.
    """
    clock(T0)
    keys = ["M-1", "M-2", "M-3"]
    ids = {key: start(sessions, runtime, "t_wait_until", key, due=(T0 + dt.timedelta(minutes=60 + 10 * n)).isoformat())
           for n, key in enumerate(keys)}
    model.fail_calls = {2}  # M-1's script runs (call 1), M-2's fails (call 2)
    clock(T0 + dt.timedelta(hours=2))
    assert fire_due_timers(sessions, runtime, per_transaction=10) == 2
    assert model.calls == 4  # M-1 again after the rollback, then M-3: the failing model ran once
    for key in ("M-1", "M-3"):
        assert instance_row(sessions, ids[key]).status == InstanceStatus.COMPLETED
        assert len(audit_rows(sessions, "TIMER_FIRED", ids[key])) == 1
        assert len(audit_rows(sessions, "PROCESS_COMPLETED", ids[key])) == 1
    [row] = timers(sessions, ids["M-2"])
    assert (row.attempts, row.fired_at) == (1, None) and "unreachable" in row.last_error
    assert audit_rows(sessions, "TIMER_FIRED", ids["M-2"]) == []
    assert fire_due_timers(sessions, runtime) == 1  # the next tick fires it (the helper works again)
    assert instance_row(sessions, ids["M-2"]).status == InstanceStatus.COMPLETED
    with sessions() as session:
        assert verify_chain(session) is None


def test_incidents_are_listed_and_resolved_from_the_command_line(sessions, runtime, model, clock, db_url,
                                                                 monkeypatch) -> None:
    from click.testing import CliRunner

    from webapp.cli import cli

    clock(T0)
    failing = start(sessions, runtime, "t_wait_until", "F-9", due=(T0 + dt.timedelta(hours=1)).isoformat())
    model.broken = True
    clock(T0 + dt.timedelta(hours=2))
    for _ in range(MAX_ATTEMPTS):
        fire_due_timers(sessions, runtime)
    with sessions() as session:
        incident_id = session.scalar(select(Incident.id))
    monkeypatch.setenv("PETITIONS_DATABASE_URL", db_url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["incidents", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"#{incident_id} F-9 timer" in listed.output and "1 open incident(s)" in listed.output
    resolved = runner.invoke(cli, ["incidents", "resolve", str(incident_id), "--by", "root"])
    assert resolved.exit_code == 0, resolved.output
    assert "0 open incident(s)" in runner.invoke(cli, ["incidents", "list"]).output
    assert runner.invoke(cli, ["incidents", "resolve", str(incident_id), "--by", "root"]).exit_code == 1
    assert instance_row(sessions, failing).status == InstanceStatus.RUNNING
    [event] = audit_rows(sessions, "INCIDENT_RESOLVED", failing)
    assert (event.actor, event.role) == ("root", "admin")


# ---- an officer and the ticker on the same instance at the same moment (T-TIMER-4) ------------------------


def _race(sessions: sessionmaker[Session], runtime: Runtime, model: Model, db_kind: str,
          clock: Callable[[dt.datetime], None], first: str) -> dict[str, Any]:
    """Start an instance at T0, move past both deadlines, then let `first` lock the instance and pause."""
    clock(T0)
    instance_id = start(sessions, runtime, "t_boundary", "R-1")
    task_id = open_task(sessions, instance_id)
    clock(T0 + dt.timedelta(hours=2))
    outcome: dict[str, Any] = {}
    model.pause_thread = first  # this thread's step stops in after_step, holding the instance's lock
    started = {"officer": threading.Event(), "ticker": threading.Event()}

    def officer() -> None:
        if first == "ticker":
            assert model.in_step.wait(30)
        started["officer"].set()
        try:
            complete(sessions, runtime, task_id)
            outcome["officer"] = "completed"
        except Conflict:
            outcome["officer"] = "conflict"

    def ticker() -> None:
        if first == "officer":
            assert model.in_step.wait(30)
        started["ticker"].set()
        outcome["ticker"] = fire_due_timers(sessions, runtime)

    threads = {name: threading.Thread(target=fn, name=name) for name, fn in (("officer", officer), ("ticker", ticker))}
    for thread in threads.values():
        thread.start()
    second = "officer" if first == "ticker" else "ticker"
    assert started[second].wait(30)
    if first == "officer" and db_kind == "postgresql":
        # SKIP LOCKED: the ticker does not wait for the officer's lock; it leaves the timer for the next tick.
        threads["ticker"].join(30)
        assert outcome["ticker"] == 0
    model.resume.set()  # on SQLite the second one waits for the write lock (BEGIN IMMEDIATE) until now
    for thread in threads.values():
        thread.join(60)
        assert not thread.is_alive()
    outcome["instance"] = instance_row(sessions, instance_id)
    outcome["completed"] = len(audit_rows(sessions, "TASK_COMPLETED", instance_id))
    outcome["fired"] = [e.bpmn_id for e in audit_rows(sessions, "TIMER_FIRED", instance_id)]
    outcome["next_sweep"] = fire_due_timers(sessions, runtime)
    outcome["timers"] = timers(sessions, instance_id)
    return outcome


def test_officer_and_ticker_race_officer_first(db_kind, sessions, runtime, model, clock) -> None:
    outcome = _race(sessions, runtime, model, db_kind, clock, first="officer")
    assert outcome["officer"] == "completed"
    assert outcome["ticker"] == 0
    assert (outcome["completed"], outcome["fired"]) == (1, [])
    assert outcome["instance"].end_event == "end_done"
    assert outcome["timers"] == []  # the cancelled boundary timers' rows went with the officer's commit
    assert outcome["next_sweep"] == 0


def test_officer_and_ticker_race_ticker_first(db_kind, sessions, runtime, model, clock) -> None:
    outcome = _race(sessions, runtime, model, db_kind, clock, first="ticker")
    assert outcome["ticker"] == 2  # reminder and deadline, in one step
    assert outcome["officer"] == "conflict"
    assert (outcome["completed"], outcome["fired"]) == (0, ["reminder", "deadline"])
    assert outcome["instance"].status == InstanceStatus.COMPLETED
    assert outcome["instance"].end_event in ("end_escalated", "end_reminded")  # both paths ended in that step
    assert outcome["next_sweep"] == 0


# ---- the ticker's configuration (T-TIMER-5) -------------------------------------------------------------


def test_ticker_keeps_no_state_and_never_drops_a_late_run() -> None:
    from apscheduler.jobstores.memory import MemoryJobStore

    scheduler = make_scheduler(lambda: None, seconds=7)
    assert set(scheduler._jobstores) == {"default"}
    assert all(isinstance(store, MemoryJobStore) for store in scheduler._jobstores.values())
    [job] = scheduler.get_jobs()
    assert job.id == JOB_ID
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
    assert job.trigger.interval == dt.timedelta(seconds=7)
    assert job.next_run_time <= utcnow()  # first sweep at start: timers due while down fire at once
    assert not scheduler.running


def test_run_blocking_sweeps_at_once_and_stops_cleanly() -> None:
    stop = threading.Event()
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(1)
        stop.set()

    run_blocking(tick, seconds=3600, stop=stop)
    assert ticks == [1]
    assert not any(t.name.startswith("APScheduler") for t in threading.enumerate())


def test_create_app_never_starts_a_scheduler(db_url, monkeypatch) -> None:
    from apscheduler.schedulers.base import BaseScheduler

    from webapp import create_app

    started: list[Any] = []
    monkeypatch.setattr(BaseScheduler, "start", lambda self, *a, **k: started.append(self))
    for flag in ("1", "0", None):
        if flag is None:
            monkeypatch.delenv("PETITIONS_RUN_SCHEDULER", raising=False)
        else:
            monkeypatch.setenv("PETITIONS_RUN_SCHEDULER", flag)
        app = create_app({"PETITIONS_DATABASE_URL": db_url, "TESTING": True})
        app.extensions["petitions.engine"].dispose()
    assert started == []


@pytest.mark.parametrize(("args", "env", "expected"), [
    ([], None, True), (["--no-scheduler"], None, False), ([], "0", False), (["--scheduler"], "1", True),
])
def test_serve_runs_the_ticker_in_process_unless_switched_off(db_url, monkeypatch, args, env, expected) -> None:
    import waitress
    from apscheduler.schedulers.base import BaseScheduler

    from webapp.cli import cli

    started: list[Any] = []
    served: list[Any] = []
    monkeypatch.setattr(BaseScheduler, "start", lambda self, *a, **k: started.append(self))
    monkeypatch.setattr(BaseScheduler, "shutdown", lambda self, *a, **k: None)
    monkeypatch.setattr(waitress, "serve", lambda app, **kwargs: served.append(kwargs))
    monkeypatch.setenv("PETITIONS_DATABASE_URL", db_url)
    if env is None:
        monkeypatch.delenv("PETITIONS_RUN_SCHEDULER", raising=False)
    else:
        monkeypatch.setenv("PETITIONS_RUN_SCHEDULER", env)
    result = cli.main(["serve", "--port", "5999", *args], standalone_mode=False)
    assert result is None
    assert len(served) == 1
    assert len(started) == (1 if expected else 0)
    if expected:
        [job] = started[0].get_jobs()
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
