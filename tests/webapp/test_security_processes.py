"""Login throttling with real worker processes: gunicorn with two sync workers on one database."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_PASSWORD
from tests.reliability.servers import BIN, CRASHED, ROOT, Client, free_port


def _start(db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], Client]:
    env = os.environ | {"PETITIONS_DATABASE_URL": db_url, "PETITIONS_RUN_SCHEDULER": "0",
                        "PETITIONS_SECRET_KEY": os.environ.get("PETITIONS_SECRET_KEY", "throttle-test-secret")}
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "120",
             "--access-logfile", "-", "--access-logformat", "PID %(p)s %(s)s %(U)s", "webapp:create_app()"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    client = Client(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text(errors="replace")[-3000:])
        try:
            answer = client.call("GET", "/api/v1/openapi.json")
        except OSError:
            answer = None
        if answer not in (None, CRASHED) and answer[0] == 200:
            return proc, client
        time.sleep(0.1)  # waiting for the server to listen, not ordering anything
    proc.kill()
    raise AssertionError("gunicorn did not start: " + log.read_text(errors="replace")[-3000:])


def _pair(client: Client, password: str) -> list[Any]:
    """Two token requests at once: each of the two sync workers is busy with one of them."""
    answers: list[Any] = [None, None]

    def ask(i: int) -> None:
        answers[i] = client.call("POST", "/api/v1/auth/token", {"username": "tn", "password": password})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.usefixtures("db_kind", "app")
def test_the_eleventh_attempt_is_refused_whichever_gunicorn_worker_answers(
    db_url: str, make_user: Callable[..., Any], tmp_path: Path
) -> None:
    make_user("tn", "intake")
    log = tmp_path / "gunicorn.log"
    proc, client = _start(db_url, log)
    try:
        failed = [answer for _ in range(5) for answer in _pair(client, "wrong-password-123")]
        assert [answer[0] for answer in failed] == [401] * 10
        refused = _pair(client, TEST_PASSWORD)
        assert [answer[0] for answer in refused] == [429, 429]
        assert all(int(answer[2]["Retry-After"]) > 0 for answer in refused)
    finally:
        proc.terminate()
        proc.wait(30)
    pids = {line.split()[1] for line in log.read_text(errors="replace").splitlines()
            if line.startswith("PID ") and line.endswith("/api/v1/auth/token")}
    assert len(pids) == 2, pids  # both workers answered token requests: the counter is not per process
