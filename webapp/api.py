"""JSON API /api/v1: enough for a portal or a script to drive a petition through its whole life."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from engine import faults
from engine.audit import Actor
from engine.errors import ValidationFailed
from engine.runtime import Runtime
from webapp import db
from webapp.auth import TASK_ROLES, check_credentials, current_user, issue_token, public, roles
from webapp.openapi import OPENAPI
from webapp.ratelimit import limited
from workflows import petitions, sla, tasks
from workflows.models import Enterprise, User
from workflows.users import get_or_create_enterprise

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _runtime() -> Runtime:
    return current_app.extensions["petitions.runtime"]


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"_body": "Send a JSON object."})
    return body


@bp.get("/openapi.json")
@public
def openapi() -> Any:
    """Describe this API (OpenAPI 3.1)."""
    return jsonify(OPENAPI)


@bp.post("/auth/token")
@public
@limited("token")
def token() -> Any:
    """Exchange a username and password for a bearer token (throttled like the login page)."""
    body = _body()
    user = check_credentials(str(body.get("username", "")), str(body.get("password", "")))
    if user is None:
        return jsonify({"error": "invalid credentials"}), 401
    return jsonify({"token": issue_token(user), "expires_in": 12 * 3600})


def _enterprise_for(user: User, body: dict[str, Any]) -> Enterprise:
    session = db.session()
    if "enterprise" in user.roles and user.enterprise_id:
        return session.get(Enterprise, user.enterprise_id)
    tax_code = str(body.get("tax_code") or "")
    if not tax_code:
        raise ValidationFailed({"tax_code": "This field is required."})
    return get_or_create_enterprise(session, tax_code, body.get("enterprise_name"), body.get("zone"))


@bp.post("/petitions")
@roles("enterprise", "intake")
@limited("intake", exempt_roles=("intake",))
def submit_petition() -> Any:
    """Submit a petition (an enterprise user, or an intake officer naming the enterprise by tax code)."""
    user, body = current_user(), _body()
    sub = petitions.Submission(
        title=str(body.get("title") or ""), content=str(body.get("content") or ""), zone=str(body.get("zone") or ""),
        channel=str(body.get("channel") or ("CONG_DVC" if "enterprise" in user.roles else "VAN_BAN")),
        category_hint=body.get("category_hint") or None,
        submission_key=request.headers.get("Idempotency-Key") or body.get("submission_key"),
    )
    petitions.validate_submission(sub)
    session, actor = db.session(), Actor(user.username, user.roles[0])
    enterprise = _enterprise_for(user, body)
    petition = petitions.already_submitted(session, actor, enterprise, sub)
    replayed = petition is not None
    if petition is None:
        try:
            petition = petitions.submit(session, _runtime(), actor, enterprise, sub)
            faults.commit(session, "submit")
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key committed first: answer with its petition.
            session.rollback()
            petition = petitions.already_submitted(session, actor, _enterprise_for(user, body), sub)
            if petition is None:
                raise
            replayed = True
    response = jsonify({"tracking_code": petition.tracking_code, "status": petition.status,
                        "received_date": petition.received_date.isoformat()})
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


@bp.get("/petitions")
@roles()
def list_petitions() -> Any:
    """List the petitions the caller may see."""
    rows = petitions.visible(db.session(), current_user())
    return jsonify({"petitions": [_petition_json(p) for p in rows]})


def _petition_json(p: Any) -> dict[str, Any]:
    return {
        "tracking_code": p.tracking_code, "title": p.title, "status": p.status, "zone": p.zone,
        "channel": p.channel, "category": p.category, "lead_unit": p.lead_unit, "rating": p.rating,
        "due_date": p.due_date.isoformat() if p.due_date else None, "received_date": p.received_date.isoformat(),
    }


@bp.get("/petitions/<code>")
@public
def get_petition(code: str) -> Any:
    """Return public fields to anyone with the code, the full record to its enterprise and officers."""
    session, user = db.session(), current_user()
    petition = petitions.get(session, code)
    if user is None or not petitions.can_view(session, user, petition):
        return jsonify(petitions.public_status(session, code))
    body = _petition_json(petition) | {"content": petition.content, "received_at": petition.received_at.isoformat()}
    body["open_tasks"] = [{"id": t.id, "name": t.bpmn_id, "title": t.name, "lane": t.lane}
                          for t in petitions.open_tasks(session, petition)]
    body["history"] = [
        {"at": e.at.isoformat(), "actor": e.actor, "role": e.role, "action": e.action, "task": e.bpmn_id,
         "data": e.data}
        for e in petitions.history(session, petition)
    ]
    return jsonify(body)


@bp.post("/petitions/<code>/extension")
@roles("unit")
def request_extension(code: str) -> Any:
    """Ask the leader to extend the deadline (lead unit, once, at most 10 working days, with a reason)."""
    body = _body()
    sla.request_extension(db.session(), _runtime(), current_user(), code, body.get("working_days"),
                          str(body.get("reason") or ""))
    db.session().commit()
    return jsonify({"ok": True, "petition": code}), 202


@bp.get("/tasks")
@roles(*TASK_ROLES)
def list_tasks() -> Any:
    """Return one page of the caller's inbox: `?limit=` rows (default 50, at most 200) after `?after=`.

    `next` is the cursor of the following page (pass it as `after`), or null on the last page.
    """
    raw = request.args.get("limit", "")
    if raw and not (raw.isdigit() and 1 <= int(raw) <= tasks.MAX_PAGE):
        raise ValidationFailed({"limit": "Give a number of rows from 1 to 200."})
    page = tasks.inbox(db.session(), _runtime(), current_user(), int(raw) if raw else tasks.PAGE_SIZE,
                       request.args.get("after") or None)
    return jsonify({"tasks": [item.as_json() for item in page], "next": page.next})


@bp.get("/tasks/<task_id>")
@roles(*TASK_ROLES)
def get_task(task_id: str) -> Any:
    """Return one task with its form (JSON Schema) and the data it sees."""
    detail = tasks.detail(db.session(), _runtime(), current_user(), task_id)
    return jsonify(detail.item.as_json() | {"form": detail.form, "status": detail.item.task.status,
                                            "version": detail.instance_version})


@bp.post("/tasks/<task_id>/<action>")
@roles(*TASK_ROLES)
def act_on_task(task_id: str, action: str) -> Any:
    """Claim, release or complete a task."""
    session, user = db.session(), current_user()
    if action == "claim":
        tasks.claim(session, _runtime(), user, task_id)
    elif action == "release":
        tasks.release(session, _runtime(), user, task_id)
    elif action == "complete":
        body = _body()
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise ValidationFailed({"data": "Send the form fields as an object."})
        version = body.get("version")
        tasks.complete(session, _runtime(), user, task_id, data, int(version) if version is not None else None)
    else:
        abort(404)
    faults.commit(session, action)
    return jsonify({"ok": True, "task": task_id, "action": action})
