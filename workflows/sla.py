"""Deadlines that act: the extension request (once per petition, at most 10 working days).

Design (see docs/ARCHITECTURE.md, "Deadlines"): the lead unit asks through `request_extension`, which
delivers the BPMN message `extension_request` to the petition's instance under its lock. A non-interrupting
message boundary event on `handle` and on `draft_answer` catches it, so the unit keeps working while the
leader decides in `approve_extension`. When the leader grants it, the script `grant_extension` computes the
new due date and its `broadcast` property pushes `due_date` (and the related keys) into every open branch
(engine/broadcast.py): later tasks inherit it, open tasks get their due date again, and the waiting reminder
and overdue timers are re-armed on the new date. `notify = extension` on that script tells the enterprise
(the "apology and new date" notice).
"""
from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import HumanTask, TaskStatus
from engine.runtime import Runtime
from workflows import petitions
from workflows.models import Petition, User
from workflows.reference import get_reference

EXTENSION_MESSAGE = "extension_request"
APPROVAL_TASK = "approve_extension"
MAX_REASON = 2000


def extension_rules() -> tuple[int, int]:
    """Return (how many extensions a petition may have, the most working days of one)."""
    rules = get_reference().deadline_rules.get("extension", {})
    return int(rules.get("max_count", 1)), int(rules.get("max_wd", 10))


def extension_requests(session: Session, instance_id: int) -> int:
    """Return how many extension requests the instance has received (open or decided).

    Counted from the leader's approval tasks in `human_task`, not from the task tree: a deep instance's
    finished branches move to the archive (engine.compaction), its task rows stay.
    """
    return session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == APPROVAL_TASK,
        HumanTask.status.in_((TaskStatus.OPEN, TaskStatus.COMPLETED)))) or 0


def _validate(working_days: Any, reason: str) -> tuple[int, str]:
    _, max_wd = extension_rules()
    errors: dict[str, str] = {}
    days = working_days if isinstance(working_days, int) and not isinstance(working_days, bool) else None
    if isinstance(working_days, str) and working_days.strip().isdigit():
        days = int(working_days)
    if days is None:
        errors["working_days"] = "The value has the wrong type."
    elif days < 1:
        errors["working_days"] = "The value is too small."
    elif days > max_wd:
        errors["working_days"] = "The value is too large."
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "This field is required."
    elif len(reason) > MAX_REASON:
        errors["reason"] = "The text is too long."
    if errors:
        raise ValidationFailed(errors)
    return int(days or 0), reason


def request_extension(
    session: Session, runtime: Runtime, user: User, tracking_code: str, working_days: Any, reason: str
) -> Petition:
    """Ask the leader to extend a petition's deadline; raise Forbidden, ValidationFailed or Conflict.

    Only a user of the petition's lead unit may ask, with a reason, for 1 to 10 working days, while the unit
    is handling it or drafting the answer, and once per petition (a refused request counts).
    """
    petition = petitions.get(session, tracking_code)
    if "unit" not in (user.roles or []) or not user.unit_code or user.unit_code != petition.lead_unit:
        raise Forbidden("only the lead unit may ask for an extension")
    days, reason = _validate(working_days, reason)
    if petition.instance_id is None:
        raise Conflict("the petition has no process")
    max_count, _ = extension_rules()

    def once(workflow: BpmnWorkflow) -> None:  # under the instance's lock
        if extension_requests(session, petition.instance_id) >= max_count:
            raise Conflict("an extension has already been requested for this petition")

    runtime.send_message(
        session, petition.instance_id, EXTENSION_MESSAGE,
        {"working_days": days, "reason": reason, "requested_by": user.username},
        Actor(user.username, "unit"), check=once,
    )
    return petition
