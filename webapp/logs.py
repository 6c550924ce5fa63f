"""Structured logs: one JSON object per line, switched on by `PETITIONS_LOG_FORMAT=json`.

Every record carries `time`, `level`, `logger`, `message`; inside a request also `request_id`, `user`,
`path` (and `method`). One access line per request (logger `petitions.access`) adds `status` and
`duration_ms`. The request id is taken from an incoming `X-Request-ID` (the proxy's `$request_id`) when it
looks sane, else generated, and returned in the `X-Request-ID` response header.

Plain text stays the default; `PETITIONS_LOG_LEVEL` (default INFO) sets the level in JSON mode.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, g, has_request_context, request

ACCESS = logging.getLogger("petitions.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_CONTEXT_FIELDS = ("request_id", "user", "method", "path", "status", "duration_ms")


class RequestContextFilter(logging.Filter):
    """Add the current request's id, user and path to every record logged while it is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            if not hasattr(record, "request_id"):
                record.request_id = g.get("request_id")
            if not hasattr(record, "user"):
                user = g.get("user")
                record.user = getattr(user, "username", None)
            if not hasattr(record, "path"):
                record.path = request.path
            if not hasattr(record, "method"):
                record.method = request.method
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_enabled() -> bool:
    """Tell whether JSON logs were asked for in the environment."""
    return os.environ.get("PETITIONS_LOG_FORMAT", "").strip().lower() == "json"


def configure_json_logging(stream: Any = None, level: str | None = None) -> logging.Handler:
    """Send every log record (root logger) as JSON lines to `stream` (stderr); return the handler."""
    level = (level or os.environ.get("PETITIONS_LOG_LEVEL") or "INFO").upper()
    if level != "DEBUG":
        logging.getLogger("spiff").setLevel(logging.WARNING)  # SpiffWorkflow logs every task state change at INFO
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_petitions_json", False)]:
        root.removeHandler(old)
    handler._petitions_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def _begin() -> None:
    g.log_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _access(response: Any) -> Any:
    started = g.get("log_started")
    request_id = g.get("request_id")
    if request_id:
        response.headers.setdefault("X-Request-ID", request_id)
    if started is not None and ACCESS.isEnabledFor(logging.INFO):
        duration = round((time.perf_counter() - started) * 1000, 2)
        ACCESS.info("%s %s %s %.2f ms", request.method, request.path, response.status_code, duration,
                    extra={"status": response.status_code, "duration_ms": duration})
    return response


def init_app(app: Flask) -> None:
    """Give every request an id and an access line; switch the process to JSON logs when asked."""
    if json_enabled():
        existing = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
        for handler in existing:  # e.g. gunicorn's logconfig_dict (deploy/gunicorn.conf.py) set one up
            if not any(isinstance(f, RequestContextFilter) for f in handler.filters):
                handler.addFilter(RequestContextFilter())
        if not existing:
            configure_json_logging()
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_access)
