"""Dry-run and migrate running process instances to another version of their definition."""
# The dry run performs the whole migration in memory (migrate, save and restore, run to the next wait
# state), so "migratable" means exactly that this succeeded. Target specs are restored from the serializer:
# a freshly parsed spec leaves a running multi-instance stuck. SpiffWorkflow gives reset READY tasks new
# ids, so `migrate` carries a claim over to the new task of the same step.
from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.definitions import serializer, spec_dict
from engine.errors import EngineError
from engine.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from engine.state import dump_state
from engine.validation import N_, Finding

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = logging.getLogger(__name__)

_NO_STATE = 1 << 24  # a state mask no task has
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE
ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED

MSG_NOT_RUNNING = N_("The instance is not running (%(status)s).")
MSG_SAME_VERSION = N_("The instance already runs on this version.")
MSG_OTHER_PROCESS = N_("The instance runs process '%(process)s', not '%(target)s'.")
MSG_CANNOT_LOAD = N_("The instance's state cannot be read: %(detail)s")
MSG_REMOVED_IN_USE = N_("Steps this instance has done or is at no longer exist in the new version: %(steps)s.")
MSG_SUBPROCESS_GONE = N_("Subprocess %(name)s, which this instance is running, no longer exists.")
MSG_MI_CHANGED = N_("Multi-instance step %(step)s is running and its definition changed (%(attributes)s).")
MSG_LEFTOVER = N_("After migrating, tasks would still point at removed steps: %(steps)s.")
MSG_REROUTED_DONE = N_("Step %(step)s, which this instance has done, now leads to %(new)s instead of %(old)s, "
                       "where the instance is waiting: it would skip the new steps or wait for them forever.")
MSG_CANNOT_RESTORE = N_("The migrated state cannot be saved and restored: %(detail)s")
MSG_FAILS_AFTER = N_("The process fails right after migrating: %(detail)s")
MSG_RESET_STEP = N_("Open step %(step)s will be re-created (new task id; a claim is kept).")
MSG_RESTART_TIMER = N_("Waiting event %(step)s will be re-armed from the time of the migration.")
MSG_NEXT_STEPS = N_("After migrating, the instance waits at: %(steps)s.")
MIGRATION_MESSAGES = (MSG_NOT_RUNNING, MSG_SAME_VERSION, MSG_OTHER_PROCESS, MSG_CANNOT_LOAD, MSG_REMOVED_IN_USE,
                      MSG_SUBPROCESS_GONE, MSG_MI_CHANGED, MSG_LEFTOVER, MSG_REROUTED_DONE, MSG_CANNOT_RESTORE, MSG_FAILS_AFTER,
                      MSG_RESET_STEP, MSG_RESTART_TIMER, MSG_NEXT_STEPS)


@dataclass
class Verdict:
    """Whether one instance can move to the target version, why not, and what will happen."""

    instance_id: int
    business_key: str
    from_version: int | None
    open_steps: list[str]
    migratable: bool = True
    reasons: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    removed_task_ids: list[str] = field(default_factory=list)
    migrated: bool = False

    def refuse(self, msgid: str, **params: Any) -> None:
        """Record a reason that prevents the migration."""
        self.migratable = False
        self.reasons.append(Finding.make(msgid, **params))


@dataclass
class _Target:
    definition: ProcessDefinition
    spec_data: dict[str, Any]

    def specs(self) -> tuple[Any, dict[str, Any]]:
        """Return a fresh (serializer round-tripped) spec and subprocess specs of the target version."""
        data = json.loads(json.dumps(self.spec_data))
        return (serializer().from_dict(data["spec"]),
                {name: serializer().from_dict(sub) for name, sub in data["subprocess_specs"].items()})


def _steps(tasks: Iterable[Any]) -> str:
    names = []
    for task in tasks:
        spec = task.task_spec
        label = getattr(spec, "bpmn_id", None) or spec.name
        if label not in names:
            names.append(label)
    return ", ".join(names)


def _open_steps(workflow: BpmnWorkflow) -> list[str]:
    steps = []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        label = task.task_spec.bpmn_id
        if label and label not in steps:
            steps.append(label)
    return steps


def _spec_diff(workflow: Any, new_spec: Any) -> tuple[SpecDiff, WorkflowDiff]:
    spec_diff = SpecDiff(serializer().registry, workflow.spec, new_spec)
    return spec_diff, WorkflowDiff(workflow, spec_diff)


def _check_diff(verdict: Verdict, workflow: Any, spec_diff: SpecDiff, diff: WorkflowDiff) -> None:
    in_use = [t for t in diff.removed if not t.state & PREDICTED]
    if in_use:
        verdict.refuse(MSG_REMOVED_IN_USE, steps=_steps(in_use))
    for task in diff.changed:
        if isinstance(task.task_spec, LoopTask) and task.state & ACTIVE:
            attributes = ", ".join(spec_diff.changed.get(task.task_spec, []))
            verdict.refuse(MSG_MI_CHANGED, step=task.task_spec.bpmn_id or task.task_spec.name, attributes=attributes)


