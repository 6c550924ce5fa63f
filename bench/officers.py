"""Figure 2 — HTTP: simulated officers completing tasks against gunicorn + PostgreSQL on this machine.

gunicorn runs with deploy/gunicorn.conf.py (`PETITIONS_WORKERS`, default 2 x CPUs + 1, gthread). N petitions
waiting at `register` are cloned from a real one (bench/clone.py); `officers` intake officers (threads, one
keep-alive connection each, bearer token from /api/v1/auth/token) share them out and each completes its
own with `POST /api/v1/tasks/<id>/complete` as fast as answers come back (closed loop, no think time).
Every completion is a full engine step (lock, load, run, save, next task, audit, notifications, commit).

Two phases on fresh tasks. Saturation: the officers complete back to back with no think time (closed loop),
which gives the most completions per second the machine can do; their latency is then set by their number
(Little's law: mean = officers / throughput), not by the server. Fixed rate: completions are sent at 150 per
second whatever the answers (open loop, as many officers with think time would send them), each latency
counted from when the request was due. The target is met when the saturation throughput is >= 150/s and the
fixed rate's p95 < 100 ms, with 0 errors in both. Baseline (same run, same client): `GET /healthz`.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import PASSWORD, ROOT, Actors, Figure, database, make_app, percentile, submit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int | None = None, extra_env: dict[str, str] | None = None
                   ) -> subprocess.Popen[bytes]:
    """Start gunicorn with the deployment config on 127.0.0.1:port; wait until /readyz answers 200."""
    env = dict(os.environ, PETITIONS_DATABASE_URL=url, PETITIONS_BIND=f"127.0.0.1:{port}",
               PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="petitions-bench-metrics-"),
               PETITIONS_LOG_LEVEL="WARNING", PETITIONS_RATE_LIMITS="token=1000/60")
    env.update(extra_env or {})
    if workers:
        env["PETITIONS_WORKERS"] = str(workers)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                             "webapp.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status, _body = request(port, "GET", "/readyz")
            if status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + proc.stderr.read().decode()[-2000:])
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn gracefully (SIGTERM), then wait."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def request(port: int, method: str, path: str, body: Any = None, token: str | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    """One HTTP request (on `conn` when given, kept alive); return (status, body)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each of these processes (those gone meanwhile are left out)."""
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5))
    return used


def worker_pids(master: int) -> list[int]:
    """The pids of gunicorn's workers: the children of its master process (/proc)."""
    with open(f"/proc/{master}/task/{master}/children", encoding="ascii") as children:
        return [int(pid) for pid in children.read().split()]


