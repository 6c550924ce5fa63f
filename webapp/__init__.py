"""Flask web app: pages per role, the JSON API and the command line. Nothing happens on import."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from engine.db import make_engine, session_factory
from webapp.config import Settings

LANGUAGES = ("vi", "en")
csrf = CSRFProtect()


def _locale() -> str:
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES) or "vi" if request.path.startswith("/api/") else "vi"


def _security_headers(response: Any) -> Any:
    """Headers of every response (pages, JSON, files, errors); a view may tighten the CSP, never drop framing."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    if "frame-ancestors" not in response.headers["Content-Security-Policy"]:
        response.headers["Content-Security-Policy"] += "; frame-ancestors 'none'"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if g.get("user") is not None:
        response.headers.setdefault("Cache-Control", "no-store")  # nothing of a logged-in user stays in caches
    return response


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, database, extensions, blueprints, error handlers."""
    from webapp import api, auth, db, errors, filters, views
    from workflows.wiring import build_runtime

    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    settings = Settings.from_env(Path(app.instance_path))
    app.config.update(settings.flask_config())
    if test_config:
        app.config.update(test_config)
    engine = make_engine(app.config["PETITIONS_DATABASE_URL"])
    app.extensions["petitions.engine"] = engine
    app.extensions["petitions.sessions"] = session_factory(engine)
    app.extensions["petitions.runtime"] = build_runtime()
    Babel(app, locale_selector=_locale)
    csrf.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    views.init_app(app)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the JSON API authenticates by bearer token only, never by cookie
    from webapp import open311
    app.register_blueprint(open311.bp)
    csrf.exempt(open311.bp)  # Open311 clients authenticate by api_key, never by cookie
    app.after_request(_security_headers)
    from webapp import ops
    ops.init_app(app)  # /healthz, /readyz, /metrics; request ids, JSON logs, request timing
    return app