def _all_specs(spec: Any, subs: Mapping[str, Any]) -> set[int]:
    ids = {id(s) for s in spec.task_specs.values()}
    for sub in subs.values():
        ids |= {id(s) for s in sub.task_specs.values()}
    return ids


def _simulate(verdict: Verdict, workflow: BpmnWorkflow, target: _Target) -> BpmnWorkflow | None:
    """Migrate `workflow` in memory; return it (not yet advanced), or None with reasons in the verdict."""
    new_spec, new_subs = target.specs()
    spec_diff, top_diff = _spec_diff(workflow, new_spec)
    _check_diff(verdict, workflow, spec_diff, top_diff)
    sub_diffs: dict[Any, tuple[Any, WorkflowDiff]] = {}
    for sp_id, sub in workflow.subprocesses.items():
        name = sub.spec.name
        if name not in new_subs:
            verdict.refuse(MSG_SUBPROCESS_GONE, name=name)
            continue
        sub_spec_diff, sub_diff = _spec_diff(sub, new_subs[name])
        _check_diff(verdict, sub, sub_spec_diff, sub_diff)
        sub_diffs[sp_id] = (new_subs[name], sub_diff)
    if not verdict.migratable:
        return None
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if task.task_spec.manual:
            verdict.notes.append(Finding.make(MSG_RESET_STEP, step=task.task_spec.bpmn_id or task.task_spec.name))
        elif task.state == TaskState.WAITING:
            verdict.notes.append(Finding.make(MSG_RESTART_TIMER, step=task.task_spec.bpmn_id or task.task_spec.name))
    removed = _migrate(top_diff, workflow, new_spec)
    for sp_id, (sub_spec, sub_diff) in sub_diffs.items():
        removed += _migrate(sub_diff, workflow.subprocesses[sp_id], sub_spec)
    workflow.subprocess_specs = new_subs
    verdict.removed_task_ids = [str(t.id) for t in removed]
    known = _all_specs(new_spec, new_subs)
    leftover = [t for t in workflow.get_tasks() if id(t.task_spec) not in known]
    if leftover:
        verdict.refuse(MSG_LEFTOVER, steps=_steps(leftover))
        return None
    _check_rerouted(verdict, workflow)
    return workflow if verdict.migratable else None


def _label(spec: Any) -> str:
    return getattr(spec, "bpmn_id", None) or spec.name


def _check_rerouted(verdict: Verdict, workflow: BpmnWorkflow) -> None:
    """Refuse when a done step's outgoing flow now goes elsewhere while the instance waits after it.

    A step inserted right after a completed one is never reached: its successor task already exists. If
    that successor is a join, the join waits for the new step forever; otherwise the new step is skipped.
    Old completed branches (the instance has moved past them) do not matter.
    """
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        if isinstance(spec, LoopTask) or not getattr(spec, "bpmn_id", None):
            continue
        outputs = {id(o) for o in spec.outputs}
        for child in task.children:
            if child.state & (ACTIVE | TaskState.FUTURE) and id(child.task_spec) not in outputs:
                verdict.refuse(MSG_REROUTED_DONE, step=_label(spec), old=_label(child.task_spec),
                               new=", ".join(_label(o) for o in spec.outputs))


def _migrate(diff: WorkflowDiff, workflow: Any, spec: Any) -> list[Any]:
    """`migrate_workflow`, except that open multi-instance children keep their own data when reset.

    SpiffWorkflow resets every READY/WAITING task from its parent's data; an instance of a running
    multi-instance would lose its input item (e.g. `agency`) and fail on completion.
    """
    removed = migrate_workflow(diff, workflow, spec, reset_mask=_NO_STATE)  # re-point the specs only
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)):
        if task.id not in workflow.tasks:
            continue
        instance_of_loop = task.parent is not None and isinstance(task.parent.task_spec, LoopTask)
        removed.extend(task.reset_branch(copy.deepcopy(task.data) if instance_of_loop else None))
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None
    return removed


def _restore(runtime: Runtime, workflow: BpmnWorkflow, target: _Target) -> BpmnWorkflow:
    state = json.loads(dump_state(workflow))
    state.update(json.loads(json.dumps(target.spec_data)))
    restored = serializer().from_dict(state)
    restored.script_engine = runtime.script_engine
    return restored


