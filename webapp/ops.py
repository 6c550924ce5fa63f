"""Operations endpoints: liveness `/healthz`, readiness `/readyz`, Prometheus `/metrics`.

All three are declared public in the auth policy (no login: a load balancer or Prometheus calls them);
`/metrics` restricts itself (webapp/metrics.py: direct loopback or a token).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from webapp import logs, metrics
from webapp.auth import public

bp = Blueprint("ops", __name__)


@lru_cache(maxsize=1)
def expected_revision() -> str | None:
    """Return the newest Alembic revision shipped with this code (the schema a worker needs)."""
    from alembic.script import ScriptDirectory

    from workflows.database import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@bp.get("/healthz")
@public
def healthz() -> Any:
    """Liveness: the process serves requests (touches nothing else)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@public
def readyz() -> Any:
    """Readiness: the database answers and its schema is at the revision this code expects."""
    expected = expected_revision()
    try:
        with current_app.extensions["petitions.engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # noqa: BLE001 - any database failure means "not ready", with its class named
        current_app.logger.warning("readiness check failed: %s", exc)
        return jsonify({"status": "unavailable", "database": type(exc).__name__, "expected": expected}), 503
    if current != expected:
        return jsonify({"status": "unavailable", "database": "ok", "schema": current, "expected": expected}), 503
    return jsonify({"status": "ready", "database": "ok", "schema": current})


@bp.get("/metrics")
@public  # restricted inside the view: direct loopback or PETITIONS_METRICS_TOKEN
def prometheus_metrics() -> Any:
    """Prometheus text format."""
    return metrics.metrics_view()


def init_app(app: Flask) -> None:
    """Register the endpoints, request ids / access logs and request timing."""
    logs.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(bp)
