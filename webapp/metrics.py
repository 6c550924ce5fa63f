"""Prometheus metrics: request latency, task completions, timer lag, open incidents (served at /metrics).

Task completions and timer lag are read from the audit rows a step writes (`TASK_COMPLETED`,
`TIMER_FIRED` with its `lateness_seconds`) and counted only when that step's transaction commits, so a
rolled-back step is never counted and the engine needs no hook for it. This works in every process that
opens sessions: web workers and the `petitions scheduler` process alike.

Several processes (gunicorn workers plus the scheduler) share their figures through prometheus_client's
multi-process mode: set `PROMETHEUS_MULTIPROC_DIR` to the same empty, writable directory for all of them
*before they start* (docs/deployment.md). Without it, each process reports only its own figures.

`/metrics` is restricted: it answers a direct loopback connection (no `X-Forwarded-For`/`Forwarded`
header, i.e. not relayed by the proxy) or a request bearing `Authorization: Bearer $PETITIONS_METRICS_TOKEN`.
"""
from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 900, 3600, 4 * 3600, 24 * 3600)

REQUEST_LATENCY = Histogram(
    "petitions_http_request_duration_seconds", "Time to answer an HTTP request, by Flask endpoint and method.",
    ["endpoint", "method"], buckets=LATENCY_BUCKETS,
)
REQUESTS = Counter("petitions_http_requests_total", "HTTP requests answered, by endpoint, method and status.",
                   ["endpoint", "method", "status"])
TASK_COMPLETIONS = Counter("petitions_task_completions_total", "User tasks completed (committed), by BPMN id.",
                           ["task"])
TIMERS_FIRED = Counter("petitions_timers_fired_total", "Timers fired (committed), by BPMN id.", ["timer"])
TIMER_LAG = Histogram("petitions_timer_lag_seconds", "Fire time minus due time of every fired timer.",
                      buckets=LAG_BUCKETS)

_PENDING = "petitions.metrics.pending"
_LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


# ---- counting committed steps ------------------------------------------------------------------------


def _appended(session: Session, events: list[Any]) -> None:
    # Called by engine.audit when a transaction's events are written into the chain (just before its commit).
    for obj in events:
        if obj.action in ("TASK_COMPLETED", "TIMER_FIRED"):
            session.info.setdefault(_PENDING, []).append((obj.action, obj.bpmn_id or "", dict(obj.data or {})))


def _after_commit(session: Session) -> None:
    for action, bpmn_id, data in session.info.pop(_PENDING, ()):
        if action == "TASK_COMPLETED":
            TASK_COMPLETIONS.labels(bpmn_id).inc()
        else:
            TIMERS_FIRED.labels(bpmn_id).inc()
            lateness = data.get("lateness_seconds")
            if isinstance(lateness, (int, float)):
                TIMER_LAG.observe(max(float(lateness), 0.0))


def _after_rollback(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)


def install_session_listeners() -> None:
    """Count committed task completions and timer fires of every session in this process (idempotent)."""
    from engine import audit

    audit.on_append(_appended)
    if event.contains(Session, "after_commit", _after_commit):
        return
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
    event.listen(Session, "after_soft_rollback", _after_rollback)


# ---- values read at scrape time ------------------------------------------------------------------------


class IncidentCollector(Collector):
    """`petitions_open_incidents`: unresolved incidents, counted in the database at each scrape."""

    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from engine.models import Incident

        with self.sessions() as session:
            count = session.scalar(select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None)))
        yield GaugeMetricFamily("petitions_open_incidents", "Unresolved incidents (instances stopped in error).",
                                value=float(count or 0))


def multiprocess_dir() -> str | None:
    """Return the shared metrics directory when multi-process mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def _registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        for metric in (REQUEST_LATENCY, REQUESTS, TASK_COMPLETIONS, TIMERS_FIRED, TIMER_LAG):
            registry.register(metric)
    registry.register(IncidentCollector(app.extensions["petitions.sessions"]))
    return registry


# ---- the endpoint and the request hooks ------------------------------------------------------------


def allowed() -> bool:
    """Tell whether this request may read the metrics: direct loopback, or the metrics token."""
    token = current_app.config.get("PETITIONS_METRICS_TOKEN") or os.environ.get("PETITIONS_METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    relayed = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    return request.remote_addr in _LOOPBACK and not relayed


def metrics_view() -> Response:
    """Serve the metrics in Prometheus text format to allowed callers; 404 to everyone else."""
    if not allowed():
        abort(404)
    registry = current_app.extensions.get("petitions.metrics_registry")
    if registry is None:
        registry = current_app.extensions["petitions.metrics_registry"] = _registry(current_app)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Any) -> Any:
    started = g.pop("metrics_started", None)
    if started is not None:
        endpoint = request.endpoint or "unmatched"
        REQUEST_LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    return response


def init_app(app: Flask) -> None:
    """Time every request (first before_request hook, so refused requests are timed too)."""
    install_session_listeners()
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
