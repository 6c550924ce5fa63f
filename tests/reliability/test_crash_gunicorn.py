"""SIGKILL a gunicorn worker before and after the commit of an intake and of a task completion (T-CRASH-1/2).

A crash point (`engine.faults`, env `PETITIONS_FAULT`) makes the worker that handles the armed request kill
itself; the master respawns it. Afterwards: no accepted petition is lost, a retry with the same
Idempotency-Key returns the same tracking code, nothing is applied twice, every instance loads.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.models import AuditEvent, HumanTask, IdempotencyKey, ProcessInstance, TaskStatus
from tests.conftest import TEST_PASSWORD
from tests.reliability.invariants import check_invariants, scalar
from tests.reliability.servers import CRASHED, Client, Gunicorn, server_env
from workflows.models import Petition

PETITION = {"title": "Mất điện kéo dài", "content": "Nhà xưởng mất điện 3 lần/tuần.", "zone": "TL"}


@pytest.fixture
def arm_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "arm"
    folder.mkdir()
    return folder


@pytest.fixture
def server(db_kind, db_url, app: Flask, make_user, arm_dir: Path, tmp_path: Path) -> Iterator[Gunicorn]:  # noqa: ARG001
    make_user("tn", "intake")
    make_user("dn", "enterprise", tax_code="0100000001", enterprise_name="Công ty A")
    make_user("dn2", "enterprise", tax_code="0100000002", enterprise_name="Công ty B")
    srv = Gunicorn(server_env(db_url, arm_dir), tmp_path / "gunicorn.log", workers=2)
    yield srv
    srv.stop()


def _token(api: Client, username: str) -> str:
    status, body, _ = api.call("POST", "/api/v1/auth/token", {"username": username, "password": TEST_PASSWORD})
    assert status == 200, body
    return body["token"]


def _arm(arm_dir: Path, name: str) -> Path:
    marker = arm_dir / name
    marker.touch()
    return marker


def test_workers_killed_before_and_after_commit_lose_nothing_and_apply_nothing_twice(server: Gunicorn, app: Flask,
                                                                                      arm_dir: Path) -> None:
    api = server.start()  # one server (two workers) for both parts: starting gunicorn is the slow part
    codes = _intake_killed_before_and_after_commit_keeps_one_petition_per_key(server, api, app, arm_dir)
    _task_completion_killed_before_and_after_commit_is_applied_once(server, api, app, arm_dir)
    assert server.killed_workers() == 4
    assert api.call("GET", "/api/v1/tasks", token=_token(api, "tn"))[0] == 200  # the respawned workers serve
    counts = check_invariants(app.extensions["petitions.sessions"], app.extensions["petitions.runtime"])
    assert counts == {"instances": len(codes) + 1, "completed_tasks": 2}


def _intake_killed_before_and_after_commit_keeps_one_petition_per_key(server: Gunicorn, api: Client, app: Flask,
                                                                      arm_dir: Path) -> list[str]:
    sessions = app.extensions["petitions.sessions"]
    token = _token(api, "dn")

    marker = _arm(arm_dir, "kill_before_commit:submit")
    assert api.call("POST", "/api/v1/petitions", PETITION, token, {"Idempotency-Key": "key-before-0001"}) is CRASHED
    assert not marker.exists()  # a worker took the crash
    assert scalar(sessions, select(func.count()).select_from(Petition)) == 0  # rolled back: nothing half-stored
    assert scalar(sessions, select(func.count()).select_from(ProcessInstance)) == 0
    status, first, _ = api.call("POST", "/api/v1/petitions", PETITION, token, {"Idempotency-Key": "key-before-0001"})
    assert status == 201

    marker = _arm(arm_dir, "kill_after_commit:submit")
    other = PETITION | {"title": "Ngập nước đường nội khu"}
    assert api.call("POST", "/api/v1/petitions", other, token, {"Idempotency-Key": "key-after-0002"}) is CRASHED
    assert not marker.exists()
    stored = scalar(sessions, select(Petition.tracking_code).where(Petition.submission_key == "key-after-0002"))
    assert stored is not None  # accepted before the crash: the client never heard of it, the database has it
    status, again, headers = api.call("POST", "/api/v1/petitions", other, token, {"Idempotency-Key": "key-after-0002"})
    assert (status, again["tracking_code"], headers.get("Idempotent-Replayed")) == (201, stored, "true")
    assert again["tracking_code"] != first["tracking_code"]

    # The same key with another body, or from another enterprise, is refused and changes nothing.
    status, body, _ = api.call("POST", "/api/v1/petitions", other | {"content": "khác"}, token,
                               {"Idempotency-Key": "key-after-0002", "Accept-Language": "en"})
    assert status == 422 and "idempotency key" in body["error"].lower()
    status, body, _ = api.call("POST", "/api/v1/petitions", other, _token(api, "dn2"),
                               {"Idempotency-Key": "key-after-0002"})
    assert status == 422 and stored not in str(body)

    assert server.killed_workers() == 2
    assert scalar(sessions, select(func.count()).select_from(Petition)) == 2
    assert scalar(sessions, select(func.count()).select_from(IdempotencyKey)) == 2
    for code in (first["tracking_code"], stored):
        assert scalar(sessions, select(func.count()).select_from(AuditEvent).where(
            AuditEvent.business_key == code, AuditEvent.action == "PETITION_RECEIVED")) == 1
        assert scalar(sessions, select(func.count()).select_from(AuditEvent).where(
            AuditEvent.business_key == code, AuditEvent.action == "PROCESS_STARTED")) == 1
    return [first["tracking_code"], stored]


def _open_task(api: Client, token: str, code: str, name: str) -> str:
    status, body, _ = api.call("GET", "/api/v1/tasks", token=token)
    assert status == 200
    found = [t["id"] for t in body["tasks"] if t["petition"] == code and t["name"] == name]
    assert found, body
    return found[0]


def _task_completion_killed_before_and_after_commit_is_applied_once(server: Gunicorn, api: Client, app: Flask,
                                                                    arm_dir: Path) -> None:
    sessions = app.extensions["petitions.sessions"]
    dn, tn = _token(api, "dn"), _token(api, "tn")
    status, created, _ = api.call("POST", "/api/v1/petitions", PETITION, dn, {"Idempotency-Key": "task-crash-0001"})
    assert status == 201
    code = created["tracking_code"]
    version = scalar(sessions, select(ProcessInstance.version).where(ProcessInstance.business_key == code))

    register = _open_task(api, tn, code, "register")
    _arm(arm_dir, "kill_before_commit:complete")
    body = {"data": {"register_decision": "accept"}}
    assert api.call("POST", f"/api/v1/tasks/{register}/complete", body, tn) is CRASHED
    assert scalar(sessions, select(HumanTask.status).where(HumanTask.id == register)) == TaskStatus.OPEN
    assert scalar(sessions, select(ProcessInstance.version).where(ProcessInstance.business_key == code)) == version
    assert scalar(sessions, select(func.count()).select_from(AuditEvent).where(
        AuditEvent.task_id == register, AuditEvent.action == "TASK_COMPLETED")) == 0
    assert api.call("POST", f"/api/v1/tasks/{register}/complete", body, tn)[0] == 200  # the retry completes it

    classify = _open_task(api, tn, code, "classify")
    _arm(arm_dir, "kill_after_commit:complete")
    body = {"data": {"petition_type": "KN", "category": "DIEN", "priority": "THUONG", "within_authority": True,
                     "triage_outcome": "THUOC_THAM_QUYEN"}}
    assert api.call("POST", f"/api/v1/tasks/{classify}/complete", body, tn) is CRASHED
    assert scalar(sessions, select(HumanTask.status).where(HumanTask.id == classify)) == TaskStatus.COMPLETED
    status, answer, _ = api.call("POST", f"/api/v1/tasks/{classify}/complete", body, tn)
    assert status == 409, answer  # already applied: the retry is refused, never applied a second time

    assert server.killed_workers() == 4
    for task in (register, classify):
        assert scalar(sessions, select(func.count()).select_from(AuditEvent).where(
            AuditEvent.task_id == task, AuditEvent.action == "TASK_COMPLETED")) == 1
    status, record, _ = api.call("GET", f"/api/v1/petitions/{code}", token=dn)
    assert status == 200 and record["status"] != "MOI_TIEP_NHAN"
