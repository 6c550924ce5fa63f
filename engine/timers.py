"""Timers: rows are the truth, the ticker only sweeps them (reliability notes §2, R1, R3, R5, R8).

- `sync_timers` mirrors the instance's armed timers into `timer` rows in the transaction that saves the
  instance (called by `Runtime._advance`), so a deadline exists exactly when the state that armed it is
  committed, and disappears when its task stops waiting (e.g. the officer finished in time).
- `fire_due_timers` is the sweep: one short transaction per due timer, oldest first. On PostgreSQL it
  claims the timer row with `FOR UPDATE SKIP LOCKED`, then the instance with `FOR UPDATE SKIP LOCKED`: the
  ticker locks timer -> instance while web requests lock instance -> timer rows, so the ticker must never
  wait for an instance (E22); a locked instance is left for the next tick. SQLite serializes writers with
  `BEGIN IMMEDIATE` (engine.db). Any number of tickers is correct; more than one is only wasteful.
- A step that fails is rolled back; a separate transaction counts the attempt. After `MAX_ATTEMPTS`
  failures the instance goes to `error` with an `Incident`, and the sweep stops retrying it; lock
  conflicts, deadlocks and serialization failures are not attempts. `resolve_incident` re-arms it.

Time: SpiffWorkflow decides whether a timer has expired with `datetime.now(timezone.utc)`; the sweep's
`now` defaults to the same clock. Tests move that clock (time-machine), they never sleep.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, faults
from engine.audit import Actor
from engine.db import is_sqlite, transaction_memo, utcnow
from engine.errors import Conflict, NotFound
from engine.models import Incident, InstanceStatus, ProcessInstance, Timer, TimerKind

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from engine.runtime import Runtime

log = logging.getLogger(__name__)

SCHEDULER = Actor("scheduler", "system")
MAX_ATTEMPTS = 3
RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
MAX_RETRIES = 5
ENGINE_KINDS = (TimerKind.BOUNDARY, TimerKind.INTERMEDIATE)  # the kinds sync_timers owns; SLA rows are the domain's


# ---- the instance's armed timers ------------------------------------------------------------------------


def _workflows(workflow: BpmnWorkflow) -> Iterator[Any]:
    yield workflow
    yield from workflow.subprocesses.values()


def _due_at(value: Any) -> dt.datetime | None:
    """Return the absolute UTC due time of a timer's `event_value` (as `waiting_events()` reports it)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if not isinstance(value, str) or not value or value.upper().startswith("P"):
        return None  # a cycle timer with no cycles left, or a value that is not a point in time
    # The parser SpiffWorkflow itself compares with (ISO date-times with or without offset, ISO week dates).
    return TimerEventDefinition.parse_time_or_duration(value).astimezone(dt.timezone.utc)


def _timer_tasks(workflow: BpmnWorkflow, states: int) -> Iterator[tuple[Any, TimerEventDefinition]]:
    """Yield (task, its timer definition) of the timer tasks in `states`, top workflow and subprocesses.

    A scan of each workflow's task table (`wf.tasks`), not a walk of the tree with `get_tasks()`: the set is the
    same (and a tree deeper than the iterators' depth limit is covered too), the order does not matter to the
    callers (they build dicts by task id), and it costs 3 us against 60-100 us per walk here.
    """
    for wf in _workflows(workflow):
        for task in list(wf.tasks.values()):
            if task.state & states:
                definition = getattr(task.task_spec, "event_definition", None)
                if isinstance(definition, TimerEventDefinition):
                    yield task, definition


