"""HTML pages: login and language, task inbox and forms, petitions, public lookup."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the page blueprints."""
    from webapp.views import account, petitions, public, tasks

    for blueprint in (account.bp, tasks.bp, petitions.bp, public.bp):
        app.register_blueprint(blueprint)
    from webapp.views import audit
    app.register_blueprint(audit.bp)
    from webapp.views import notifications
    app.register_blueprint(notifications.bp)
    from webapp.views import conferences, portal
    app.register_blueprint(portal.bp)
    app.register_blueprint(conferences.bp)
    from webapp.views import designer
    app.register_blueprint(designer.bp)
    from webapp.views import admin
    app.register_blueprint(admin.bp)
    from webapp.views import dashboard
    app.register_blueprint(dashboard.bp)
