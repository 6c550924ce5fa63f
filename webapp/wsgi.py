"""WSGI entry point for gunicorn (`gunicorn -c deploy/gunicorn.conf.py webapp.wsgi:app`).

Settings come from the environment (webapp/config.py; docs/deployment.md). `PETITIONS_PROXY_COUNT` (default 0)
is the number of reverse proxies in front whose `X-Forwarded-For`/`-Proto`/`-Host` headers are trusted, so
that the client's address (login throttling, rate limits, the /metrics loopback check) and the https
scheme are the real ones. Never set it when clients can reach the server without the proxy.

The app never starts a timer ticker here; run one `petitions scheduler` process beside the workers.
"""
from __future__ import annotations

import os

from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import create_app

app = create_app()
_proxies = int(os.environ.get("PETITIONS_PROXY_COUNT", "0") or 0)
if _proxies > 0:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=_proxies, x_proto=_proxies, x_host=_proxies)  # type: ignore[method-assign]