def armed_timers(workflow: BpmnWorkflow) -> dict[str, tuple[str, TimerKind, dt.datetime]]:
    """Return {task id: (bpmn id, kind, due at)} for every timer event the workflow is waiting on.

    These are the timer entries of `workflow.waiting_events()`, mapped to their tasks: the WAITING tasks
    (top workflow and subprocesses) whose spec has a timer event definition. A timer task that is READY has
    expired during the step's final `refresh_timers()` and only needs another `do_engine_steps()`: it is
    included too (its due time is in the past), so the next sweep runs it instead of leaving it stuck.
    """
    found: dict[str, tuple[str, TimerKind, dt.datetime]] = {}
    for task, definition in _timer_tasks(workflow, TaskState.WAITING | TaskState.READY):
        due = _due_at(definition.details(task).value)
        if due is None:
            continue
        spec = task.task_spec
        kind = TimerKind.BOUNDARY if isinstance(spec, BoundaryEvent) else TimerKind.INTERMEDIATE
        found[str(task.id)] = (spec.bpmn_id or spec.name, kind, due)
    return found


def waiting_due(workflow: BpmnWorkflow) -> dict[str, dt.datetime]:
    """Return {task id: due at} of the timer tasks still WAITING (not yet expired)."""
    due: dict[str, dt.datetime] = {}
    for task, definition in _timer_tasks(workflow, TaskState.WAITING):
        if at := _due_at(definition.details(task).value):
            due[str(task.id)] = at
    return due


_TIMER_ROWS = "engine.timer_rows"  # transaction memo: {instance id: [Timer]} read by read_timer_rows
_TIMER_ROWS_OF = (select(Timer).where(Timer.instance_id.in_(bindparam("ids", expanding=True)))
                  .order_by(Timer.instance_id, Timer.id).execution_options(populate_existing=True))


def read_timer_rows(session: Session, instance_ids: list[int]) -> None:
    """Read all timer rows of locked instances in one statement, as they are under the lock, for `take_timer_rows`.

    A batch of timer fires in one transaction (`Runtime.lock_free`) reads them all at once.
    """
    found: dict[int, list[Timer]] = {instance_id: [] for instance_id in instance_ids}
    with session.no_autoflush:
        for row in session.scalars(_TIMER_ROWS_OF, {"ids": list(instance_ids)}):
            found[row.instance_id].append(row)
    transaction_memo(session, _TIMER_ROWS).update(found)


def take_timer_rows(session: Session, instance_id: int) -> list[Timer]:
    """Return all timer rows of a locked instance: as `read_timer_rows` read them for this transaction, or now.

    Taken once: the step that fires them changes and adds rows, so a later step of the same instance reads again.
    """
    rows = transaction_memo(session, _TIMER_ROWS).pop(instance_id, None)
    if rows is None:
        read_timer_rows(session, [instance_id])
        rows = transaction_memo(session, _TIMER_ROWS).pop(instance_id)
    return rows


_ENGINE_TIMERS_OF = select(Timer).where(Timer.instance_id == bindparam("instance_id"), Timer.kind.in_(ENGINE_KINDS))
_ARMED_AT_LOAD = "engine.timers_armed_at_load"  # transaction memo: {instance id: whether the loaded state waited on a timer}


def note_loaded(session: Session, instance_id: int, workflow: BpmnWorkflow) -> None:
    """Remember whether the state a step starts from waits on any timer, for `sync_timers` (a scan, ~3 us).

    Every step leaves exactly its armed timers as the instance's unfired engine rows (`sync_timers`, in the
    transaction that saves the state). So when the state a step was loaded from waited on no timer, the instance
    has no unfired engine row, and a step that arms none either has nothing to mirror: it need not read them.
    """
    waits = next(_timer_tasks(workflow, TaskState.WAITING | TaskState.READY), None) is not None
    transaction_memo(session, _ARMED_AT_LOAD)[instance_id] = waits


