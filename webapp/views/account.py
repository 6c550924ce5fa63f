"""Login, logout and the language switch (blueprint `auth`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for

from webapp import LANGUAGES, auth, db
from webapp.auth import current_user, public
from webapp.views.common import home_url, safe_next
from workflows.users import authenticate

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
    user = authenticate(db.session(), username, request.form.get("password", ""))
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


@bp.post("/lang")
@public
def set_language() -> Any:
    """Switch the interface language (vi or en) for this session and return to the page."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("public.index"))