def _postgres_pids() -> list[int]:
    """The pids of PostgreSQL's processes (the postmaster, its backends and helpers), by name in /proc."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/comm", encoding="ascii", errors="replace") as comm:
                if comm.read().strip() == "postgres":
                    found.append(int(entry))
        except (FileNotFoundError, NotADirectoryError, ProcessLookupError, PermissionError):
            continue
    return found


class CpuMeter:
    """CPU seconds used by gunicorn's workers, by PostgreSQL and by this client between `start` and `stop`.

    A process that appears meanwhile (a new PostgreSQL backend for a new pooled connection, a restarted worker)
    counts from zero; one that ends meanwhile loses its share since `start` (none does in figure 2's phases).
    """

    def __init__(self, gunicorn_pid: int) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.begun: tuple[dict[int, float], dict[int, float], float, float] = ({}, {}, 0.0, 0.0)

    def _now(self) -> tuple[dict[int, float], dict[int, float], float, float]:
        return (_cpu_by_pid(worker_pids(self.gunicorn_pid)), _cpu_by_pid(_postgres_pids()), time.process_time(),
                time.perf_counter())

    def start(self) -> None:
        self.begun = self._now()

    def stop(self, completions: int) -> str:
        """Return the CPU per completion of each part, and each part's mean load, as a line of the report."""
        now = self._now()
        used = [sum(seconds - self.begun[part].get(pid, 0.0) for pid, seconds in now[part].items()) for part in (0, 1)]
        used.append(now[2] - self.begun[2])
        elapsed = now[3] - self.begun[3]
        per = ", ".join(f"{name} {seconds / completions * 1000:.2f} ms ({seconds / elapsed:.0%} of a CPU)"
                        for name, seconds in zip(("gunicorn workers", "PostgreSQL", "this client"), used, strict=True))
        return f"CPU per completion in the closed loop (/proc): {per}"


def _load(port: int, jobs: list[list[tuple[str, str, Any]]], token_of: list[str | None]) -> tuple[list[float], int, float]:
    """Run each job list in its own thread on one keep-alive connection; return latencies, errors, seconds."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    go = threading.Barrier(len(jobs) + 1)

    def officer(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        go.wait()
        for method, path, body in jobs[i]:
            started = time.perf_counter()
            try:
                status, _ = request(port, method, path, body, token_of[i], conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append(time.perf_counter() - started)
            if status != 200:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=officer, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    go.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.perf_counter() - started


def _fixed_rate(port: int, jobs: list[tuple[str, str, Any]], tokens: list[str], rate: float, connections: int
                ) -> tuple[list[float], int, float]:
    """Send `jobs` at `rate` per second whatever the answers (open loop); return latencies, errors, seconds.

    Request i is due at start + i / rate. `connections` threads (one keep-alive connection each, bearer token
    `tokens[i % len(tokens)]`) take the next due request; a request that finds every connection busy waits,
    and its latency is counted from the moment it was due, not from when it was sent (so a server that falls
    behind shows in the latencies instead of slowing the client down: no coordinated omission).
    """
    latencies: list[float] = [0.0] * len(jobs)
    errors = [0]
    lock = threading.Lock()
    next_job = [0]
    go = threading.Barrier(connections + 1)
    start = [0.0]

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        go.wait()
        while True:
            with lock:
                i = next_job[0]
                next_job[0] += 1
            if i >= len(jobs):
                break
            due = start[0] + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            method, path, body = jobs[i]
            try:
                status, _ = request(port, method, path, body, tokens[i % len(tokens)], conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            latencies[i] = time.perf_counter() - due
            if status != 200:
                with lock:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(connections)]
    for thread in threads:
        thread.start()
    start[0] = time.perf_counter() + 0.05
    go.wait()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.perf_counter() - start[0]


def _prepare(url: str, count: int, officers: int) -> list[str]:
    """Create intake officers and `count` petitions at `register`; return the officers' user names."""
    from sqlalchemy import text

    from bench.clone import clone_petition
    from workflows.users import create_user

    app = make_app(url)
    sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
    with sessions() as session:
        actors = Actors(session)
        code = submit(session, runtime, actors).tracking_code
        names = [f"tn{i:02d}" for i in range(officers)]
        for name in names:
            create_user(session, name, PASSWORD, ["intake"])
        session.commit()
    engine = app.extensions["petitions.engine"]
    with engine.begin() as conn:
        clone_petition(conn, code, count - 1)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("process_instance", "petition", "human_task", "timer"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    engine.dispose()
    return names


RATE = 150.0  # the target, offered at a fixed rate
LOWER = 100.0  # a lower fixed rate, reported (not judged)


def run(quick: bool, officers: int = 16, workers: int | None = None) -> Figure:
    """Baseline /healthz; the closed loop (saturation); the fixed rate of 150/s; report throughput, p95, errors."""
    from sqlalchemy import create_engine, text

    count = 400 if quick else 3000
    fixed = int(RATE * (4 if quick else 20))  # 20 s at 150/s
    lower = int(LOWER * (4 if quick else 20))  # and 20 s at 100/s, to show the latency below saturation
    with database("postgresql") as url:
        names = _prepare(url, count + fixed + lower, officers)
        engine = create_engine(url)
        with engine.connect() as conn:
            task_ids = [row[0] for row in conn.execute(text(
                "SELECT id FROM human_task WHERE status = 'open' AND bpmn_id = 'register' ORDER BY id"))]
        port = _free_port()
        proc = start_gunicorn(url, port, workers)
        try:
            tokens = []
            for name in names:
                status, body = request(port, "POST", "/api/v1/auth/token", {"username": name, "password": PASSWORD})
                if status != 200:
                    raise RuntimeError(f"token for {name}: {status} {body[:200]!r}")
                tokens.append(json.loads(body)["token"])
            health_jobs = [[("GET", "/healthz", None)] * (count // officers) for _ in range(officers)]
            base_lat, base_err, base_time = _load(port, health_jobs, [None] * officers)
            data = {"data": {"register_decision": "accept"}}
            closed_ids, fixed_ids = task_ids[:count], task_ids[count:count + fixed]
            lower_ids = task_ids[count + fixed:count + fixed + lower]
            jobs = [[("POST", f"/api/v1/tasks/{task_id}/complete", data) for task_id in closed_ids[i::officers]]
                    for i in range(officers)]
            meter = CpuMeter(proc.pid)
            meter.start()
            lat, errors, elapsed = _load(port, jobs, tokens)
            cpu = meter.stop(len(lat))
            time.sleep(2)  # let the closed loop's last answers and the workers settle
            fixed_jobs = [("POST", f"/api/v1/tasks/{task_id}/complete", data) for task_id in fixed_ids]
            flat, fixed_errors, fixed_elapsed = _fixed_rate(port, fixed_jobs, tokens, RATE, 2 * officers)
            time.sleep(2)
            lower_jobs = [("POST", f"/api/v1/tasks/{task_id}/complete", data) for task_id in lower_ids]
            llat, lower_errors, lower_elapsed = _fixed_rate(port, lower_jobs, tokens, LOWER, 2 * officers)
            worker_count = os.environ.get("PETITIONS_WORKERS") or workers or (os.cpu_count() or 1) * 2 + 1
        finally:
            stop(proc)
        with engine.connect() as conn:
            done = conn.execute(text("SELECT count(*) FROM human_task WHERE bpmn_id = 'register' "
                                     "AND status = 'completed'")).scalar_one()
        engine.dispose()
    rate, p95 = len(lat) / elapsed, percentile(lat, 95)
    fixed_rate, fixed_p95 = len(flat) / fixed_elapsed, percentile(flat, 95)
    return Figure(
        2, f"HTTP (officers -> gunicorn {worker_count} workers x 4 threads + PostgreSQL)",
        value=f"at {RATE:.0f}/s offered: {fixed_rate:.0f} completions/s, p50 {percentile(flat, 50) * 1000:.0f} ms, "
              f"p95 {fixed_p95 * 1000:.0f} ms, {fixed_errors} errors ({len(flat):,} requests); "
              f"saturation ({officers} officers, closed loop): {rate:.0f} completions/s, "
              f"p50 {percentile(lat, 50) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, {errors} errors",
        target=f">= {RATE:.0f}/s, p95 < 100 ms, 0 errors",
        baseline=f"GET /healthz {len(base_lat) / base_time:.0f} req/s, p95 {percentile(base_lat, 95) * 1000:.0f} ms, "
                 f"{base_err} errors",
        met=(rate >= RATE and fixed_p95 < 0.1 and errors == 0 and fixed_errors == 0
             and done == len(lat) + len(flat) + len(llat)),
        details=[f"fixed rate (open loop): request i is due at start + i/{RATE:.0f} s, sent on one of "
                 f"{2 * officers} keep-alive connections, and its latency counts from when it was due (a server "
                 f"that falls behind shows as latency, not as a slower client)",
                 f"saturation: {officers} officers send their next completion when the previous answer arrives "
                 f"(no think time), so their mean latency is {officers} / throughput (Little's law)",
                 f"below saturation, at {LOWER:.0f}/s offered: {len(llat) / lower_elapsed:.0f} completions/s, "
                 f"p50 {percentile(llat, 50) * 1000:.0f} ms, p95 {percentile(llat, 95) * 1000:.0f} ms, "
                 f"{lower_errors} errors ({len(llat):,} requests)",
                 cpu,
                 f"{done:,} completed in the database for {len(lat) + len(flat) + len(llat):,} requests; client, gunicorn "
                 f"and PostgreSQL share the same 2 CPUs"],
    )
