"""Small helpers shared by the page blueprints."""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import gettext

from engine.runtime import Runtime
from webapp.auth import TASK_ROLES, has_role
from workflows.models import User


def runtime() -> Runtime:
    """Return the app's engine runtime."""
    return current_app.extensions["petitions.runtime"]


def safe_next(target: str | None) -> str | None:
    """Return `target` when it is a path on this site, else None (no open redirect)."""
    if not target:
        return None
    target = target.strip()
    if target.endswith("?"):
        target = target[:-1]
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home_url(user: User) -> str:
    """Return the page a user starts from: the inbox for task roles, else the petition list."""
    return url_for("tasks.inbox") if has_role(user, TASK_ROLES) else url_for("petitions.index")


def translated(errors: Mapping[str, str]) -> dict[str, str]:
    """Return field messages translated into the current language."""
    return {name: gettext(message) for name, message in errors.items()}
