"""The enterprise portal (blueprint `portal`): accounts, files, the enterprise's steps, published answers."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from engine.audit import Actor
from engine.errors import ValidationFailed
from webapp import db
from webapp.auth import current_user, public, roles
from webapp.ratelimit import limited
from webapp.views.common import runtime, translated
from webapp.views.pages import viewable
from workflows import attachments, enterprises, petitions, portal, publication
from workflows.attachments import MAX_FILE_BYTES, FilesRefused, Upload
from workflows.models import User

bp = Blueprint("portal", __name__)
DOCUMENT_KINDS = ("scan", "answer")

# What each status means for the enterprise, in plain words.
STATUS_HELP = {
    "MOI_TIEP_NHAN": _l("The Board has received your petition and is registering it."),
    "DA_PHAN_LOAI": _l("Your petition has been registered and classified; a Board leader will assign it to a unit."),
    "DA_GIAO": _l("A unit of the Board has been put in charge of your petition, with a deadline."),
    "DANG_XU_LY": _l("The unit in charge is working on your petition."),
    "CHO_PHOI_HOP": _l("The unit in charge is waiting for the opinion of another agency; the time limit keeps running."),
    "CHO_BO_SUNG": _l("The Board needs more information from you: answer below. The time limit is paused until "
                      "you do."),
    "DU_THAO_TRA_LOI": _l("The answer is being drafted."),
    "DA_DUYET": _l("The answer has been approved and will be sent to you."),
    "DA_TRA_LOI": _l("The Board has answered: read the answer and tell us whether you are satisfied."),
    "DA_CONG_KHAI": _l("The answer has been published."),
    "DONG": _l("Processing has finished."),
    "MO_LAI": _l("Your petition has been reopened after your rating; the Board will answer again."),
    "KHONG_TIEP_NHAN": _l("The Board could not accept your petition; contact the one-stop desk for the reason."),
    "CHUYEN_CO_QUAN_KHAC": _l("Your petition is outside the Board's authority and was forwarded to the competent "
                              "agency."),
    "TRUNG_LAP": _l("Your petition repeats an earlier one and is followed there."),
    "RUT": _l("The petition was withdrawn."),
}
ATTACHMENT_KINDS = {
    "petition": _l("Sent with the petition"),
    "scan": _l("Scanned original"),
    "supply_info": _l("Information supplied"),
    "answer": _l("Answer document"),
}


@bp.app_template_global()
def status_help(code: str) -> str:
    """Return what a petition status means for the enterprise."""
    text = STATUS_HELP.get(code)
    return str(text) if text is not None else ""


@bp.app_template_global()
def attachment_kind(kind: str) -> str:
    """Return the name of an attachment kind."""
    text = ATTACHMENT_KINDS.get(kind)
    return str(text) if text is not None else kind


def attachment_dir() -> Path:
    """Return the folder of stored attachments (outside the web root; instance/attachments by default)."""
    configured = current_app.config.get("PETITIONS_ATTACHMENTS_DIR") or os.environ.get("PETITIONS_ATTACHMENTS_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "attachments"


def uploads(field: str = "attachments") -> list[Upload]:
    """Return the files posted in a form field (empty file inputs are ignored; one byte over the limit is read)."""
    files: list[FileStorage] = request.files.getlist(field)
    return [Upload(f.filename or "", f.stream.read(MAX_FILE_BYTES + 1)) for f in files if f and f.filename]


def file_problems(exc: FilesRefused) -> list[tuple[str, str]]:
    """Return (file name, translated message) pairs of refused files."""
    return [(name, gettext(message)) for name, message in exc.problems]


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _actor(user: User, role: str) -> Actor:
    return Actor(user.username, role)


# ---- accounts ---------------------------------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@public
@limited("register")
def register() -> Any:
    """Register an enterprise account; the account works once the e-mail link is opened."""
    if request.method == "GET":
        return render_template("register.html", values={}, errors={})
    form = request.form
    reg = enterprises.Registration(
        tax_code=form.get("tax_code", ""), enterprise_name=form.get("enterprise_name", ""),
        zone=form.get("zone", ""), contact_name=form.get("contact_name", ""), email=form.get("email", ""),
        username=form.get("username", ""), password=form.get("password", ""), phone=form.get("phone", ""),
    )
    session = db.session()
    try:
        user = enterprises.register(session, reg)
        enterprises.send_verification(session, _secret(), user,
                                      lambda token: url_for(".verify", token=token, _external=True))
    except ValidationFailed as exc:
        session.rollback()
        values = {k: v for k, v in form.items() if k != "password"}
        return render_template("register.html", values=values, errors=translated(exc.errors)), 400
    session.commit()
    return render_template("register_done.html", email=user.email)


@bp.route("/register/verify/<token>", methods=["GET", "POST"])
@public
def verify(token: str) -> Any:
    """The e-mail link shows a button (GET changes nothing: mail scanners open links); the button activates."""
    session = db.session()
    try:
        if request.method == "GET":
            user, row = enterprises.read_verification(session, _secret(), token)
            return render_template("verify.html", user=user, pending=row.verified_at is None, token=token)
        user = enterprises.verify(session, _secret(), token)
    except ValidationFailed:
        session.rollback()
        return render_template("verify.html", user=None), 400
    session.commit()
    return render_template("verify.html", user=user, pending=False)


@bp.get("/enterprise")
@roles("enterprise")
def enterprise() -> Any:
    """Show the enterprise's users and the form to invite a colleague."""
    user = current_user()
    return render_template("enterprise_users.html", users=enterprises.colleagues(db.session(), user),
                           values={}, errors={})


