"""Petition list, detail, submission and receipt (blueprint `petitions`)."""
from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from engine.errors import ValidationFailed
from webapp import db
from webapp.auth import current_user, roles
from webapp.views.common import runtime, translated
from webapp.views.pages import petition_page, submit_petition, viewable
from workflows import petitions
from workflows.models import User

bp = Blueprint("petitions", __name__)
SUBMITTERS = ("enterprise", "intake")


@bp.get("/petitions")
@roles()
def index() -> Any:
    """List the petitions the user may see, newest first."""
    return render_template("petitions.html", petitions=petitions.visible(db.session(), current_user()))


def _is_intake(user: User) -> bool:
    return "intake" in user.roles and "enterprise" not in user.roles


def _submission(user: User) -> petitions.Submission:
    form = request.form
    default_channel = "VAN_BAN" if _is_intake(user) else "CONG_DVC"
    return petitions.Submission(
        title=form.get("title", ""), content=form.get("content", ""), zone=form.get("zone", ""),
        channel=form.get("channel", default_channel) if _is_intake(user) else "CONG_DVC",
        category_hint=form.get("category_hint") or None,
        submission_key=form.get("submission_key") or None,
    )


def _form_page(user: User, values: dict[str, Any], errors: dict[str, str] | None = None,
               status: int = 200) -> Any:
    return render_template("submit.html", values=values, errors=errors or {}, intake=_is_intake(user)), status


@bp.route("/petitions/new", methods=["GET", "POST"])
@roles(*SUBMITTERS)
def new() -> Any:
    """Show the submission form; on submit register the petition and show its receipt."""
    user = current_user()
    if request.method == "GET":
        return _form_page(user, {"submission_key": secrets.token_urlsafe(24), "channel": "VAN_BAN"})
    try:
        petition = submit_petition(db.session(), runtime(), user, _submission(user), request.form)
    except ValidationFailed as exc:
        db.session().rollback()
        return _form_page(user, request.form.to_dict(), translated(exc.errors), 400)
    db.session().commit()
    return redirect(url_for(".receipt", code=petition.tracking_code))


@bp.get("/petitions/<code>/receipt")
@roles(*SUBMITTERS)
def receipt(code: str) -> Any:
    """Show the receipt of a submitted petition: tracking code and received date."""
    return render_template("receipt.html", petition=viewable(db.session(), current_user(), code))


@bp.get("/petitions/<code>")
@roles()
def show(code: str) -> Any:
    """Show a petition the user may see (404 otherwise): data, stage, answer and timeline."""
    return render_template("petition.html", page=petition_page(db.session(), current_user(), code))
