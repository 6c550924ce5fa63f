"""Run process instances: one locked transaction per step, the human-task projection, audit rows.

Every mutating function takes the caller's session, locks the instance, acts, runs the engine to its next
wait state, writes the state row, the projection and the audit events, and flushes. It never commits: the
request or job that called it commits once, or rolls back to the previous wait state on any exception.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, broadcast, compaction, locks
from engine.audit import Actor
from engine.contracts import Hooks, Principal, may_act
from engine.db import utcnow
from engine.definitions import SERIALIZER_VERSION, latest_active, serializer, spec_dict
from engine.errors import Conflict, Forbidden, NotFound, ProcessFailed
from engine.forms import clean_submission
from engine.models import (
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskArchive,
    TaskStatus,
    Timer,
)
from engine.sandbox import make_script_engine
from engine.state import dump_state, read_state
from engine.task_rows import add_open_row, open_task_rows, read_open_rows, read_task_and_open_rows
from engine.timers import SCHEDULER, note_loaded, read_timer_rows, sync_timers, take_timer_rows, waiting_due
from engine.workflow_cache import WorkflowCache

log = logging.getLogger(__name__)


Check = Callable[[ProcessInstance], None]  # an object-level rule of the caller; raises to refuse


def _properties(task_spec: Any) -> dict[str, str]:
    return dict(getattr(task_spec, "extensions", {}).get("properties", {}) or {})


class Runtime:
    """The engine's entry points; one object per application, stateless between calls."""

    def __init__(self, hooks: Hooks | None = None, workflow_cache_size: int = 256, compact: bool = True) -> None:
        self.hooks = hooks or Hooks()
        self.compact = compact  # cut deep instances' finished history to process_task_archive (engine.compaction)
        self.script_engine = make_script_engine(self.hooks.helpers)
        self._spec_cache: dict[tuple[int, str], tuple[Any, dict[str, Any]]] = {}
        self._form_cache: dict[tuple[int, str], dict[str, Any]] = {}
        self.workflows = WorkflowCache(workflow_cache_size)

    # ---- loading and saving -------------------------------------------------------------------
    def _lock(self, session: Session, instance_id: int | None, *, task_id: str | None = None) -> ProcessInstance:
        instance = locks.lock_instance(session, instance_id, task_id=task_id, extra=self.hooks.read_with_lock)
        self.hooks.before_step(session, locks.read_with_lock(session))  # hash and the hooks' columns came along
        return instance

    def lock_free(self, session: Session, instance_ids: list[int]) -> set[int]:
        """Lock, without waiting, those of the instances no other transaction holds; return their ids.

        For a batch of steps in one transaction (the timer sweep). One statement each reads, for all of them,
        what their steps would read one by one: the instance rows with their version's hash, their timer rows
        and their open task rows, plus what the domain's `prefetch` hook reads (their petitions). `_lock`,
        `fire_timers` and `open_task_rows` then take these for the rest of the transaction. SQLite's
        transaction is already the only writer (BEGIN IMMEDIATE).
        """
        got = locks.lock_free(session, instance_ids, self.hooks.read_with_lock) if instance_ids else []
        if got:
            read_timer_rows(session, got)
            read_open_rows(session, got)
            self.hooks.prefetch(session, got)
        return set(got)

    def load(self, session: Session, instance: ProcessInstance, *, for_step: bool = False) -> BpmnWorkflow:
        """Restore the instance's workflow with the sandboxed script engine attached.

        `for_step=True` (the instance is locked and the caller will advance it) may return the very object
        this process saved at the instance's last committed step, when the stored state is still exactly the
        text it wrote then (`WorkflowCache`); the object then belongs to the caller until its commit.
        """
        if for_step:
            cached = self.workflows.take(instance.id, instance.state)
            if cached is not None:
                cached.script_engine = self.script_engine
                note_loaded(session, instance.id, cached)
                return cached
        state = read_state(instance.business_key, instance.serializer_version, instance.state)
        spec, subprocess_specs = self.specs_of(session, instance.definition_id)
        state["spec"], state["subprocess_specs"] = spec, dict(subprocess_specs)  # restored as they are
        workflow = serializer().from_dict(state)
        workflow.script_engine = self.script_engine
        if for_step:
            note_loaded(session, instance.id, workflow)
        return workflow

    def load_history(self, session: Session, instance: ProcessInstance) -> BpmnWorkflow:
        """Restore the instance's workflow with its archived history grafted back, for reading only.

        The returned object has every task the instance ran, including those `engine.compaction` moved to
        `process_task_archive`; it must not be advanced or saved.
        """
        workflow = self.load(session, instance)
        records = session.scalars(select(TaskArchive.record).where(TaskArchive.instance_id == instance.id)
                                  .order_by(TaskArchive.id)).all()
        if records:
            compaction.restore_history(workflow, list(records))
        return workflow

    def specs_of(self, session: Session, definition_id: int) -> tuple[Any, Mapping[str, Any]]:
        """Return a version's specs by id, reading the (large) definition row only the first time."""
        cached = self._spec_cache.get((definition_id, locks.definition_hash(session, definition_id)))
        return cached if cached is not None else self.specs(session.get(ProcessDefinition, definition_id))

    def specs(self, definition: ProcessDefinition) -> tuple[Any, Mapping[str, Any]]:
        """Return the version's process spec and subprocess specs, deserialized once per process.

        A deployed version never changes (its content hash names it) and SpiffWorkflow shares one spec among
        all the workflows built from it, so every load reuses the same objects instead of rebuilding ~100 task
        specs from JSON (a large part of each step; docs/performance.md).
        """
        key = (definition.id, definition.content_hash)
        cached = self._spec_cache.get(key)
        if cached is None:
            data = spec_dict(definition)
            cached = (serializer().from_dict(data["spec"]),
                      {name: serializer().from_dict(sub) for name, sub in data["subprocess_specs"].items()})
            self._spec_cache[key] = cached
        return cached

    def _forms_of(self, session: Session, definition_id: int) -> Mapping[str, Any]:
        key = (definition_id, locks.definition_hash(session, definition_id))
        forms = self._form_cache.get(key)
        if forms is None:
            forms = self._form_cache[key] = dict(session.get(ProcessDefinition, definition_id).forms or {})
        return forms

    # ---- starting -----------------------------------------------------------------------------
    def start(
        self, session: Session, process_id: str, business_key: str, data: Mapping[str, Any], actor: Actor
    ) -> ProcessInstance:
        """Start the newest active version of `process_id` and run it to its first wait state."""
        self.hooks.before_step(session, None)
        definition = latest_active(session, process_id)
        spec, subprocess_specs = self.specs(definition)
        workflow = BpmnWorkflow(spec, dict(subprocess_specs), script_engine=self.script_engine)
        workflow.task_tree.data.update(dict(data))
        instance = ProcessInstance(
            definition_id=definition.id, business_key=business_key, serializer_version=SERIALIZER_VERSION, state=""
        )
        session.add(instance)
        session.flush()
        audit.record(session, actor, "PROCESS_STARTED", instance_id=instance.id, business_key=business_key,
                     data={"process_id": process_id, "version": definition.version})
        self._advance(session, instance, workflow, actor)
        return instance

    # ---- human tasks --------------------------------------------------------------------------
    def _task_for_update(self, session: Session, task_id: str, principal: Principal, check: Check | None = None
                         ) -> tuple[HumanTask, ProcessInstance]:
        """Lock the task's instance, then read the task row and the instance's open rows as they are under the lock.

        One statement for both, and for the domain's row of the instance (`Hooks.instance_row`); the open rows are
        what `open_task_rows` gives the rest of the transaction (the step's projection, the domain's hooks)
        instead of reading them again. `check(instance)`, the caller's object-level rule (the domain's), runs
        under the lock right after that read, before anything is decided or changed; it raises to refuse
        (NotFound, not to reveal that the task exists).
        """
        instance = self._lock(session, None, task_id=task_id)
        joined = self.hooks.instance_row
        row, extra = read_task_and_open_rows(session, instance.id, task_id, joined[0] if joined else None)
        if joined:
            joined[1](session, instance.id, extra)
        if check is not None:
            check(instance)
        if row is None:
            raise NotFound("task not found")
        if not may_act(principal, row):
            log.warning("authorization refused: %r on task %s (%s)", principal.name, task_id, row.lane)
            raise Forbidden("this task belongs to another lane or scope")
        if row.status != TaskStatus.OPEN:
            raise Conflict("this task has already been completed")
        return row, instance

    def claim(self, session: Session, task_id: str, principal: Principal, check: Check | None = None) -> HumanTask:
        """Take the task so that others see it is being worked on."""
        row, instance = self._task_for_update(session, task_id, principal, check)
        if row.claimed_by and row.claimed_by != principal.name:
            raise Conflict("this task is claimed by another officer", claimed_by=row.claimed_by)
        if row.claimed_by != principal.name:
            row.claimed_by, row.claimed_at = principal.name, dt.datetime.now(dt.timezone.utc)
            audit.record(session, principal.actor(row.role), "TASK_CLAIMED", instance_id=instance.id,
                         business_key=row.business_key, task_id=row.id, bpmn_id=row.bpmn_id)
        session.flush()
        return row

    def release(self, session: Session, task_id: str, principal: Principal, check: Check | None = None) -> HumanTask:
        """Give the task back to the lane's inbox."""
        row, instance = self._task_for_update(session, task_id, principal, check)
        if row.claimed_by is None:
            return row
        if row.claimed_by != principal.name and not principal.superuser:
            raise Conflict("this task is claimed by another officer", claimed_by=row.claimed_by)
        row.claimed_by, row.claimed_at = None, None
        audit.record(session, principal.actor(row.role), "TASK_RELEASED", instance_id=instance.id,
                     business_key=row.business_key, task_id=row.id, bpmn_id=row.bpmn_id)
        session.flush()
        return row

    def form_schema(self, session: Session, row: HumanTask) -> dict[str, Any] | None:
        """Return the task's JSON-Schema form, prepared by the domain (options filled in)."""
        if not row.form:
            return None
        schema = self._forms_of(session, session.get(ProcessInstance, row.instance_id).definition_id).get(row.form)
        if schema is None:
            raise ProcessFailed(f"form {row.form} is missing from the deployed model")
        return self.hooks.prepare_form(schema)

    def task_data(self, session: Session, row: HumanTask) -> dict[str, Any]:
        """Return the data the task currently sees (for pre-filling and showing context)."""
        workflow = self.load(session, session.get(ProcessInstance, row.instance_id))
        return dict(workflow.get_task_from_id(uuid.UUID(row.id)).data)

    def complete(
        self,
        session: Session,
        task_id: str,
        principal: Principal,
        data: Mapping[str, Any],
        expected_version: int | None = None,
        check: Check | None = None,
    ) -> ProcessInstance:
        """Validate the submission against the task's form, complete the task and advance the process.

        `check(instance)`: the caller's object-level rule, run under the instance's lock (`_task_for_update`).
        """
        row, instance = self._task_for_update(session, task_id, principal, check)
        if row.claimed_by and row.claimed_by != principal.name:
            raise Conflict("this task is claimed by another officer", claimed_by=row.claimed_by)
        if expected_version is not None and expected_version != instance.version:
            raise Conflict("the petition was changed meanwhile; reload the page")
        schema = self.form_schema(session, row)
        cleaned = clean_submission(schema, dict(data)) if schema else {}
        workflow = self.load(session, instance, for_step=True)
        task = workflow.get_task_from_id(uuid.UUID(row.id))
        if task.state != TaskState.READY:
            raise Conflict("this task is no longer waiting for input")
        actor = principal.actor(row.role)
        try:
            task.set_data(**cleaned)
            task.run()
        except SpiffWorkflowException as exc:
            raise ProcessFailed(_describe(exc)) from exc
        row.status, row.completed_by = TaskStatus.COMPLETED, principal.name
        row.completed_at, row.data = dt.datetime.now(dt.timezone.utc), cleaned
        audit.record(session, actor, "TASK_COMPLETED", instance_id=instance.id, business_key=row.business_key,
                     task_id=row.id, bpmn_id=row.bpmn_id, data=cleaned)
        self._advance(session, instance, workflow, actor)
        return instance

    # ---- timers -------------------------------------------------------------------------------
    def fire_timers(self, session: Session, instance_id: int, now: dt.datetime | None = None) -> list[Timer]:
        """Fire the instance's due timers in the caller's transaction; return the rows that fired.

        Locks the instance, restores it, lets SpiffWorkflow expire its timers (`refresh_timers`, which
        compares with the wall clock) and runs the engine to the next wait state. Each fired row gets
        `fired_at` and a `TIMER_FIRED` audit event with its lateness. A due row the engine does not consider
        expired yet is left unfired for the next sweep. Running or not, nothing is committed here.
        """
        now = now or utcnow()
        instance = self._lock(session, instance_id)
        if instance.status != InstanceStatus.RUNNING:
            return []
        # All of the instance's rows, read once under the lock: the due ones fire, and sync_timers mirrors the
        # step's timers onto the same rows instead of reading them again.
        rows = take_timer_rows(session, instance.id)
        due = sorted((row for row in rows if row.fired_at is None and row.due_at <= now),
                     key=lambda row: (row.due_at, row.id))
        if not due:
            return []
        workflow = self.load(session, instance, for_step=True)
        try:
            workflow.refresh_timers()
        except SpiffWorkflowException as exc:
            raise ProcessFailed(_describe(exc)) from exc
        still_waiting = waiting_due(workflow)
        fired = [row for row in due if still_waiting.get(row.task_id) != row.due_at]
        if not fired:
            return []
        for row in fired:
            row.fired_at = now
            lateness = (now - row.due_at).total_seconds()
            audit.record(session, SCHEDULER, "TIMER_FIRED", instance_id=instance.id,
                         business_key=instance.business_key, task_id=row.task_id, bpmn_id=row.bpmn_id,
                         data={"timer_id": row.id, "kind": str(row.kind), "due_at": row.due_at.isoformat(),
                               "fired_at": now.isoformat(), "lateness_seconds": round(lateness, 3)})
            self.hooks.timer_fired(session, instance, row)
        self._advance(session, instance, workflow, SCHEDULER, timer_rows=rows)
        return fired

    # ---- messages -----------------------------------------------------------------------------
    def send_message(
        self,
        session: Session,
        instance_id: int,
        name: str,
        payload: Mapping[str, Any],
        actor: Actor,
        check: Callable[[BpmnWorkflow], None] | None = None,
    ) -> ProcessInstance:
        """Deliver the message `name` with `payload` to the instance and advance it, under the instance lock.

        `check` runs on the restored workflow before delivery (a domain precondition, e.g. "only once"); it
        raises to refuse. Raises Conflict when no element of the instance waits for this message.
        """
        instance = self._lock(session, instance_id)
        if instance.status != InstanceStatus.RUNNING:
            raise Conflict("the process is not running")
        workflow = self.load(session, instance, for_step=True)
        if check is not None:
            check(workflow)
        try:
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload=dict(payload)))
        except WorkflowException as exc:
            raise Conflict(f"the process is not waiting for '{name}' now") from exc
        audit.record(session, actor, "MESSAGE_RECEIVED", instance_id=instance.id, business_key=instance.business_key,
                     data={"message": name, "payload": dict(payload)})
        self._advance(session, instance, workflow, actor)
        return instance

    # ---- advancing ----------------------------------------------------------------------------
    def _advance(self, session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, actor: Actor,
                 timer_rows: list[Timer] | None = None) -> None:
        # `timer_rows`: the instance's timer rows as this step already read them under the lock (a timer fire).
        ran: list[Any] = []

        def collect(task: Any) -> None:
            if task.task_spec.bpmn_id and not task.task_spec.manual:
                ran.append(task)

        try:
            workflow.do_engine_steps(did_complete_task=collect)
        except SpiffWorkflowException as exc:
            raise ProcessFailed(_describe(exc)) from exc
        broadcasts = broadcast.apply_all(workflow, ran)
        for task in ran:
            self.hooks.element_ran(session, instance, task.task_spec.bpmn_id, _properties(task.task_spec), task.data)
        cut = compaction.compact(workflow) if self.compact else None
        if cut is not None:
            session.add(TaskArchive(instance_id=instance.id, record=compaction.dump_record(cut)))
        state = dump_state(workflow)
        sync_timers(session, instance, workflow, rows=timer_rows)
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)  # one walk for the rows and the data
        statuses = self._sync_tasks(session, instance, ready, actor)
        self._redate_tasks(session, broadcasts)
        if workflow.is_completed():
            end = _end_event(workflow)
            instance.status = InstanceStatus.COMPLETED
            instance.end_event = end.task_spec.bpmn_id if end else None
            statuses = [_properties(end.task_spec).get("status", "")] if end else []
            audit.record(session, actor, "PROCESS_COMPLETED", instance_id=instance.id,
                         business_key=instance.business_key, data={"end_event": instance.end_event})
        # The row is changed once per step (one UPDATE, one version), after the queries above.
        instance.state, instance.updated_at = state, dt.datetime.now(dt.timezone.utc)
        self.workflows.keep_after_commit(session, instance.id, state, workflow)
        instance.business_status = self.hooks.choose_status([s for s in statuses if s])
        self.hooks.after_step(session, instance, current_data(workflow, ready))
        self.hooks.before_flush(session, instance)
        try:
            session.flush()
        except StaleDataError as exc:
            raise Conflict("the petition was changed meanwhile; reload the page") from exc

    def _sync_tasks(self, session: Session, instance: ProcessInstance, ready_tasks: list[Any], actor: Actor
                    ) -> list[str]:
        ready = {str(t.id): t for t in ready_tasks}
        open_rows = open_task_rows(session, instance.id)
        known = {row.id for row in open_rows}
        for row in open_rows:
            if row.id not in ready:
                row.status = TaskStatus.CANCELLED
                audit.record(session, actor, "TASK_CANCELLED", instance_id=instance.id,
                             business_key=instance.business_key, task_id=row.id, bpmn_id=row.bpmn_id)
        for task_id, task in ready.items():
            if task_id not in known:
                self._create_task_row(session, instance, task, actor)
        return [_properties(t.task_spec).get("status", "") for t in ready.values()]

    def _redate_tasks(self, session: Session, broadcasts: list[broadcast.Broadcast]) -> None:
        # Open user tasks whose due-date expression reads a broadcast value get their due date again.
        for done in broadcasts:
            for task in done.tasks:
                expression = _properties(task.task_spec).get("dueDate")
                if not task.task_spec.manual or not broadcast.names_in(expression) & set(done.values):
                    continue
                row = session.get(HumanTask, str(task.id))
                if row is not None and row.status == TaskStatus.OPEN:
                    row.due_date = self._due_date(task, expression)

    def _create_task_row(self, session: Session, instance: ProcessInstance, task: Any, actor: Actor) -> None:
        spec = task.task_spec
        props = _properties(spec)
        role, scope_kind, scope_value = self.hooks.lane_scope(spec.lane or "", task.data)
        row = HumanTask(
            id=str(task.id), instance_id=instance.id, business_key=instance.business_key,
            bpmn_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id, lane=spec.lane or "",
            role=role, scope_kind=scope_kind, scope_value=scope_value,
            form=props.get("formJsonSchemaFilename"), due_date=self._due_date(task, props.get("dueDate")),
        )
        session.add(row)
        add_open_row(session, row)
        self.hooks.task_created(session, instance, row, task.data)
        audit.record(session, actor, "TASK_CREATED", instance_id=instance.id, business_key=instance.business_key,
                     task_id=row.id, bpmn_id=row.bpmn_id,
                     data={"lane": row.lane, "scope": scope_value, "due_date": row.due_date.isoformat() if row.due_date else None})

    def _due_date(self, task: Any, expression: str | None) -> dt.date | None:
        if not expression:
            return None
        try:
            value = self.script_engine.evaluate(task, expression)
        except SpiffWorkflowException as exc:
            raise ProcessFailed(f"due date of {task.task_spec.bpmn_id}: {_describe(exc)}") from exc
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10]) if value else None

    # ---- queries ------------------------------------------------------------------------------
    def visible_task(self, session: Session, task_id: str, principal: Principal) -> HumanTask:
        """Return a task the principal may act on; raise NotFound or Forbidden otherwise."""
        row = session.get(HumanTask, task_id)
        if row is None:
            raise NotFound("task not found")
        if not may_act(principal, row):
            raise Forbidden("this task belongs to another lane or scope")
        return row


def current_data(workflow: BpmnWorkflow, ready: list[Any] | None = None) -> dict[str, Any]:
    """Return the data at the process's front: a waiting task's, or the end data once completed.

    `ready`: the workflow's READY manual tasks in tree order, when the caller has them already.

    Tasks that carry a `status` property (the process's main line) come first: a side task started by a
    boundary event (an overdue review, say) holds the data of the moment it started, not the front's.
    """
    if workflow.is_completed():
        return dict(workflow.data)
    if ready is None:
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    ready = [t for t in ready if _properties(t.task_spec).get("status")] or ready
    if ready:
        return dict(ready[0].data)
    last = workflow.last_task
    return dict(last.data) if last is not None else {}


def _end_event(workflow: BpmnWorkflow) -> Any:
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent) if t.task_spec.bpmn_id]
    return max(ends, key=lambda t: t.last_state_change, default=None)


def _describe(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = f" in {task.task_spec.bpmn_id}" if task is not None else ""
    line = getattr(exc, "line_number", None)
    return f"{exc}{where}{f' (line {line})' if line else ''}"
