"""Keep an instance's stored task tree bounded: move its finished history out to an append-only archive.

SpiffWorkflow keeps every task an instance ever ran in one tree, and a loop (a petition returned for a new
draft, again and again) adds a level to it at every turn. Each step walks and serializes the whole tree, so
a step on an instance with 500 prior steps cost 8.8 times one with 10 (docs/performance.md, figure 4).

Like the runtime/history split of Camunda and Flowable, the running state keeps only what execution can
still need, and what it no longer needs is written once to `process_task_archive`:

- everything below the lowest common ancestor of the unfinished tasks (the "frontier") stays, plus
  `KEEP` levels of its ancestors: splits whose joins still wait, boundary-event parents and the previous
  loop turns all live there;
- when the frontier is more than `TRIGGER` levels deep, the ancestors above the kept ones, and the finished
  side branches hanging from them, are cut off; the tree's root then points at the first kept task;
- a branch that ended at an end event leaves SpiffWorkflow's end join (`End`) behind: it waits for the other
  branches, and when the process ends, the last `End` merges the data of every earlier one (ended side
  branches: a refused extension, an overdue review) into the workflow's data. Such end events are kept,
  with their `End`, as children of the root ("stubs"), and they do not hold the frontier up;
- an instance is left as it is when a task to be cut is unfinished, is `last_task`, or owns a subprocess.

Nothing of record is lost: the archive holds the cut tasks as SpiffWorkflow serializes them, and
`restore_history` grafts them back (oldest cut last) onto a loaded workflow for the process-history view.
User-task submissions, times and actors are in `human_task` and the audit chain anyway.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.task import TaskState

from engine.definitions import serializer

KEEP = 40
TRIGGER = 80


def _ending(tasks: dict[Any, Any], task: Any) -> bool:
    # The end join of an ended branch, and the `End` task under it, wait until the whole process ends.
    parent = tasks.get(task._parent)
    return isinstance(task.task_spec, _EndJoin) or (parent is not None and isinstance(parent.task_spec, _EndJoin))


def frontier(workflow: Any) -> list[Any]:
    """Return the root-first chain of ancestors of the unfinished tasks' lowest common ancestor ([] if none)."""
    tasks = workflow.tasks
    unfinished = [t for t in tasks.values() if not t.has_state(TaskState.FINISHED_MASK) and not _ending(tasks, t)]
    if not unfinished:
        return []
    chain, node = [], unfinished[0]
    while node is not None:
        chain.append(node)
        node = tasks.get(node._parent)
    chain.reverse()
    index = {task.id: depth for depth, task in enumerate(chain)}
    lowest, seen = len(chain) - 1, set(index)
    for task in unfinished[1:]:
        node = task
        while node.id not in seen:
            seen.add(node.id)
            node = tasks[node._parent]
        if node.id in index:
            lowest = min(lowest, index[node.id])
        # else: it met a branch already walked, whose meeting point with the chain is already counted
    return chain[:lowest + 1]


def compact(workflow: Any, keep: int = KEEP, trigger: int = TRIGGER) -> dict[str, Any] | None:
    """Cut the finished history above `keep` ancestors of the frontier when it is deeper than `trigger`.

    Return the archive record (JSON-serializable) of what was cut, or None when nothing was.
    """
    if keep < 1 or trigger < keep:
        raise ValueError("compaction needs 1 <= keep <= trigger")
    chain = frontier(workflow)
    if len(chain) - 1 <= trigger:
        return None
    root, top = workflow.task_tree, chain[len(chain) - 1 - keep]
    tasks = workflow.tasks
    removed: list[Any] = []
    stubs: list[Any] = []
    stack = [tasks[child] for child in reversed(root._children)]
    while stack:  # everything under the root but outside top's subtree, parents before children
        task = stack.pop()
        if task is top:
            continue
        children = [tasks[child] for child in task._children]
        if any(isinstance(child.task_spec, _EndJoin) for child in children):
            stubs.append(task)  # an ended branch's end event and its End: kept for the final data merge
            continue
        if not task.has_state(TaskState.FINISHED_MASK) or task is workflow.last_task or task.id in workflow.subprocesses:
            return None
        removed.append(task)
        stack.extend(reversed(children))
    registry = serializer().registry
    record = {
        "root": str(root.id),
        "root_children": [str(child) for child in root._children],
        "top": str(top.id),
        "top_parent": str(top._parent),
        "stubs": {str(task.id): str(task._parent) for task in stubs},
        "tasks": [registry.convert(task) for task in removed],  # data as deltas from their (cut) parents
    }
    for task in removed:
        del tasks[task.id]
    root._children = [top.id] + [task.id for task in stubs]
    top._parent = root.id
    for task in stubs:
        task._parent = root.id
    return record


def dump_record(record: dict[str, Any]) -> str:
    return json.dumps(record, cls=serializer()._encoder_cls)


def restore_history(workflow: Any, records: list[str]) -> int:
    """Graft archived records (as stored, oldest first) back onto a loaded workflow; return tasks restored.

    Only for reading the history: the workflow must not be advanced or saved afterwards. A record whose
    tasks name a spec this version no longer has (the instance was migrated) stops the grafting there, so
    the history shown then starts at that cut.
    """
    registry = serializer().registry
    specs = workflow.spec.task_specs
    restored = 0
    for text in reversed(records):  # undo the newest cut first
        record = json.loads(text)
        if any(task["task_spec"] not in specs for task in record["tasks"]):
            break
        if record["root"] != str(workflow.task_tree.id) or uuid.UUID(record["top"]) not in workflow.tasks:
            break
        for task in record["tasks"]:
            registry.restore(task, workflow=workflow)
            restored += 1
        workflow.task_tree._children = [uuid.UUID(child) for child in record["root_children"]]
        workflow.tasks[uuid.UUID(record["top"])]._parent = uuid.UUID(record["top_parent"])
        for stub, parent in record.get("stubs", {}).items():
            workflow.tasks[uuid.UUID(stub)]._parent = uuid.UUID(parent)
    return restored
