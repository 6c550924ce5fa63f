"""The user's own notifications, newest first, and marking them read (blueprint `notifications`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from webapp import db
from webapp.auth import current_user, roles
from webapp.messages import N_
from workflows import notifications

bp = Blueprint("notifications", __name__)

MESSAGES = (N_("notification not found"),)  # raised by workflows.notifications.mark_read, shown translated

KIND_TITLES = {
    "assignment": _l("Assignment"),
    "coordination_request": _l("Coordination request"),
    "information_request": _l("Information request"),
    "answer_sent": _l("Answer sent"),
    "reminder": _l("Reminder"),
    "overdue": _l("Overdue"),
    "extension": _l("Extension"),
}


@bp.get("/notifications")
@roles()
def index() -> Any:
    """List the user's notifications, newest first."""
    items = notifications.for_user(db.session(), current_user())
    return render_template("notifications.html", items=items, kinds=KIND_TITLES)


@bp.post("/notifications/<int:notification_id>/read")
@roles()
def read(notification_id: int) -> Any:
    """Mark one of the user's notifications read (404 for anyone else's)."""
    notifications.mark_read(db.session(), current_user(), notification_id)
    db.session().commit()
    return redirect(url_for(".index"))


@bp.post("/notifications/read-all")
@roles()
def read_all() -> Any:
    """Mark all of the user's notifications read."""
    notifications.mark_all_read(db.session(), current_user())
    db.session().commit()
    return redirect(url_for(".index"))


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    # A callable, so only pages that show the navigation (for a logged-in user) run the count query.
    def unread_notifications() -> int:
        user = current_user()
        if user is None:
            return 0
        try:
            return notifications.unread_count(db.session(), user)
        except SQLAlchemyError:  # an error page after a failed transaction still renders its navigation
            return 0

    return {"unread_notifications": unread_notifications}
