"""Deploy BPMN models with their forms as content-hashed versions, and cache their parsed specs."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, spiff_compat, validation  # noqa: F401 - spiff_compat fixes deep task trees
from engine.audit import Actor
from engine.db import utcnow
from engine.errors import BpmnRejected, Conflict, NotFound
from engine.models import InstanceStatus, ProcessDefinition, ProcessInstance

SERIALIZER_VERSION = "1.5"


@lru_cache(maxsize=1)
def serializer() -> BpmnWorkflowSerializer:
    """Return the one serializer whose config matches the spiff parser."""
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG), version=SERIALIZER_VERSION)


def content_hash(files: dict[str, bytes], forms: dict[str, Any]) -> str:
    """Return the SHA-256 identifying a model: every BPMN file and every form, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def _serialize_spec(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    # Serialize via a throwaway workflow so the stored dict is exactly what the workflow converter expects.
    wf_dict = serializer().to_dict(BpmnWorkflow(spec, subprocess_specs))
    return json.dumps({"spec": wf_dict["spec"], "subprocess_specs": wf_dict["subprocess_specs"]})


def deploy(
    session: Session, process_id: str, files: dict[str, bytes], forms: dict[str, Any], actor: Actor,
    rules: validation.Rules | None = None,
) -> ProcessDefinition:
    """Validate and store a new version of `process_id`; return the existing row when the content is unchanged.

    The model goes through `engine.validation.check` with the domain's `rules` (lanes, helpers, forms):
    any problem raises `BpmnRejected` listing them all, and nothing is stored.
    """
    digest = content_hash(files, forms)
    existing = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id, ProcessDefinition.content_hash == digest)
    )
    if existing is not None:
        return existing
    report = validation.check(files, forms, rules, process_id=process_id)
    if not report.ok or report.spec is None:
        raise BpmnRejected(report.problems)
    spec, subs = report.spec, report.subprocess_specs
    last = session.scalar(select(func.max(ProcessDefinition.version)).where(ProcessDefinition.process_id == process_id))
    definition = ProcessDefinition(
        process_id=process_id,
        version=(last or 0) + 1,
        name=spec.description or process_id,
        content_hash=digest,
        bpmn_files={name: data.decode("utf-8") for name, data in files.items()},
        forms=forms,
        spec_json=_serialize_spec(spec, subs),
        deployed_by=actor.name,
    )
    session.add(definition)
    session.flush()
    audit.record(
        session, actor, "DEFINITION_DEPLOYED",
        data={"process_id": process_id, "version": definition.version, "content_hash": digest},
    )
    return definition


def latest_active(session: Session, process_id: str) -> ProcessDefinition:
    """Return the newest active version of a process; raise NotFound when none is deployed."""
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id, ProcessDefinition.active.is_(True))
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None:
        raise NotFound(f"process '{process_id}' is not deployed")
    return definition


def spec_dict(definition: ProcessDefinition) -> dict[str, Any]:
    """Return a fresh copy of a version's serialized spec (restoring mutates the dict it is given)."""
    return json.loads(definition.spec_json)


# ---- versions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    """One deployed version with its instance counts."""

    definition: ProcessDefinition
    running: int
    total: int


def versions(session: Session, process_id: str | None = None) -> list[VersionInfo]:
    """Return the deployed versions (of one process, or all), newest first, with running/total instance counts."""
    counts = {
        (row.definition_id, row.status): row.n
        for row in session.execute(
            select(ProcessInstance.definition_id, ProcessInstance.status, func.count().label("n"))
            .group_by(ProcessInstance.definition_id, ProcessInstance.status)
        )
    }
    query = select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version.desc())
    if process_id is not None:
        query = query.where(ProcessDefinition.process_id == process_id)
    result = []
    for definition in session.scalars(query):
        mine = {status: n for (def_id, status), n in counts.items() if def_id == definition.id}
        result.append(VersionInfo(definition, mine.get(InstanceStatus.RUNNING, 0), sum(mine.values())))
    return result


def get_definition(session: Session, definition_id: int) -> ProcessDefinition:
    """Return one deployed version; raise NotFound."""
    definition = session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound("process version not found")
    return definition


def set_active(session: Session, definition_id: int, active: bool, actor: Actor) -> ProcessDefinition:
    """Activate or deactivate a version (new instances take the newest active one); audited.

    The last active version of a process cannot be deactivated: new instances would have nothing to start.
    Running instances are not affected either way.
    """
    definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.id == definition_id).with_for_update())
    if definition is None:
        raise NotFound("process version not found")
    if definition.active == active:
        return definition
    if not active:
        others = session.scalar(select(func.count()).select_from(ProcessDefinition).where(
            ProcessDefinition.process_id == definition.process_id, ProcessDefinition.active.is_(True),
            ProcessDefinition.id != definition.id))
        if not others:
            raise Conflict("the last active version of a process cannot be deactivated")
    definition.active = active
    definition.deactivated_by, definition.deactivated_at = (None, None) if active else (actor.name, utcnow())
    session.flush()
    audit.record(session, actor, "DEFINITION_ACTIVATED" if active else "DEFINITION_DEACTIVATED",
                 data={"process_id": definition.process_id, "version": definition.version,
                       "content_hash": definition.content_hash})
    return definition


def main_file(definition: ProcessDefinition) -> str:
    """Return the name of the version's file that holds its process."""
    marker = f'id="{definition.process_id}"'
    for name, text in definition.bpmn_files.items():
        if marker in text:
            return name
    return next(iter(definition.bpmn_files))
