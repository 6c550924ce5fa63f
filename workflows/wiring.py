"""Compose the engine with the petition domain: helpers, lanes, forms, the petition projection."""
from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.contracts import Hooks
from engine.db import transaction_memo
from engine.models import InstanceStatus, ProcessInstance
from engine.runtime import Runtime
from workflows import notifications
from workflows.calendar import STAMP_COLUMNS, refresh_calendar
from workflows.helpers import HELPERS
from workflows.lanes import choose_status, lane_scope
from workflows.models import Petition
from workflows.priority import rank_new_task, rerank_open_tasks
from workflows.reference import get_reference

PROCESS_ID = "petition"

def _fill_options(prop: dict[str, Any]) -> None:
    kind = prop.get("x-options")
    if kind:
        ref = get_reference()
        vi, en = ref.options(kind, "vi"), ref.options(kind, "en")
        prop["enum"] = [code for code, _ in vi]
        prop["x-labels"] = {code: {"vi": label, "en": dict(en).get(code, label)} for code, label in vi}
    if isinstance(prop.get("items"), dict):
        _fill_options(prop["items"])

def prepare_form(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a form schema with reference-data choices filled in as enums with labels."""
    schema = copy.deepcopy(schema)
    for prop in schema.get("properties", {}).values():
        _fill_options(prop)
    return schema

_PETITIONS = "workflows.petitions_of_instances"  # transaction memo: {instance id: Petition}
_PETITION_OF_FLUSHED = select(Petition).where(Petition.instance_id == bindparam("instance_id"))  # built once
_PETITION_OF = _PETITION_OF_FLUSHED.execution_options(populate_existing=True)  # (engine.runtime: the step's statements)


def petition_of(session: Session, instance_id: int) -> Petition | None:
    """Return the petition of a locked instance, read once per transaction (as it is under the lock).

    An object-level check before a step (`tasks._guard`) and the step's projection (`refresh_petition`) share
    the row instead of reading it twice. The first read refreshes the object (`populate_existing`): the row
    may have been read before the instance was locked. It does not flush the step's pending rows, which do not
    touch it -- unless this transaction changed a petition and has not flushed it yet (`submit` links the new
    petition to its instance after the first step): then the read flushes first and keeps those changes.
    """
    known = transaction_memo(session, _PETITIONS)
    petition = known.get(instance_id)
    if petition is None:
        if any(isinstance(obj, Petition) for obj in session.dirty):
            petition = session.scalar(_PETITION_OF_FLUSHED, {"instance_id": instance_id})
        else:
            with session.no_autoflush:
                petition = session.scalar(_PETITION_OF, {"instance_id": instance_id})
        if petition is not None:  # not found (yet): look again next time
            known[instance_id] = petition
    return petition


def received_petition(session: Session, instance_id: int, petition: Petition | None) -> None:
    """Keep the petition read with a task's rows under the lock (engine hook `instance_row`) for `petition_of`."""
    if petition is not None:  # not found (yet): `petition_of` looks again
        transaction_memo(session, _PETITIONS)[instance_id] = petition


_PETITIONS_OF_MANY = (select(Petition).where(Petition.instance_id.in_(bindparam("ids", expanding=True)))
                      .execution_options(populate_existing=True))


def read_petitions_of_many(session: Session, instance_ids: list[int]) -> None:
    """Read the petitions of several locked instances in one statement, for `petition_of` (engine hook `prefetch`)."""
    known = transaction_memo(session, _PETITIONS)
    wanted = [instance_id for instance_id in instance_ids if instance_id not in known]
    if not wanted or any(isinstance(obj, Petition) for obj in session.dirty):
        return  # unflushed petition changes: `petition_of` reads each one as it must
    with session.no_autoflush:
        for petition in session.scalars(_PETITIONS_OF_MANY, {"ids": wanted}):
            known.setdefault(petition.instance_id, petition)


def refresh_petition(session: Session, instance: ProcessInstance, data: Mapping[str, Any]) -> None:
    """Copy the process's status and key data onto the petition row after each step.

    A new priority (classify) also re-ranks the instance's open tasks in the inboxes (one UPDATE, that step only).
    """
    petition = petition_of(session, instance.id)
    if petition is None:
        return
    status = instance.business_status or petition.status
    if status == "DANG_XU_LY" and int(data.get("reopen_count") or 0) > 0 and instance.status == InstanceStatus.RUNNING:
        status = "MO_LAI"
    petition.status = status
    priority = petition.priority
    for column in ("category", "petition_type", "priority", "lead_unit", "rating"):
        if data.get(column):
            setattr(petition, column, str(data[column]))
    if data.get("due_date"):
        petition.due_date = dt.date.fromisoformat(str(data["due_date"])[:10])
    rerank_open_tasks(session, instance, priority, petition.priority)
    if instance.status == InstanceStatus.COMPLETED and petition.closed_at is None:
        petition.closed_at = instance.updated_at
    _refresh_facts(petition, data)

def _refresh_facts(petition: Petition, data: Mapping[str, Any]) -> None:
    # What the dashboard counts: `rating_due_date` is set when the answer is sent (send_answer's postScript),
    # so the first step that carries it is the first answer; the due date it is measured against is the
    # petition's at that moment (an extension already granted counts, a reopening's later date does not).
    if data.get("within_authority") is not None:
        petition.within_authority = bool(data["within_authority"])
    if data.get("result_type"):
        petition.result_type = str(data["result_type"])
    petition.reopen_count = int(data.get("reopen_count") or petition.reopen_count or 0)
    if petition.answered_at is None and data.get("rating_due_date"):
        petition.answered_at = dt.datetime.now(dt.timezone.utc)
        petition.answer_due_date = petition.due_date

def chain(*hooks: Callable[..., None]) -> Callable[..., None]:
    """Return one hook that calls each of `hooks` in order with the same arguments."""

    def run(*args: Any) -> None:
        for hook in hooks:
            hook(*args)

    return run

def build_runtime() -> Runtime:
    """Return the engine runtime wired with the petition domain."""
    return Runtime(
        Hooks(helpers=HELPERS, lane_scope=lane_scope, prepare_form=prepare_form,
              choose_status=choose_status, after_step=refresh_petition, before_step=refresh_calendar,
              read_with_lock=STAMP_COLUMNS,
              prefetch=read_petitions_of_many, instance_row=(Petition, received_petition),
              task_created=chain(rank_new_task, notifications.on_task_created),
              element_ran=chain(notifications.on_element_ran))
    )
