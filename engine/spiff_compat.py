"""Make SpiffWorkflow 3.2 safe for deep task trees (long histories), installed when the engine is imported.

SpiffWorkflow keeps every task an instance ran in one tree, and a BPMN loop (the leader returning a draft,
say) makes it deeper each turn: about 2.5 levels per step of the petition's loop. Two limits then broke a
petition with a few hundred prior steps (docs/performance.md, figure 4):

- `Task.is_descendant_of` and `Task.find_ancestor` climb to the root *recursively*: near 390 steps a join
  check failed with RecursionError, the step rolled back and the petition could never move on. They are
  replaced by loops over the same parents in the same order (same answers, no depth limit).
- Every task iterator stops at `max_depth=1000` by default, so `get_tasks()` -- and `is_completed()`,
  which asks it for unfinished tasks -- no longer saw the tasks below depth 1000: near 400 steps the
  instance was stored as *completed* with no end event and its next task silently dropped. The default
  becomes unbounded (an explicit `max_depth` still applies).

`installed()` tells whether the replacements are in place (tests check it, and reproduce both failures).
"""
from __future__ import annotations

import sys
from typing import Any

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator


def is_descendant_of(self: Task, task: Task) -> bool:
    """Tell whether `task` is an ancestor of this task (parent, grandparent, ...)."""
    parent = self.parent
    while parent is not None:
        if parent == task:
            return True
        parent = parent.parent
    return False


def find_ancestor(self: Task, spec_name: str) -> Any:
    """Return the nearest ancestor whose spec is named `spec_name`, or None."""
    parent = self.parent
    while parent is not None:
        if parent.task_spec.name == spec_name:
            return parent
        parent = parent.parent
    return None


UNBOUNDED = sys.maxsize


def _unbounded_defaults(function: Any) -> tuple[Any, ...]:
    # `max_depth` is the second defaulted parameter of both iterators' __init__ (after `end_at_spec`).
    defaults = list(function.__defaults__)
    assert function.__code__.co_varnames[2 + 1] == "max_depth", "SpiffWorkflow's iterator signature changed"
    defaults[1] = UNBOUNDED
    return tuple(defaults)


def install() -> None:
    """Replace the recursive walks and lift the iterators' default depth (idempotent)."""
    Task.is_descendant_of = is_descendant_of  # type: ignore[method-assign]
    Task.find_ancestor = find_ancestor  # type: ignore[method-assign]
    for iterator in (TaskIterator, BpmnTaskIterator):
        iterator.__init__.__defaults__ = _unbounded_defaults(iterator.__init__)


def installed() -> bool:
    """Tell whether the replacements are in place."""
    return (Task.is_descendant_of is is_descendant_of and Task.find_ancestor is find_ancestor
            and all(i.__init__.__defaults__[1] == UNBOUNDED for i in (TaskIterator, BpmnTaskIterator)))


install()