@bp.post("/enterprise/invite")
@roles("enterprise")
def invite() -> Any:
    """Invite a colleague by e-mail into the user's enterprise."""
    session, user = db.session(), current_user()
    try:
        enterprises.invite(session, _secret(), user, request.form.get("email", ""), request.form.get("full_name", ""),
                           lambda token: url_for(".accept", token=token, _external=True))
    except ValidationFailed as exc:
        session.rollback()
        return render_template("enterprise_users.html", users=enterprises.colleagues(session, user),
                               values=request.form.to_dict(), errors=translated(exc.errors)), 400
    session.commit()
    flash(gettext("The invitation has been sent by e-mail."), "success")
    return redirect(url_for(".enterprise"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept(token: str) -> Any:
    """Accept an invitation: choose a username and password."""
    session = db.session()
    try:
        invitation = enterprises.read_invitation(session, _secret(), token)
    except ValidationFailed:
        return render_template("verify.html", user=None), 400
    if request.method == "GET":
        return render_template("invitation.html", invitation=invitation, values={}, errors={})
    try:
        enterprises.accept_invitation(session, _secret(), token, request.form.get("username", ""),
                                      request.form.get("password", ""))
    except ValidationFailed as exc:
        session.rollback()
        return render_template("invitation.html", invitation=invitation, values={"username": request.form.get(
            "username", "")}, errors=translated(exc.errors)), 400
    session.commit()
    flash(gettext("Your account is ready: log in."), "success")
    return redirect(url_for("auth.login"))


# ---- files ------------------------------------------------------------------------------------------------


@bp.get("/petitions/<code>/attachments/<key>")
@roles()
def download(code: str, key: str) -> Any:
    """Download an attachment of a petition the user may see (404 otherwise); never shown inline."""
    session = db.session()
    petition = viewable(session, current_user(), code)
    row = attachments.get(session, petition, key)
    path = attachments.path_of(attachment_dir(), row.key)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.original_name,
                         conditional=False, etag=False, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/petitions/<code>/attachments")
@roles("intake")
def add_documents(code: str) -> Any:
    """Add documents to a petition: the scanned original or the answer document (intake officers)."""
    session, user = db.session(), current_user()
    petition = viewable(session, user, code)
    kind = request.form.get("kind", "scan")
    if kind not in DOCUMENT_KINDS:
        abort(400)
    try:
        files = attachments.check_uploads(uploads(), attachments.usage(session, petition))
        if not files:
            raise ValidationFailed({"attachments": "This field is required."})
        attachments.attach(session, attachment_dir(), petition, files, kind, user.username)
    except FilesRefused as exc:
        session.rollback()
        for name, message in file_problems(exc):
            flash(f"{name}: {message}" if name else message, "error")
        return redirect(url_for("petitions.show", code=code)), 303
    except ValidationFailed as exc:
        session.rollback()
        flash(translated(exc.errors)["attachments"], "error")
        return redirect(url_for("petitions.show", code=code))
    session.commit()
    flash(gettext("The documents have been attached."), "success")
    return redirect(url_for("petitions.show", code=code))


# ---- the enterprise's steps -------------------------------------------------------------------------------


@bp.post("/petitions/<code>/supply-info")
@roles("enterprise")
def supply_info(code: str) -> Any:
    """Answer the Board's request for information, with files; the clock resumes."""
    session, user = db.session(), current_user()
    petition = viewable(session, user, code)
    try:
        files = attachments.check_uploads(uploads(), attachments.usage(session, petition))
        portal.supply_info(session, runtime(), user, petition, request.form.get("supplied_info", ""), files,
                           attachment_dir())
    except FilesRefused as exc:
        session.rollback()
        for name, message in file_problems(exc):
            flash(f"{name}: {message}" if name else message, "error")
        return redirect(url_for("petitions.show", code=code)), 303
    except ValidationFailed as exc:
        session.rollback()
        for message in translated(exc.errors).values():
            flash(message, "error")
        return redirect(url_for("petitions.show", code=code)), 303
    session.commit()
    flash(gettext("Thank you: the information has been sent to the Board."), "success")
    return redirect(url_for("petitions.show", code=code))


@bp.post("/petitions/<code>/rate")
@roles("enterprise")
def rate(code: str) -> Any:
    """Rate the answer; dissatisfied (with a reason) reopens the petition once."""
    session, user = db.session(), current_user()
    petition = viewable(session, user, code)
    try:
        portal.rate(session, runtime(), user, petition, request.form.get("rating", ""),
                    request.form.get("comment", ""))
    except ValidationFailed:
        session.rollback()
        flash(gettext("Choose a rating; a dissatisfied rating needs the reason."), "error")
        return redirect(url_for("petitions.show", code=code)), 303
    session.commit()
    flash(gettext("Thank you for your rating."), "success")
    return redirect(url_for("petitions.show", code=code))


# ---- publication ------------------------------------------------------------------------------------------


@bp.route("/petitions/<code>/publish", methods=["GET", "POST"])
@roles("intake")
def publish(code: str) -> Any:
    """Prepare the redacted public copy of an answer, and publish it or keep it as a draft."""
    session, user = db.session(), current_user()
    petition = viewable(session, user, code)
    draft = publication.draft(session, petition)
    if request.method == "GET":
        return render_template("publish.html", petition=petition, draft=draft, values={}, errors={})
    form = request.form
    try:
        publication.save(session, _actor(user, "intake"), petition, form.get("title", ""), form.get("question", ""),
                         form.get("answer_text", ""), publish=form.get("action") == "publish")
    except ValidationFailed as exc:
        session.rollback()
        return render_template("publish.html", petition=petition, draft=draft, values=form.to_dict(),
                               errors=translated(exc.errors)), 400
    session.commit()
    flash(gettext("The answer is published.") if form.get("action") == "publish"
          else gettext("The redacted copy is saved; it is not public."), "success")
    return redirect(url_for("petitions.show", code=code))


@bp.post("/petitions/<code>/unpublish")
@roles("intake")
def unpublish(code: str) -> Any:
    """Withdraw a published answer from the public page."""
    session, user = db.session(), current_user()
    petition = viewable(session, user, code)
    publication.unpublish(session, _actor(user, "intake"), petition)
    session.commit()
    flash(gettext("The answer is no longer public."), "success")
    return redirect(url_for("petitions.show", code=code))


@bp.get("/answers")
@public
def answers() -> Any:
    """Search the published answers by words, category and zone."""
    q = request.args.get("q", "").strip()[:200]
    category, zone = request.args.get("category", ""), request.args.get("zone", "")
    rows = publication.search(db.session(), q, category, zone)
    return render_template("answers.html", rows=rows, q=q, category=category, zone=zone)


@bp.get("/answers/<int:answer_id>")
@public
def answer(answer_id: int) -> Any:
    """Show one published answer."""
    return render_template("answer.html", row=publication.public(db.session(), answer_id))


def petition_extras(user: User, code: str) -> portal.PetitionExtras:
    """Return the portal additions of the petition page (the petition is already checked as viewable)."""
    session = db.session()
    return portal.extras(session, runtime(), user, petitions.get(session, code))
