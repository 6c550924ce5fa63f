"""Real server processes for the crash tests: gunicorn with several workers, and `petitions scheduler`."""
from __future__ import annotations

import http.client
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

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ALL_FAULTS = ",".join(f"{fault}:{op}" for fault in ("kill_before_commit", "kill_after_commit")
                      for op in ("submit", "complete", "timer"))
CRASHED = object()  # what `Client.call` returns when the server closed the connection without answering


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(db_url: str, arm_dir: Path) -> dict[str, str]:
    """Environment of a server process: the database, every crash point enabled, armed from `arm_dir`."""
    return os.environ | {"PETITIONS_DATABASE_URL": db_url, "PETITIONS_FAULT": ALL_FAULTS,
                         "PETITIONS_FAULT_ARM_DIR": str(arm_dir), "PETITIONS_RUN_SCHEDULER": "0",
                         # the crash tests retry submissions on purpose: above the per-user intake limit
                         "PETITIONS_RATE_LIMITS": "intake=100/60+1000/86400",
                         "PETITIONS_SECRET_KEY": os.environ.get("PETITIONS_SECRET_KEY", "crash-test-secret")}


class Client:
    """A JSON client that tells a crashed request (connection closed, no answer) from an HTTP answer."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null"), dict(err.headers)
        except (ConnectionError, http.client.HTTPException):
            return CRASHED
        except urllib.error.URLError as err:
            if isinstance(err.reason, ConnectionError):
                return CRASHED
            raise


class Gunicorn:
    """gunicorn serving `webapp:create_app()` with several sync workers (respawned by the master when killed)."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.env, self.log, self.workers, self.port = env, log, workers, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Client:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
                 "--timeout", "120", "--graceful-timeout", "5", "webapp:create_app()"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        client = Client(f"http://127.0.0.1:{self.port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.log.read_text(errors="replace")[-3000:])
            try:
                answer = client.call("GET", "/api/v1/openapi.json")
            except urllib.error.URLError:
                answer = None
            if answer not in (None, CRASHED) and answer[0] == 200:
                return client
            time.sleep(0.1)  # waiting for the server to listen, not ordering anything
        raise AssertionError("gunicorn did not start: " + self.log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def killed_workers(self) -> int:
        """How many workers the master saw die of SIGKILL (from its log)."""
        return self.log.read_text(errors="replace").count("was sent SIGKILL")


def run_scheduler(env: dict[str, str], log: Path, timeout: float = 90) -> int:
    """Run `petitions scheduler` until it exits by itself (a crash point); return its exit code."""
    with log.open("ab") as out:
        proc = subprocess.Popen([str(BIN / "petitions"), "scheduler", "--interval", "0.5", "--batch", "50"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `petitions scheduler` in the background (stopped by the caller with SIGTERM)."""
    with log.open("ab") as out:
        return subprocess.Popen([str(BIN / "petitions"), "scheduler", "--interval", "0.5", "--batch", "50"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def petitions_cli(url: str, *args: str) -> str:
    """Run `petitions ARGS` in-process against the database at `url`; return its output (exit code 0 asserted)."""
    from click.testing import CliRunner

    from webapp.cli import cli

    result = CliRunner().invoke(cli, list(args), env={"PETITIONS_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output
