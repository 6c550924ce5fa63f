"""Operations endpoints: /healthz, /readyz, /metrics (content after a task completion and a timer fire), JSON logs."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from engine.audit import Actor
from engine.models import Incident
from engine.timers import fire_due_timers
from tests.integration.support import Lifecycle
from webapp import logs
from webapp.auth import public

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def _samples(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_health_and_readiness_are_public_and_check_the_schema(db_kind: str, app: Flask, client: Any) -> None:
    for endpoint in ("ops.healthz", "ops.readyz", "ops.prometheus_metrics"):
        assert app.view_functions[endpoint]._policy == public(lambda: None)._policy
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    assert ready.get_json()["schema"] and ready.headers["X-Request-ID"]
    with app.extensions["petitions.engine"].begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    stale = client.get("/readyz")
    assert stale.status_code == 503 and stale.get_json()["schema"] == "0001"
    with app.extensions["petitions.engine"].begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200  # liveness does not depend on the database


def test_metrics_are_only_served_to_loopback_or_with_the_token(app: Flask, client: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    monkeypatch.setenv("PETITIONS_METRICS_TOKEN", "s3cret-scrape-token")
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_overrides=remote,
                      headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", environ_overrides=remote,
                      headers={"Authorization": "Bearer s3cret-scrape-token"}).status_code == 200


def test_metrics_count_a_task_completion_a_timer_fire_and_open_incidents(
    db_kind: str, clock: Any, app: Flask, client: Any, session: Any, runtime: Any, make_user: Any,
) -> None:
    life = Lifecycle(session, runtime, make_user)
    before = _samples(client)
    petition = life.submit()
    life.to_assignment(petition)  # register + classify
    life.do(life.leader, petition, "assign", lead_unit="QHXD", coordinating_agencies=["EVNHN"], working_days=10)
    session.commit()  # SQLite: end the test session's write transaction (BEGIN IMMEDIATE) before others read
    client.get("/healthz")
    after_tasks = _samples(client)
    assert _value(after_tasks, "petitions_task_completions_total", task="register") \
        == _value(before, "petitions_task_completions_total", task="register") + 1
    assert _value(after_tasks, "petitions_task_completions_total", task="assign") \
        == _value(before, "petitions_task_completions_total", task="assign") + 1
    assert _value(after_tasks, "petitions_http_request_duration_seconds_count", endpoint="ops.healthz",
                  method="GET") >= 1
    assert _value(after_tasks, "petitions_http_requests_total", endpoint="ops.healthz", method="GET",
                  status="200") >= 1

    clock.move_to(dt.datetime(2026, 1, 16, 8, 0, 30, tzinfo=HANOI))  # past the handle reminder (2 WD before)
    fired = fire_due_timers(app.extensions["petitions.sessions"], runtime)
    assert fired >= 1
    after_timer = _samples(client)
    assert _value(after_timer, "petitions_timers_fired_total", timer="timer_handle_reminder") \
        == _value(before, "petitions_timers_fired_total", timer="timer_handle_reminder") + 1
    lag_count = _value(after_timer, "petitions_timer_lag_seconds_count") - _value(before, "petitions_timer_lag_seconds_count")
    assert lag_count == fired
    lag_sum = _value(after_timer, "petitions_timer_lag_seconds_sum") - _value(before, "petitions_timer_lag_seconds_sum")
    assert 25 <= lag_sum / lag_count  # fired 30 s after the 08:00 reminder (plus the clock's own ticking)
    assert _value(after_timer, "petitions_open_incidents") == 0

    session.add(Incident(instance_id=petition.instance_id, kind="timer", message="boom"))
    session.commit()
    session.close()
    assert _value(_samples(client), "petitions_open_incidents") == 1


def test_a_rolled_back_step_is_not_counted(app: Flask, client: Any, session: Any) -> None:
    from engine import audit

    before = _value(_samples(client), "petitions_task_completions_total", task="ghost")
    audit.record(session, Actor("x", "intake"), "TASK_COMPLETED", bpmn_id="ghost")
    session.rollback()
    assert _value(_samples(client), "petitions_task_completions_total", task="ghost") == before


def test_json_logs_carry_request_id_user_path_status_and_duration(app: Flask, client: Any) -> None:
    stream = io.StringIO()
    handler = logs.configure_json_logging(stream, "INFO")
    try:
        client.get("/healthz", headers={"X-Request-ID": "req-abc-12345"})
        client.get("/readyz")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "petitions.access"]
    assert len(access) == 2
    first = access[0]
    assert first["request_id"] == "req-abc-12345" and first["path"] == "/healthz" and first["status"] == 200
    assert first["method"] == "GET" and isinstance(first["duration_ms"], float) and first["level"] == "INFO"
    assert dt.datetime.fromisoformat(first["time"]).tzinfo is not None and "GET /healthz 200" in first["message"]
    assert len(access[1]["request_id"]) == 32  # generated
    assert "user" not in first  # anonymous


def test_json_logs_name_the_logged_in_user(app: Flask, make_user: Any) -> None:
    from tests.webapp.conftest import login

    make_user("hoa", "intake")
    client = app.test_client()
    login(client, "hoa")
    stream = io.StringIO()
    handler = logs.configure_json_logging(stream, "INFO")
    try:
        client.get("/healthz")
        with app.test_request_context("/tasks"):
            logging.getLogger("petitions.test").warning("inside a request")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(line["logger"] == "petitions.test" and line["path"] == "/tasks" for line in lines)
    access = [line for line in lines if line["logger"] == "petitions.access"]
    assert access and access[0]["path"] == "/healthz" and access[0]["user"] == "hoa"


def test_the_gunicorn_config_runs_several_workers_without_a_ticker(tmp_path: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import runpy
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("PETITIONS_LOG_FORMAT", "json")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"))
    assert config["workers"] >= 2 and config["preload_app"] is False
    assert "PETITIONS_RUN_SCHEDULER=0" in config["raw_env"]
    assert config["logconfig_dict"]["formatters"]["json"]["()"] == "webapp.logs.JsonFormatter"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / f"counter_{gone.pid}.db").write_bytes(b"")
    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"")
    config["on_starting"](None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{os.getpid()}.db"]  # the live one stays
