"""Figure 6 — memory: one serving gunicorn worker with 100,000 petitions in the database (PostgreSQL).

The database holds 100,000 bulk petitions (10,000 open tasks, bench/volume.py) plus 100 real petitions
waiting at `handle` (cloned, so their pages load the real instance: data, timeline, diagram path). One worker
(4 threads) serves logged-in officers: inbox pages, petition lists, petition pages, public lookups. Resident
memory (VmRSS of the worker) is read before (baseline: booted and answered /readyz) and after.
Target: < 300 MB after serving.
"""
from __future__ import annotations

import http.client
import re
import time
from collections import Counter
from urllib.parse import urlencode

from bench.common import PASSWORD, Actors, Figure, database, make_app
from bench.officers import _free_port, start_gunicorn, stop, worker_pids
from bench.volume import analyze, populate


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status", encoding="ascii"):  # noqa: SIM115
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _worker_pid(master: int) -> int:
    children = worker_pids(master)
    if len(children) != 1:
        raise RuntimeError(f"expected one worker, found {children}")
    return int(children[0])


class Browser:
    """A logged-in officer: one keep-alive connection, the session cookie, the CSRF token of the login form."""

    def __init__(self, port: int, username: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        status, page = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        form = {"username": username, "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
        status, _ = self.send("POST", "/login", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login of {username} failed: {status}")

    def send(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
             ) -> tuple[int, str]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # gunicorn closed an idle keep-alive (5 s)
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.conn.host, self.conn.port, timeout=60)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.read().decode("utf-8", "replace")

    def get(self, path: str) -> tuple[int, str]:
        return self.send("GET", path)


def _prepare(url: str, total: int, real: int) -> tuple[list[str], list[str]]:
    import time_machine
    from sqlalchemy import text

    from bench.clone import clone_petition
    from bench.common import HAPPY_PATH, complete, submit
    from bench.timers import BUILT_AT

    app = make_app(url)
    sessions, runtime = app.extensions["petitions.sessions"], app.extensions["petitions.runtime"]
    with time_machine.travel(BUILT_AT, tick=True), sessions() as session:
        actors = Actors(session)
        code = submit(session, runtime, actors).tracking_code
        for bpmn_id, role, data in HAPPY_PATH[:3]:
            complete(session, runtime, actors, code, bpmn_id, role, data)
        users = [actors.by_role[role].username for role in ("unit", "intake", "leader", "agency")]
    engine = app.extensions["petitions.engine"]
    with engine.begin() as conn:
        populate(conn, total, total // 10)
        clone_petition(conn, code, real - 1)
        codes = [row[0] for row in conn.execute(text("SELECT tracking_code FROM petition WHERE tracking_code LIKE 'BT.%' "
                                                     "OR tracking_code LIKE 'KN.2%' ORDER BY id"))]
    analyze(engine)
    engine.dispose()
    return users, codes


def run(quick: bool) -> Figure:
    """Fill the database, start one worker, read its RSS before and after serving pages."""
    total, real, rounds = (20_000, 30, 2) if quick else (100_000, 100, 5)
    with database("postgresql") as url:
        users, codes = _prepare(url, total, real)
        port = _free_port()
        # No recycling during the measurement (gunicorn would restart the worker after max_requests).
        proc = start_gunicorn(url, port, workers=1, extra_env={"PETITIONS_INSECURE_COOKIES": "1", "PETITIONS_MAX_REQUESTS": "0",
                                                               "PETITIONS_RATE_LIMITS": "track=100000/60"})
        try:
            worker = _worker_pid(proc.pid)
            before = _rss_mb(worker)
            served, failures, peak, statuses = 0, [], before, Counter()
            started = time.perf_counter()
            browsers = [Browser(port, name) for name in users]
            for _ in range(rounds):
                for browser in browsers:
                    paths = ["/inbox", "/petitions", "/"] + [f"/petitions/{c}" for c in codes]
                    paths += [f"/track?code={c}" for c in codes[:20]]
                    for path in paths:
                        status, _ = browser.get(path)
                        served += 1
                        statuses[status] += 1
                        if status >= 500 or (status >= 400 and not path.startswith("/petitions/")):
                            failures.append(f"{path} {status}")
                peak = max(peak, _rss_mb(worker))
            elapsed = time.perf_counter() - started
            after = _rss_mb(worker)
        finally:
            stop(proc)
    return Figure(
        6, f"Memory (one worker, {total + real:,} petitions in the database)",
        value=f"{after:.0f} MB resident after {served:,} pages (peak {peak:.0f} MB)",
        target="< 300 MB",
        baseline=f"{before:.0f} MB after boot + /readyz",
        met=after < 300 and not failures,
        details=[f"{len(users)} officers x {rounds} rounds of inbox, list, home, {len(codes)} petition pages, "
                 f"20 lookups in {elapsed:.0f} s; statuses {dict(sorted(statuses.items()))}; "
                 f"failures: {failures[:5] or 'none'}"],
    )
