"""One SQLAlchemy session per request; views commit once after a successful step."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def session() -> Session:
    """Return this request's session (opened on first use)."""
    if "db" not in g:
        g.db = current_app.extensions["petitions.sessions"]()
    return g.db


def _close(exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.rollback()  # anything not committed explicitly is discarded
        db.close()


def init_app(app: Flask) -> None:
    """Close (and roll back) the request's session at the end of every request."""
    app.teardown_appcontext(_close)
