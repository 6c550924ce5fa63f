"""HTML pages: login and language, task inbox and forms, petitions, public lookup."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the page blueprints."""
    from webapp.views import account, petitions, public, tasks

    for blueprint in (account.bp, tasks.bp, petitions.bp, public.bp):
        app.register_blueprint(blueprint)