def sync_timers(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow,
                rows: Sequence[Timer] | None = None) -> None:
    """Upsert a row per armed timer of the instance and delete unfired rows whose task no longer waits.

    Called in the step's transaction after the state is dumped (the instance is locked by the caller). A
    fired row whose task still waits is re-armed: a cycle timer's next occurrence, or an expiry the engine
    did not see yet (a due time equal to its clock). `rows`: the instance's timer rows as this step already
    read them under the lock (the timer fire does), instead of reading them again. When the step's state was
    loaded waiting on no timer (`note_loaded`) and arms none, nothing is read: there is nothing to mirror.
    """
    wanted = armed_timers(workflow)
    waited = transaction_memo(session, _ARMED_AT_LOAD).pop(instance.id, True)  # unknown: as if it did
    if rows is None:
        if not wanted and not waited:
            return  # no unfired row to delete or re-arm, none to add (`note_loaded`)
        with session.no_autoflush:  # the step's pending changes do not touch these rows: one flush at its end
            rows = session.scalars(_ENGINE_TIMERS_OF, {"instance_id": instance.id}).all()
    else:
        rows = [row for row in rows if row.kind in ENGINE_KINDS]
    by_task = {row.task_id: row for row in rows}
    for task_id, (bpmn_id, kind, due) in wanted.items():
        row = by_task.get(task_id)
        if row is None:
            session.add(Timer(instance_id=instance.id, task_id=task_id, bpmn_id=bpmn_id, kind=kind, due_at=due,
                              attempts=0))
        elif row.due_at != due or row.fired_at is not None:
            if row.due_at != due:
                row.attempts, row.last_error = 0, None
            row.due_at, row.fired_at = due, None
    for row in rows:
        if row.task_id not in wanted and row.fired_at is None:
            session.delete(row)


# ---- the sweep ------------------------------------------------------------------------------------------


