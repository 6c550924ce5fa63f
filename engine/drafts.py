"""Designers' drafts: a BPMN file and its forms being edited, stored as text, never run until deployed.

A draft may be invalid (that is what validation is for), but it is always bounded: the BPMN text is at most
2 MB, the forms are a JSON object of JSON-Schema objects of bounded size. Deploying a draft deploys its file
plus the other files of the version it was opened from (processes it calls), under its process id.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn_xml import BPMN_NS, MAX_BPMN_BYTES, parse_untrusted_xml
from engine.db import utcnow
from engine.definitions import main_file
from engine.errors import BpmnRejected, NotFound, ValidationFailed
from engine.models import ProcessDefinition, ProcessDraft
from engine.validation import MSG_TOO_LARGE, Finding

MAX_FORMS_BYTES = 1024 * 1024
MAX_FORMS = 200


def _check_bpmn(bpmn: str, filename: str) -> None:
    if not isinstance(bpmn, str):
        raise ValidationFailed({"bpmn": "The BPMN must be text."})
    size = len(bpmn.encode("utf-8"))
    if size > MAX_BPMN_BYTES:
        raise BpmnRejected([Finding.make(MSG_TOO_LARGE, filename, size=size, limit=MAX_BPMN_BYTES)])


def check_forms(forms: Any) -> dict[str, Any]:
    """Return the forms when they are a bounded object of JSON objects; raise ValidationFailed otherwise."""
    if not isinstance(forms, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in forms.items()):
        raise ValidationFailed({"forms": "Forms must be an object of JSON Schema objects."})
    if len(forms) > MAX_FORMS or len(json.dumps(forms, ensure_ascii=False).encode("utf-8")) > MAX_FORMS_BYTES:
        raise ValidationFailed({"forms": "The forms are too large."})
    for name in forms:
        if not name or len(name) > 200 or "/" in name or "\\" in name or name.startswith("."):
            raise ValidationFailed({"forms": "Form names must be plain file names such as step.json."})
    return forms


def describe(bpmn: str, filename: str = "process.bpmn") -> tuple[str | None, str]:
    """Return (the single executable process id or None, the process name) of a BPMN text; never raises."""
    try:
        root = parse_untrusted_xml(bpmn.encode("utf-8"), filename)
    except (BpmnRejected, UnicodeError):
        return None, ""
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]
    if len(processes) != 1:
        return None, processes[0].get("name", "") if processes else ""
    return processes[0].get("id"), processes[0].get("name", "")


def create(session: Session, author: str, bpmn: str, forms: dict[str, Any], filename: str = "process.bpmn",
           base: ProcessDefinition | None = None) -> ProcessDraft:
    """Store a new draft."""
    _check_bpmn(bpmn, filename)
    process_id, name = describe(bpmn, filename)
    draft = ProcessDraft(process_id=process_id or (base.process_id if base else None), name=name or filename,
                         filename=filename, bpmn=bpmn, forms=check_forms(forms), author=author,
                         base_definition_id=base.id if base else None)
    session.add(draft)
    session.flush()
    return draft


def from_version(session: Session, definition: ProcessDefinition, author: str) -> ProcessDraft:
    """Open a deployed version as a new draft (its main file and all its forms)."""
    filename = main_file(definition)
    return create(session, author, definition.bpmn_files[filename], dict(definition.forms), filename, definition)


def get(session: Session, draft_id: int) -> ProcessDraft:
    """Return a draft; raise NotFound."""
    draft = session.get(ProcessDraft, draft_id)
    if draft is None:
        raise NotFound("draft not found")
    return draft


def drafts(session: Session) -> list[ProcessDraft]:
    """Return every draft, most recently changed first."""
    return list(session.scalars(select(ProcessDraft).order_by(ProcessDraft.updated_at.desc(), ProcessDraft.id.desc())))


def save(session: Session, draft: ProcessDraft, bpmn: str | None = None, forms: dict[str, Any] | None = None,
         author: str | None = None) -> ProcessDraft:
    """Replace the draft's BPMN and/or forms."""
    if bpmn is not None:
        _check_bpmn(bpmn, draft.filename)
        draft.bpmn = bpmn
        process_id, name = describe(bpmn, draft.filename)
        draft.process_id = process_id or draft.process_id
        draft.name = name or draft.name
    if forms is not None:
        draft.forms = check_forms(forms)
    if author:
        draft.author = author
    draft.updated_at = utcnow()
    session.flush()
    return draft


def delete(session: Session, draft: ProcessDraft) -> None:
    """Remove a draft."""
    session.delete(draft)
    session.flush()


def files(session: Session, draft: ProcessDraft) -> dict[str, bytes]:
    """Return the files to validate or deploy: the draft's file and the other files of its base version."""
    result: dict[str, bytes] = {}
    base = session.get(ProcessDefinition, draft.base_definition_id) if draft.base_definition_id else None
    if base is not None:
        result.update({name: text.encode("utf-8") for name, text in base.bpmn_files.items() if name != draft.filename})
    result[draft.filename] = draft.bpmn.encode("utf-8")
    return result
