"""What the engine needs from its callers and from the domain: who acts (`Principal`, `may_act`) and the
hooks a domain plugs in (`Hooks`, wired once in the composition root, e.g. `workflows.wiring`)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.models import HumanTask, ProcessInstance, Timer


@dataclass(frozen=True)
class Principal:
    """A user as the engine sees them: roles, and a scope value per scope kind (unit, agency, enterprise)."""

    name: str
    roles: frozenset[str]
    scopes: Mapping[str, str] = field(default_factory=dict)
    superuser: bool = False

    def actor(self, role: str = "") -> Actor:
        """Return the audit actor for this principal acting in `role`."""
        return Actor(self.name, role or ",".join(sorted(self.roles)))


LaneScope = Callable[[str, Mapping[str, Any]], tuple[str, str | None, str | None]]


def _default_lane_scope(lane: str, data: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    return lane, None, None


@dataclass
class Hooks:
    """How a domain plugs into the engine (wired once in the composition root)."""

    helpers: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    lane_scope: LaneScope = _default_lane_scope
    prepare_form: Callable[[dict[str, Any]], dict[str, Any]] = lambda schema: schema
    choose_status: Callable[[list[str]], str] = lambda statuses: statuses[0] if statuses else ""
    after_step: Callable[[Session, ProcessInstance, Mapping[str, Any]], None] = lambda session, instance, data: None
    # Called for every human task row created (e.g. to notify whoever must act on it).
    task_created: Callable[[Session, ProcessInstance, HumanTask, Mapping[str, Any]], None] = (
        lambda session, instance, row, data: None
    )
    # Called for every non-manual element the engine ran in a step (bpmn id, its properties, its data),
    # e.g. a boundary timer that fired or an end event; lets the domain record or notify.
    element_ran: Callable[[Session, ProcessInstance, str, Mapping[str, str], Mapping[str, Any]], None] = (
        lambda session, instance, bpmn_id, props, data: None
    )
    # Called for every timer row that fired, in the firing step's transaction (after TIMER_FIRED is
    # audited, before the engine runs on); the only way to act on the domain's own `sla` rows.
    timer_fired: Callable[[Session, ProcessInstance, Timer], None] = lambda session, instance, timer: None
    # Called at the start of every step, before any expression is evaluated (e.g. to refresh the calendar), with
    # what the `read_with_lock` columns gave in this transaction (None when the step locked nothing, a start).
    before_step: Callable[[Session, tuple[Any, ...] | None], None] = lambda session, read: None
    # (entity, received): a domain row that belongs to the instance (the entity has an `instance_id` column),
    # read in the same statement as a task's rows under the lock (claim, release, complete) instead of by a
    # statement of its own; `received(session, instance_id, row or None)` keeps it for the step's hooks.
    instance_row: tuple[Any, Callable[[Session, int, Any], None]] | None = None
    # Scalar SQL expressions read in the same statement as every step's instance lock (one round trip less than
    # reading them in `before_step`); not locked, read with that statement's snapshot (engine.locks).
    read_with_lock: tuple[Any, ...] = ()
    # Called when a batch of locked instances is about to be stepped in one transaction (the timer sweep), with
    # their ids: lets the domain read what each step would read one by one (e.g. their petitions) at once.
    prefetch: Callable[[Session, list[int]], None] = lambda session, instance_ids: None
    # Called once a step has run, with the instance still locked, just before its rows are flushed (and the
    # caller commits). Tests inject interleavings here (pause one step while another one starts).
    before_flush: Callable[[Session, ProcessInstance], None] = lambda session, instance: None


def may_act(principal: Principal, task: HumanTask) -> bool:
    """Tell whether the principal's role and scope cover the task."""
    if principal.superuser:
        return True
    if task.role not in principal.roles:
        return False
    return task.scope_kind is None or principal.scopes.get(task.scope_kind) == task.scope_value