def _sqlstate(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        orig = getattr(seen, "orig", None)
        state = getattr(orig, "sqlstate", None) or getattr(seen, "sqlstate", None)
        if state:
            return str(state)
        seen = seen.__cause__ or seen.__context__
    return None


def _is_contention(exc: BaseException) -> bool:
    """Tell whether the step lost a race (not the model's fault): retry it, never count it as an attempt."""
    if isinstance(exc, (Conflict, StaleDataError)):
        return True
    if _sqlstate(exc) in RETRY_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def _claim_many(session: Session, now: dt.datetime, passed: set[int], size: int) -> list[tuple[int, int]]:
    """Claim up to `size` due timers of running instances, oldest first; on PostgreSQL skip rows others hold."""
    query = (
        select(Timer.id, Timer.instance_id)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(Timer.fired_at.is_(None), Timer.due_at <= now, Timer.attempts < MAX_ATTEMPTS,
               ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(Timer.due_at, Timer.id)
        .limit(size)
    )
    if passed:
        query = query.where(Timer.id.not_in(passed))
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True, of=Timer)
    return [(row.id, row.instance_id) for row in session.execute(query)]


def _claim(session: Session, now: dt.datetime, passed: set[int]) -> tuple[int, int] | None:
    claimed = _claim_many(session, now, passed, 1)
    return claimed[0] if claimed else None


def _instance_free(session: Session, instance_id: int) -> bool:
    """Lock the instance without waiting (PostgreSQL); False when a request holds it."""
    if is_sqlite(session):
        return True  # BEGIN IMMEDIATE: this transaction already is the only writer
    got = session.execute(
        select(ProcessInstance.id).where(ProcessInstance.id == instance_id).with_for_update(skip_locked=True)
    ).first()
    return got is not None


def _step(session_factory: Callable[[], Session], runtime: Runtime, now: dt.datetime, passed: set[int]) -> int | None:
    """Fire the oldest due timer (with its instance's other due timers); None when nothing is due."""
    claimed: tuple[int, int] | None = None
    for attempt in range(MAX_RETRIES):
        with session_factory() as session:
            try:
                claimed = _claim(session, now, passed)
                if claimed is None:
                    session.rollback()
                    return None
                timer_id, instance_id = claimed
                if not _instance_free(session, instance_id):
                    session.rollback()  # an officer holds it: leave the timer for the next tick
                    passed.add(timer_id)
                    return 0
                fired = runtime.fire_timers(session, instance_id, now)
                faults.commit(session, "timer")
            except Exception as exc:  # every failure is handled: retried, counted or re-raised
                session.rollback()
                if claimed is None:
                    raise  # the database itself failed (not a timer): let the tick log it and try again later
                timer_id, instance_id = claimed
                if _is_contention(exc):
                    log.info("timer %s: lost a race (%s), retrying", timer_id, _sqlstate(exc) or type(exc).__name__)
                    if _sqlstate(exc) in RETRY_SQLSTATES and attempt + 1 < MAX_RETRIES:
                        continue
                    passed.add(timer_id)
                    return 0
                log.warning("timer %s of instance %s failed: %s", timer_id, instance_id, exc, exc_info=True)
                record_failure(session_factory, runtime, timer_id, exc)
                passed.add(timer_id)
                return 0
        if not any(row.id == timer_id for row in fired):
            passed.add(timer_id)  # the engine did not consider it expired yet (clocks disagree): next tick
        return len(fired)
    return 0  # not reached: the last retry returns


def _batch(session_factory: Callable[[], Session], runtime: Runtime, now: dt.datetime, passed: set[int],
           size: int) -> tuple[int, int, list[int]] | None:
    """Fire up to `size` due timers (of distinct free instances) in ONE transaction; None when nothing is due.

    Returns (timers handled, timer rows fired, timer ids to retry one per transaction). One claim, one commit
    and one append to the audit chain serve the whole batch (docs/performance.md, figure 5). The batch
    commits all its steps or none:
    - a step that fails (the model's fault) rolls the batch back; that timer's attempt is counted (an
      incident at the last) exactly as `_step` does, and the other timers go to the next batch -- so the
      failing model runs once per attempt, and the others' rolled-back steps left no trace;
    - a lost race (deadlock, serialization failure) rolls it back and returns its timers to be fired one by
      one by `_step`, which retries races as before.
    """
    claims: list[tuple[int, int]] = []
    current: int | None = None
    failure: Exception | None = None
    with session_factory() as session:
        try:
            claims = _claim_many(session, now, passed, size)
            if not claims:
                session.rollback()
                return None
            free = runtime.lock_free(session, sorted({instance_id for _, instance_id in claims}))
            done: set[int] = set()
            fired = 0
            for timer_id, instance_id in claims:
                if instance_id not in free:
                    passed.add(timer_id)  # an officer holds it: leave the timer for the next tick
                    continue
                if instance_id in done:
                    continue  # its other due timers fired with the first one
                done.add(instance_id)
                current = timer_id
                rows = runtime.fire_timers(session, instance_id, now)
                current = None
                fired += len(rows)
                fired_ids = {row.id for row in rows}
                passed.update(t for t, i in claims if i == instance_id and t not in fired_ids)
            faults.commit(session, "timer")
            return len(claims), fired, []
        except Exception as exc:  # every failure is handled: counted, retried one by one, or re-raised
            session.rollback()
            if not claims:
                raise  # the database itself failed (not a timer): let the tick log it and try again later
            if current is None or _is_contention(exc):
                log.info("timer batch of %d rolled back (%s); firing them one by one", len(claims),
                         _sqlstate(exc) or type(exc).__name__)
                return len(claims), 0, [timer_id for timer_id, _ in claims]
            failure = exc
    # The session is closed: the failure is counted in its own transaction, like `_step` does.
    log.warning("timer %s failed: %s", current, failure, exc_info=failure)
    record_failure(session_factory, runtime, current, failure)
    passed.add(current)
    return 1, 0, []


def fire_due_timers(
    session_factory: Callable[[], Session],
    runtime: Runtime,
    now: dt.datetime | None = None,
    batch: int = 100,
    *,
    stop: threading.Event | None = None,
    per_transaction: int = 10,
) -> int:
    """Fire due timers, oldest first; return how many timer rows fired.

    Timers are fired `per_transaction` at a time in one transaction (instances a request holds are left for
    the next tick); a batch that fails is fired again one timer per transaction, so a failing model costs
    attempts to its own timer only. `now` defaults to the wall clock read before each transaction (the clock
    SpiffWorkflow compares with); pass it only together with a moved clock in tests. At most about `batch`
    timers are handled per call; `stop` ends the sweep between two transactions (clean shutdown).
    """
    fired = handled = 0
    passed: set[int] = set()  # timers skipped in this sweep: locked instance, failure, not yet expired
    while handled < batch and not (stop is not None and stop.is_set()):
        size = min(per_transaction, batch - handled)
        steps = 1
        if size > 1:
            result = _batch(session_factory, runtime, now or utcnow(), passed, size)
            if result is None:
                break
            claimed, count, retry = result
            if not retry:
                fired, handled = fired + count, handled + claimed
                continue
            steps = len(retry)
        for _ in range(steps):
            if stop is not None and stop.is_set():
                break
            one = _step(session_factory, runtime, now or utcnow(), passed)
            if one is None:
                return fired
            fired, handled = fired + one, handled + 1
    return fired


# ---- failures and incidents -----------------------------------------------------------------------------


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:4000]


