"""Broadcast: a task's values pushed into every open branch of its instance (BPMN property `broadcast`).

SpiffWorkflow copies task data down each branch: a value set in one branch (say, the leader granting an
extension in a side branch started by a non-interrupting boundary event) never reaches the tasks of the other
branches, and a parallel join lets the branch that arrives last win. An element carrying the spiffworkflow
property `broadcast` = "key1 key2 ..." lifts that limit for those keys: when the engine has run it, the runtime
copies the keys' values from the element's data into

- every task that is not finished (READY, WAITING, STARTED): the open user tasks, the waiting boundary events,
  a running multi-instance and its instances, a waiting parallel join;
- the completed task in front of each pending parallel-join instance, because the join merges the data of
  those tasks (`UnstructuredJoin._run_hook`), not of the join instances themselves;

so every branch continues with the same values and no join can bring the old ones back. Waiting timer events
whose expression names a broadcast key are re-armed: their stored due time is dropped and evaluated again
with the new data (a due time already past fires at the next `refresh_timers`). The caller re-evaluates the
due dates of the affected user tasks.
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

PROPERTY = "broadcast"
_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class Broadcast:
    """What one broadcast changed: the values, the tasks that received them, the timers re-armed."""

    values: dict[str, Any]
    tasks: list[Any] = field(default_factory=list)
    rearmed: list[Any] = field(default_factory=list)


def keys_of(task_spec: Any) -> list[str]:
    """Return the keys an element broadcasts (its `broadcast` property, split on spaces or commas)."""
    raw = (getattr(task_spec, "extensions", {}) or {}).get("properties", {}).get(PROPERTY, "")
    return [key for key in raw.replace(",", " ").split() if key]


def names_in(expression: str | None) -> set[str]:
    """Return the variable names an expression reads (empty when it does not parse)."""
    if not expression:
        return set()
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _pending_join_parents(workflow: BpmnWorkflow) -> list[Any]:
    """Return the completed tasks whose data a pending parallel join will merge."""
    joins = [t for t in workflow.get_tasks() if isinstance(t.task_spec, UnstructuredJoin)]
    pending_specs = {t.task_spec.name for t in joins if t.state == TaskState.WAITING}
    return [t.parent for t in joins
            if t.task_spec.name in pending_specs and t.state in (TaskState.WAITING, TaskState.CANCELLED)
            and t.parent is not None]


def apply(workflow: BpmnWorkflow, source: Any, keys: Iterable[str]) -> Broadcast:
    """Copy `keys` from `source.data` into every open branch of `workflow`; re-arm the timers that read them."""
    values = {key: source.data[key] for key in keys if key in source.data}
    result = Broadcast(values)
    if not values:
        return result
    seen: set[Any] = set()
    targets = list(workflow.get_tasks(state=_OPEN)) + _pending_join_parents(workflow)
    for task in targets:
        if task.id in seen or task is source:
            continue
        seen.add(task.id)
        task.data.update(_copy(values))
        result.tasks.append(task)
        definition = getattr(task.task_spec, "event_definition", None)
        if (task.state == TaskState.WAITING and isinstance(definition, TimerEventDefinition)
                and names_in(definition.expression) & set(values)
                and not task.internal_data.get("event_fired")):
            task.internal_data.pop("event_value", None)
            definition.has_fired(task)  # evaluates the expression again and stores the new due time
            result.rearmed.append(task)
    return result


def apply_all(workflow: BpmnWorkflow, ran: Iterable[Any]) -> list[Broadcast]:
    """Apply the broadcast of every element in `ran` (the tasks an engine step ran) that declares one."""
    done = []
    for task in ran:
        keys = keys_of(task.task_spec)
        if keys:
            done.append(apply(workflow, task, keys))
    return done


def _copy(values: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(values))
