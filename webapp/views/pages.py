"""What the pages show, composed from the workflows layer (no queries of its own beyond a primary key)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.errors import NotFound, ValidationFailed
from engine.models import AuditEvent, HumanTask
from engine.runtime import Runtime
from webapp.auth import OFFICERS, has_role
from workflows import intake, petitions
from workflows.attachments import CheckedFile
from workflows.models import Enterprise, Petition, User
from workflows.tasks import TaskDetail
from workflows.users import get_or_create_enterprise


@dataclass(frozen=True)
class Fact:
    """One labelled piece of context: `kind` tells the template how to format the value."""

    label: Any
    value: Any
    kind: str = "text"  # text | long | date | label | labels | choice | replies
    ref: str = ""  # reference list for kind label/labels


# Context shown on task pages: (data key, label, kind, reference list, shown to the enterprise).
CONTEXT_KEYS: tuple[tuple[str, Any, str, str, bool], ...] = (
    ("info_request", _l("Information requested"), "long", "", True),
    ("supplied_info", _l("Information supplied"), "long", "", True),
    ("register_note", _l("Intake note"), "long", "", False),
    ("petition_type", _l("Petition type"), "label", "petition_types", False),
    ("category", _l("Category"), "label", "categories", False),
    ("priority", _l("Priority"), "label", "priorities", False),
    ("triage_outcome", _l("Triage outcome"), "choice", "", False),
    ("classify_note", _l("Classification note"), "long", "", False),
    ("proposed_lead_unit", _l("Proposed lead unit"), "label", "units", False),
    ("proposed_coordinating_agencies", _l("Proposed coordinating agencies"), "labels", "agencies", False),
    ("proposed_working_days", _l("Proposed time limit (working days)"), "text", "", False),
    ("lead_unit", _l("Lead unit"), "label", "units", False),
    ("coordinating_agencies", _l("Coordinating agencies"), "labels", "agencies", False),
    ("working_days", _l("Time limit (working days)"), "text", "", False),
    ("assign_note", _l("Instructions"), "long", "", False),
    ("due_date", _l("Due date"), "date", "", True),
    ("agency", _l("Agency asked to coordinate"), "label", "agencies", False),
    ("handling_notes", _l("Handling notes"), "long", "", False),
    ("coordination_replies", _l("Coordination replies"), "replies", "", False),
    ("answer_text", _l("Answer"), "long", "", True),
    ("result_type", _l("Result"), "label", "result_types", False),
    ("answer_document_no", _l("Answer document number"), "text", "", True),
    ("answer_date", _l("Date issued"), "date", "", True),
    ("rating", _l("Satisfaction"), "label", "satisfaction_levels", False),
    ("comment", _l("Comment"), "long", "", False),
)
SHOWN_FIRST = frozenset({"rating", "comment"})

# Choices that live in a form's oneOf rather than in the reference data.
CHOICES = {
    "THUOC_THAM_QUYEN": _l("Within the Board's authority"),
    "KHONG_THUOC_THAM_QUYEN": _l("Outside the Board's authority: forward to the competent authority"),
    "HANH_VI_CAN_BO": _l("Conduct of officials: forward to the competent agency"),
}


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _why_back(data: Mapping[str, Any], own_fields: set[str]) -> list[Fact]:
    # Why the petition came back to this step matters most, so it comes first.
    facts = []
    returned = data.get("decision") == "return" and _present(data.get("return_reason"))
    if returned and "return_reason" not in own_fields:
        facts.append(Fact(_l("Reason for returning"), data["return_reason"], "long"))
    if str(data.get("rating") or "").lower() == "khong_hai_long" and "rating" not in own_fields:
        facts.append(Fact(_l("Satisfaction"), data["rating"], "label", "satisfaction_levels"))
        if _present(data.get("comment")):
            facts.append(Fact(_l("Comment"), data["comment"], "long"))
    return facts


def task_context(detail: TaskDetail) -> list[Fact]:
    """Return what the officer needs from earlier steps (the enterprise sees only what concerns it)."""
    data, task = detail.data, detail.item.task
    own_fields = set((detail.form or {}).get("properties", {}))
    for_enterprise = task.role == "enterprise"
    facts = [] if for_enterprise else _why_back(data, own_fields)
    assigned = _present(data.get("lead_unit"))
    for key, title, kind, ref, public in CONTEXT_KEYS:
        if key in own_fields or not _present(data.get(key)) or (for_enterprise and not public):
            continue
        if key in SHOWN_FIRST or (assigned and key.startswith("proposed_")):
            continue
        value = CHOICES.get(data[key], data[key]) if kind == "choice" else data[key]
        facts.append(Fact(title, value, "text" if kind == "choice" else kind, ref))
    return facts


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a petition's history."""

    at: Any
    action: Any
    step: str | None
    actor: str | None
    role: str