def record_failure(session_factory: Callable[[], Session], runtime: Runtime, timer_id: int, exc: BaseException) -> None:
    """Count a failed attempt of a timer (own transaction); the last one raises an incident."""
    message = _message(exc)
    for attempt in range(MAX_RETRIES):
        with session_factory() as session:
            try:
                timer = session.get(Timer, timer_id)
                if timer is None:
                    return
                instance = runtime._lock(session, timer.instance_id)  # instance before timer row: request order
                session.refresh(timer)
                if timer.fired_at is not None:
                    session.rollback()
                    return
                timer.attempts += 1
                timer.last_error = message
                if timer.attempts >= MAX_ATTEMPTS and instance.status == InstanceStatus.RUNNING:
                    _raise_incident(session, instance, timer, message)
                session.commit()
                return
            except Exception as failure:
                session.rollback()
                if _sqlstate(failure) in RETRY_SQLSTATES and attempt + 1 < MAX_RETRIES:
                    continue
                raise


def _raise_incident(session: Session, instance: ProcessInstance, timer: Timer, message: str) -> Incident:
    instance.status = InstanceStatus.ERROR
    instance.error = message
    incident = Incident(instance_id=instance.id, timer_id=timer.id, kind="timer", message=message)
    session.add(incident)
    session.flush()
    audit.record(session, SCHEDULER, "INCIDENT_RAISED", instance_id=instance.id, business_key=instance.business_key,
                 task_id=timer.task_id, bpmn_id=timer.bpmn_id,
                 data={"incident_id": incident.id, "timer_id": timer.id, "attempts": timer.attempts, "error": message})
    log.error("incident %s: instance %s stopped after %d failed attempts of timer %s: %s",
              incident.id, instance.business_key, timer.attempts, timer.id, message)
    return incident


def open_incidents(session: Session) -> list[Incident]:
    """Return the unresolved incidents, oldest first (for the admin page)."""
    return list(session.scalars(select(Incident).where(Incident.resolved_at.is_(None)).order_by(Incident.created_at)))


def resolve_incident(session: Session, runtime: Runtime, incident_id: int, actor: Actor) -> Incident:
    """Mark an incident resolved (after the model or data was fixed) and re-arm its timer for the next tick.

    Does not commit (the caller does). The instance returns to `running` once it has no open incident.
    """
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident not found")
    instance = runtime._lock(session, incident.instance_id)
    session.refresh(incident)
    if incident.resolved_at is not None:
        raise Conflict("this incident is already resolved")
    incident.resolved_at, incident.resolved_by = utcnow(), actor.name
    timer = session.get(Timer, incident.timer_id) if incident.timer_id is not None else None
    if timer is not None:
        timer.attempts, timer.last_error = 0, None
    session.flush()
    still_open = session.scalar(
        select(Incident.id).where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None)).limit(1)
    )
    if still_open is None and instance.status == InstanceStatus.ERROR:
        instance.status, instance.error = InstanceStatus.RUNNING, None
    audit.record(session, actor, "INCIDENT_RESOLVED", instance_id=instance.id, business_key=instance.business_key,
                 task_id=timer.task_id if timer else None, bpmn_id=timer.bpmn_id if timer else None,
                 data={"incident_id": incident.id, "timer_id": incident.timer_id})
    session.flush()
    return incident
