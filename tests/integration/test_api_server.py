"""A script drives a petition from submission to rating through the HTTP API of a real server process,
with separate users per role, and the server is stopped and restarted half-way."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_PASSWORD

CLI = str(Path(sys.executable).parent / "petitions")


class Api:
    """A tiny JSON client for the server under test."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def token(self, username: str) -> str:
        status, body = self.call("POST", "/api/v1/auth/token", {"username": username, "password": TEST_PASSWORD})
        assert status == 200, body
        return body["token"]

    def task(self, token: str, code: str, name: str) -> str:
        status, body = self.call("GET", "/api/v1/tasks", token=token)
        assert status == 200
        found = [t["id"] for t in body["tasks"] if t["petition"] == code and t["name"] == name]
        assert found, f"no {name} task in {body}"
        return found[0]

    def complete(self, token: str, code: str, name: str, data: dict[str, Any]) -> None:
        task_id = self.task(token, code, name)
        assert self.call("POST", f"/api/v1/tasks/{task_id}/claim", {}, token)[0] == 200
        status, body = self.call("POST", f"/api/v1/tasks/{task_id}/complete", {"data": data}, token)
        assert status == 200, body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`petitions serve` as a child process."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.port, self.proc = env, _free_port(), None

    def start(self) -> Api:
        self.proc = subprocess.Popen([CLI, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self._wait_ready()

    def _wait_ready(self) -> Api:
        api = Api(f"http://127.0.0.1:{self.port}")
        for _ in range(200):
            try:
                if api.call("GET", "/api/v1/openapi.json")[0] == 200:
                    return api
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise AssertionError(self.proc.stderr.read().decode() if self.proc.poll() is not None else "server not up")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def _cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def server(db_kind, db_url) -> Server:  # noqa: ARG001 - db_kind parametrizes the backend
    env = os.environ | {"PETITIONS_DATABASE_URL": db_url, "PETITIONS_SECRET_KEY": "api-test-secret"}
    _cli(env, "init")
    for args in (["tn", "--role", "intake"], ["ld", "--role", "leader"], ["qhxd", "--role", "unit", "--unit", "QHXD"],
                 ["tnmt", "--role", "unit", "--unit", "TNMT"], ["evn", "--role", "agency", "--agency", "EVNHN"],
                 ["dn", "--role", "enterprise", "--enterprise", "0100000001", "--enterprise-name", "Công ty A"]):
        _cli(env, "users", "add", *args, "--password", TEST_PASSWORD)
    srv = Server(env)
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.stop()


def test_petition_from_submission_to_rating_over_http_with_a_restart(server: Server) -> None:
    api = server.start()
    tok = {u: api.token(u) for u in ("tn", "ld", "qhxd", "tnmt", "evn", "dn")}
    status, created = api.call("POST", "/api/v1/petitions",
                               {"title": "Điện chập chờn", "content": "Mất điện 3 lần/tuần.", "zone": "TL"}, tok["dn"])
    assert status == 201 and created["status"] == "MOI_TIEP_NHAN"
    code = created["tracking_code"]
    api.complete(tok["tn"], code, "register", {"register_decision": "accept"})
    api.complete(tok["tn"], code, "classify", {"petition_type": "KN", "category": "DIEN", "priority": "KHAN",
                                               "within_authority": True, "triage_outcome": "THUOC_THAM_QUYEN"})
    api.complete(tok["ld"], code, "assign", {"lead_unit": "QHXD", "coordinating_agencies": ["EVNHN"],
                                             "working_days": 10})

    server.stop()
    api = server.start()

    handle = api.task(tok["qhxd"], code, "handle")
    assert api.call("POST", f"/api/v1/tasks/{handle}/complete", {"data": {"handling_notes": "x"}}, tok["tnmt"])[0] == 403
    api.complete(tok["qhxd"], code, "handle", {"handling_notes": "Đã làm việc với điện lực."})
    assert api.call("POST", f"/api/v1/tasks/{handle}/complete", {"data": {"handling_notes": "x"}}, tok["qhxd"])[0] == 409
    api.complete(tok["evn"], code, "coordinate", {"reply_text": "Đã thay máy biến áp.", "reply_document_no": "9/EVN"})
    api.complete(tok["qhxd"], code, "draft_answer", {"answer_text": "Đã khắc phục.", "result_type": "DA_GIAI_QUYET"})
    api.complete(tok["ld"], code, "approve", {"decision": "approve"})
    api.complete(tok["tn"], code, "send_answer", {"answer_document_no": "1/BQL", "answer_date": "2026-12-01"})
    api.complete(tok["dn"], code, "confirm", {"rating": "hai_long", "comment": "Tốt."})

    status, record = api.call("GET", f"/api/v1/petitions/{code}", token=tok["dn"])
    assert status == 200 and record["status"] == "DONG" and record["rating"] == "hai_long"
    assert [h["action"] for h in record["history"]].count("TASK_COMPLETED") == 9
    status, public = api.call("GET", f"/api/v1/petitions/{code}")
    assert status == 200 and set(public) == {"tracking_code", "status", "stage", "lead_unit", "due_date",
                                              "received_date"}


def test_api_rejects_bad_credentials_and_bad_input(server: Server) -> None:
    api = server.start()
    assert api.call("POST", "/api/v1/auth/token", {"username": "dn", "password": "wrong-password!!"})[0] == 401
    assert api.call("POST", "/api/v1/auth/token", {"username": "nobody", "password": "wrong-password!!"})[0] == 401
    assert api.call("GET", "/api/v1/tasks")[0] == 401
    status, body = api.call("POST", "/api/v1/petitions", {"title": "", "content": "x", "zone": "NOWHERE"},
                            api.token("dn"))
    assert status == 400 and set(body["errors"]) == {"title", "zone"}
    assert api.call("POST", "/api/v1/petitions", {"title": "a", "content": "b", "zone": "TL"}, api.token("evn"))[0] == 403
