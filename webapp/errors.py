"""Translate engine errors (and HTTP errors) to pages or JSON in one place."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError, ValidationFailed

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/open311/")


def _respond(status: int, message: str, errors: dict[str, str] | None = None) -> Any:
    if _wants_json():
        body: dict[str, Any] = {"error": message}
        if errors is not None:
            body["errors"] = errors
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, errors=errors), status


def _engine_error(exc: EngineError) -> Any:
    if exc.http_status >= 500:
        log.error("engine failure: %s", exc, exc_info=exc)
        return _respond(500, gettext("The step could not be completed; nothing was changed."))
    if isinstance(exc, ValidationFailed):
        return _respond(400, gettext("Please correct the highlighted fields."),
                        {k: gettext(v) for k, v in exc.errors.items()})
    return _respond(exc.http_status, gettext(exc.message) if exc.message else str(exc.http_status))


def _http_error(exc: HTTPException) -> Any:
    return _respond(exc.code or 500, gettext(exc.name))


def _integrity(exc: IntegrityError) -> Any:
    log.warning("integrity conflict: %s", exc.orig)
    return _respond(409, gettext("This was changed by someone else at the same time. Reload and try again."))


def _locked(exc: OperationalError) -> Any:
    if "locked" in str(exc.orig).lower() or "lock timeout" in str(exc.orig).lower():
        return _respond(503, gettext("The system is busy; please try again."))
    log.error("database error", exc_info=exc)
    return _respond(500, gettext("Internal error."))


def _csrf(exc: CSRFError) -> Any:
    return _respond(400, gettext("The form has expired; reload the page and try again."))


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(EngineError, _engine_error)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(IntegrityError, _integrity)
    app.register_error_handler(OperationalError, _locked)