def plan(session: Session, runtime: Runtime, instance: ProcessInstance, target: ProcessDefinition,
         _target: _Target | None = None) -> tuple[Verdict, BpmnWorkflow | None]:
    """Decide (by migrating in memory) whether `instance` can move to `target`; return the migrated workflow."""
    source = session.get(ProcessDefinition, instance.definition_id)
    verdict = Verdict(instance.id, instance.business_key, source.version if source else None, [])
    if instance.status != InstanceStatus.RUNNING:
        verdict.refuse(MSG_NOT_RUNNING, status=str(instance.status))
        return verdict, None
    if instance.definition_id == target.id:
        verdict.refuse(MSG_SAME_VERSION)
        return verdict, None
    if source is not None and source.process_id != target.process_id:
        verdict.refuse(MSG_OTHER_PROCESS, process=source.process_id, target=target.process_id)
        return verdict, None
    target_data = _target or _Target(target, spec_dict(target))
    try:
        workflow = runtime.load(session, instance)
    except (EngineError, Exception) as exc:  # noqa: BLE001 - a broken state is a verdict, not a crash
        verdict.refuse(MSG_CANNOT_LOAD, detail=f"{type(exc).__name__}: {exc}")
        return verdict, None
    verdict.open_steps = _open_steps(workflow)
    try:
        migrated = _simulate(verdict, workflow, target_data)
    except Exception as exc:  # noqa: BLE001 - the library's failure on this instance is the reason
        log.warning("migration of %s failed in simulation", instance.business_key, exc_info=exc)
        verdict.refuse(MSG_CANNOT_RESTORE, detail=f"{type(exc).__name__}: {exc}")
        return verdict, None
    if migrated is None:
        return verdict, None
    try:
        probe = _restore(runtime, migrated, target_data)
    except Exception as exc:  # noqa: BLE001
        verdict.refuse(MSG_CANNOT_RESTORE, detail=f"{type(exc).__name__}: {exc}")
        return verdict, None
    try:
        probe.do_engine_steps()
    except Exception as exc:  # noqa: BLE001 - scripts of the new version may fail on this instance's data
        verdict.refuse(MSG_FAILS_AFTER, detail=f"{type(exc).__name__}: {exc}")
        return verdict, None
    after = _open_steps(probe)
    if after:
        verdict.notes.append(Finding.make(MSG_NEXT_STEPS, steps=", ".join(after)))
    return verdict, _restore(runtime, migrated, target_data)


def candidates(session: Session, target: ProcessDefinition) -> list[ProcessInstance]:
    """Return the running instances of the target's process that run another version, oldest first."""
    other_versions = select(ProcessDefinition.id).where(ProcessDefinition.process_id == target.process_id,
                                                         ProcessDefinition.id != target.id)
    return list(session.scalars(
        select(ProcessInstance)
        .where(ProcessInstance.definition_id.in_(other_versions), ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(ProcessInstance.id)
    ))


def dry_run(session: Session, runtime: Runtime, target: ProcessDefinition,
            instance_ids: Iterable[int] | None = None) -> list[Verdict]:
    """Return a verdict per instance (the candidates, or the given ids); nothing is changed."""
    target_data = _Target(target, spec_dict(target))
    instances = candidates(session, target) if instance_ids is None else [
        i for i in (session.get(ProcessInstance, n) for n in instance_ids) if i is not None]
    return [plan(session, runtime, instance, target, target_data)[0] for instance in instances]


def _claims(session: Session, instance_id: int) -> dict[str, tuple[str, Any]]:
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                   HumanTask.status == TaskStatus.OPEN))
    return {row.bpmn_id: (row.claimed_by, row.claimed_at) for row in rows if row.claimed_by}


def _restore_claims(session: Session, instance_id: int, claims: Mapping[str, tuple[str, Any]]) -> None:
    if not claims:
        return
    for row in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                       HumanTask.status == TaskStatus.OPEN)):
        if row.claimed_by is None and row.bpmn_id in claims:
            row.claimed_by, row.claimed_at = claims[row.bpmn_id]
    session.flush()


def migrate(session: Session, runtime: Runtime, target: ProcessDefinition, instance_ids: Iterable[int],
            actor: Actor) -> list[Verdict]:
    """Move the given instances to `target` where possible; return a verdict per instance (`migrated` set).

    Each instance is locked, planned again and migrated in its own savepoint; one that cannot migrate (or
    fails while being saved) is left exactly as it was. Nothing is committed here.
    """
    target_data = _Target(target, spec_dict(target))
    verdicts = []
    for instance_id in instance_ids:
        try:
            instance = runtime._lock(session, instance_id)
        except EngineError:
            continue
        verdict, workflow = plan(session, runtime, instance, target, target_data)
        verdicts.append(verdict)
        if workflow is None:
            continue
        from_definition = instance.definition_id
        audit.write_pending(session)  # events queued before the savepoint must survive its rollback
        savepoint = session.begin_nested()
        try:
            claims = _claims(session, instance.id)
            instance.definition_id = target.id
            audit.record(session, actor, "INSTANCE_MIGRATED", instance_id=instance.id,
                         business_key=instance.business_key,
                         data={"process_id": target.process_id, "from_version": verdict.from_version,
                               "to_version": target.version, "from_definition_id": from_definition,
                               "to_definition_id": target.id, "removed_task_ids": verdict.removed_task_ids,
                               "open_steps_before": verdict.open_steps})
            runtime._advance(session, instance, workflow, actor)
            _restore_claims(session, instance.id, claims)
            savepoint.commit()
            verdict.migrated = True
        except Exception as exc:  # noqa: BLE001 - this instance stays untouched, the others go on
            savepoint.rollback()
            session.expire(instance)
            log.warning("migration of %s failed", instance.business_key, exc_info=exc)
            verdict.refuse(MSG_FAILS_AFTER, detail=f"{type(exc).__name__}: {exc}")
    return verdicts