@dataclass(frozen=True)
class PetitionPage:
    """Everything the petition page shows."""

    petition: Petition
    enterprise: Enterprise | None
    internal: bool
    stage: list[HumanTask]
    timeline: list[TimelineEntry]
    replies: list[dict[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] | None = None
    comment: str | None = None


ACTIONS = {
    "PETITION_RECEIVED": _l("Petition received"),
    "TASK_CREATED": _l("Step opened"),
    "TASK_CLAIMED": _l("Step taken by an officer"),
    "TASK_RELEASED": _l("Step released"),
    "TASK_COMPLETED": _l("Step completed"),
    "TASK_CANCELLED": _l("Step cancelled"),
    "PROCESS_COMPLETED": _l("Processing finished"),
}
PUBLIC_ACTIONS = frozenset({"PETITION_RECEIVED", "TASK_CREATED", "TASK_COMPLETED", "PROCESS_COMPLETED"})
# Opening a step or finishing the process is the engine's doing, whoever's request triggered it.
MACHINE_ACTIONS = frozenset({"TASK_CREATED", "TASK_CANCELLED", "PROCESS_COMPLETED"})


def viewable(session: Session, user: User, code: str) -> Petition:
    """Return the petition if the user may see it; raise NotFound otherwise (existence is never revealed)."""
    petition = petitions.get(session, code)
    if not petitions.can_view(session, user, petition):
        raise NotFound("no petition has this tracking code")
    return petition


def _timeline(events: Iterable[AuditEvent], internal: bool) -> list[TimelineEntry]:
    names = {e.task_id: e.bpmn_id for e in events if e.action == "TASK_CREATED"}
    return [
        TimelineEntry(e.at, ACTIONS[e.action], e.bpmn_id or names.get(e.task_id),
                      e.actor if internal and e.action not in MACHINE_ACTIONS else None,
                      "" if e.action in MACHINE_ACTIONS else e.role)
        for e in events
        if e.action in ACTIONS and (internal or e.action in PUBLIC_ACTIONS)
    ]


def _completed(events: list[AuditEvent], bpmn_id: str) -> list[AuditEvent]:
    return [e for e in events if e.action == "TASK_COMPLETED" and e.bpmn_id == bpmn_id]


def _replies(events: list[AuditEvent]) -> list[dict[str, Any]]:
    agencies = {e.task_id: (e.data or {}).get("scope") for e in events if e.action == "TASK_CREATED"}
    return [
        {"agency": agencies.get(e.task_id), "text": e.data.get("reply_text"),
         "document_no": e.data.get("reply_document_no"), "at": e.at}
        for e in _completed(events, "coordinate")
    ]


def _answer(events: list[AuditEvent], internal: bool) -> dict[str, Any] | None:
    drafts, sent = _completed(events, "draft_answer"), _completed(events, "send_answer")
    if not drafts or not (internal or sent):
        return None
    answer = dict(drafts[-1].data or {})
    if sent:
        answer.update(sent[-1].data or {})
    return answer


def petition_page(session: Session, user: User, code: str) -> PetitionPage:
    """Return the petition page of a petition the user may see; raise NotFound otherwise."""
    petition = viewable(session, user, code)
    internal = has_role(user, OFFICERS)
    events = petitions.history(session, petition)
    confirms = _completed(events, "confirm")
    return PetitionPage(
        petition=petition,
        enterprise=session.get(Enterprise, petition.enterprise_id),
        internal=internal,
        stage=petitions.open_tasks(session, petition),
        timeline=_timeline(events, internal),
        replies=_replies(events) if internal else [],
        answer=_answer(events, internal),
        comment=(confirms[-1].data or {}).get("comment") if confirms else None,
    )


def _enterprise_for(session: Session, user: User, tax_code: str, name: str, zone: str) -> Enterprise:
    if "enterprise" in user.roles:
        enterprise = session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None
        if enterprise is None:
            raise ValidationFailed({"_form": "An enterprise user needs an enterprise."})
        return enterprise
    if not tax_code:
        raise ValidationFailed({"tax_code": "This field is required."})
    return get_or_create_enterprise(session, tax_code, name or None, zone or None)


def submit_petition(
    session: Session, runtime: Runtime, user: User, sub: petitions.Submission, form: Mapping[str, str],
    *, source: intake.Source | None = None, files: Sequence[CheckedFile] = (), storage: Path | None = None,
    allow_duplicate: bool = True,
) -> Petition:
    """Submit for the user's own enterprise, or (intake) for the enterprise named by tax code.

    Raises ValidationFailed with every wrong field at once, or intake.PossibleDuplicate.
    """
    errors: dict[str, str] = {}
    enterprise = None
    source = source or intake.Source()
    try:
        petitions.validate_submission(sub)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    errors.update(intake.check_source(session, sub, source))
    try:
        enterprise = _enterprise_for(session, user, form.get("tax_code", "").strip(),
                                     form.get("enterprise_name", "").strip(), sub.zone)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors or enterprise is None:
        raise ValidationFailed(errors)
    role = "enterprise" if "enterprise" in user.roles else "intake"
    return intake.register(session, runtime, Actor(user.username, role), enterprise, sub, source=source,
                           files=files, storage=storage, file_kind="petition" if role == "enterprise" else "scan",
                           allow_duplicate=allow_duplicate)
