"""Login, logout, the password change and the language switch (blueprint `auth`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext

from engine.errors import ValidationFailed
from webapp import LANGUAGES, auth, db
from webapp.auth import current_user, public, roles
from webapp.views.common import home_url, safe_next, translated
from workflows.users import change_password as set_new_password

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """Show the login form; on valid credentials start a session and go to `next` (a local path) or home."""
    next_url = safe_next(request.values.get("next"))
    user = current_user()
    if request.method == "GET":
        if user is not None:
            return redirect(next_url or home_url(user))
        return render_template("login.html", next=next_url or "", username="")
    username = request.form.get("username", "").strip()
    user = auth.check_credentials(username, request.form.get("password", ""))
    if user is None:
        return render_template("login.html", next=next_url or "", username=username, failed=True), 401
    auth.login(user)
    return redirect(next_url or home_url(user))


@bp.post("/logout")
@public
def logout() -> Any:
    """End the session and go to the landing page."""
    auth.logout()
    return redirect(url_for("public.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles()
def change_password() -> Any:
    """Change one's password; every other session and API token of the user stops working."""
    if request.method == "GET":
        return render_template("account_password.html", errors={})
    user, dbs = current_user(), db.session()
    try:
        set_new_password(dbs, user, request.form.get("current_password", ""), request.form.get("new_password", ""),
                         request.form.get("confirm_password", ""))
    except ValidationFailed as exc:
        dbs.rollback()
        return render_template("account_password.html", errors=translated(exc.errors)), 400
    auth.revoke_all_sessions(user)
    dbs.commit()
    auth.login(user)  # this browser goes on in a fresh session; every other one is logged out
    flash(gettext("Your password has been changed; your other sessions have been logged out."), "success")
    return redirect(home_url(user))


@bp.post("/lang")
@public
def set_language() -> Any:
    """Switch the interface language (vi or en) for this session and return to the page."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("public.index"))
