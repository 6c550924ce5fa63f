"""The task inbox, the task page with its form, and claim / release / complete (blueprint `tasks`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from engine.errors import ValidationFailed
from webapp import db
from webapp.auth import TASK_ROLES, current_user, roles
from webapp.filters import current_lang
from webapp.formdata import coerce_form, field_widgets
from webapp.views.common import runtime, translated
from webapp.views.pages import task_context
from workflows import sla
from workflows import tasks as task_service
from workflows.tasks import TaskDetail

bp = Blueprint("tasks", __name__)


@bp.get("/inbox")
@roles(*TASK_ROLES)
def inbox() -> Any:
    """List the user's open tasks, most urgent first, 50 a page; `?after=` (the "More" link) pages on."""
    after = request.args.get("after") or None
    items = task_service.inbox(db.session(), runtime(), current_user(), task_service.PAGE_SIZE, after)
    return render_template("inbox.html", items=items, paged=after is not None)


def _by_field(errors: dict[str, str]) -> dict[str, str]:
    # The engine names an array item "field.0"; the form shows the message under the field itself.
    shown: dict[str, str] = {}
    for name, message in errors.items():
        shown.setdefault(name.split(".", 1)[0], message)
    return shown


def _render(detail: TaskDetail, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
            status: int = 200) -> Any:
    schema = detail.form or {}
    data = detail.data
    if values is not None:  # re-show what was posted, not the stored values of fields left empty
        data = {**data, **dict.fromkeys(schema.get("properties", {})), **values}
    return render_template(
        "task.html", detail=detail, item=detail.item, task=detail.item.task, petition=detail.item.petition,
        fields=field_widgets(schema, data, current_lang()), context=task_context(detail), errors=errors or {},
    ), status


@bp.get("/tasks/<task_id>")
@roles(*TASK_ROLES)
def show(task_id: str) -> Any:
    """Show a task: the petition, context from earlier steps and the step's form."""
    return _render(task_service.detail(db.session(), runtime(), current_user(), task_id))


@bp.post("/tasks/<task_id>/claim")
@roles(*TASK_ROLES)
def claim(task_id: str) -> Any:
    """Take a task."""
    task_service.claim(db.session(), runtime(), current_user(), task_id)
    db.session().commit()
    flash(gettext("You have taken this task."), "success")
    return redirect(url_for(".show", task_id=task_id))


@bp.post("/tasks/<task_id>/release")
@roles(*TASK_ROLES)
def release(task_id: str) -> Any:
    """Give a task back to the shared inbox."""
    task_service.release(db.session(), runtime(), current_user(), task_id)
    db.session().commit()
    flash(gettext("The task is back in the shared inbox."), "success")
    return redirect(url_for(".inbox"))


@bp.post("/tasks/<task_id>/extension")
@roles("unit")
def request_extension(task_id: str) -> Any:
    """Ask the leader for more working days on the petition of a handling or drafting task."""
    session, user = db.session(), current_user()
    detail = task_service.detail(session, runtime(), user, task_id)
    try:
        sla.request_extension(session, runtime(), user, detail.item.task.business_key,
                              request.form.get("extension_days", ""), request.form.get("extension_reason", ""))
    except ValidationFailed as exc:
        session.rollback()
        for message in translated(exc.errors).values():
            flash(message, "error")
        return redirect(url_for(".show", task_id=task_id))
    session.commit()
    flash(gettext("The extension request was sent to the Board leader."), "success")
    return redirect(url_for(".show", task_id=task_id))


def _posted_version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


@bp.post("/tasks/<task_id>/complete")
@roles(*TASK_ROLES)
def complete(task_id: str) -> Any:
    """Complete a task with its form; on invalid data show the form again with a message per field."""
    session, user = db.session(), current_user()
    detail = task_service.detail(session, runtime(), user, task_id)
    values = coerce_form(detail.form or {}, request.form)
    try:
        task_service.complete(session, runtime(), user, task_id, values, _posted_version())
    except ValidationFailed as exc:
        session.rollback()
        return _render(detail, values, _by_field(translated(exc.errors)), 400)
    session.commit()
    flash(gettext("The step is completed."), "success")
    return redirect(url_for(".inbox"))
