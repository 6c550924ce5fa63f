"""The landing page and the public status lookup by tracking code (blueprint `public`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request

from engine.errors import NotFound
from webapp import db
from webapp.auth import current_user, public
from webapp.ratelimit import limited
from webapp.views.common import home_url
from workflows import petitions

bp = Blueprint("public", __name__)
MAX_CODE = 40


@bp.get("/")
@public
def index() -> Any:
    """Send a logged-in user home; show visitors the landing page with the lookup."""
    user = current_user()
    if user is not None:
        return redirect(home_url(user))
    return render_template("landing.html")


@bp.get("/track")
@public
@limited("track", methods=("GET",))
def track() -> Any:
    """Look up a petition's public status (status, stage, lead unit, due date) by its tracking code."""
    code = request.args.get("code", "").strip().upper()[:MAX_CODE]
    if not code:
        return render_template("track.html", code="", status=None)
    try:
        status = petitions.public_status(db.session(), code)
    except NotFound:
        return render_template("track.html", code=code, status=None, not_found=True), 404
    return render_template("track.html", code=code, status=status)
