"""Deploy BPMN models with their forms as content-hashed versions, and cache their parsed specs."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.audit import Actor
from engine.bpmn_xml import get_spec, parse_bpmn_files
from engine.errors import BpmnRejected, NotFound, Problem
from engine.forms import check_schema
from engine.models import ProcessDefinition

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


def _form_problems(parser_spec: Any, forms: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for name, schema in forms.items():
        problems += [Problem(f"form {name}: {msg}", file=name) for msg in check_schema(schema)]
    for spec in parser_spec.task_specs.values():
        form = getattr(spec, "extensions", {}).get("properties", {}).get("formJsonSchemaFilename")
        if form and form not in forms:
            problems.append(Problem(f"form '{form}' is missing", element_id=spec.bpmn_id or "", element_name=spec.bpmn_name or ""))
    return problems


def _serialize_spec(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    # Serialize via a throwaway workflow so the stored dict is exactly what the workflow converter expects.
    wf_dict = serializer().to_dict(BpmnWorkflow(spec, subprocess_specs))
    return json.dumps({"spec": wf_dict["spec"], "subprocess_specs": wf_dict["subprocess_specs"]})


def deploy(
    session: Session, process_id: str, files: dict[str, bytes], forms: dict[str, Any], actor: Actor
) -> ProcessDefinition:
    """Validate and store a new version of `process_id`; return the existing row when the content is unchanged."""
    digest = content_hash(files, forms)
    existing = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id, ProcessDefinition.content_hash == digest)
    )
    if existing is not None:
        return existing
    parser = parse_bpmn_files(files)
    spec, subs = get_spec(parser, process_id)
    problems = _form_problems(spec, forms)
    if problems:
        raise BpmnRejected(problems)
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
