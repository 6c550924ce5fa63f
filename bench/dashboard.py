"""Benchmark the leaders' dashboard pages on a generated history (target: p95 under 500 ms per page).

    .venv/bin/python bench/dashboard.py [--petitions 20000] [--years 2] [--seed 7] [--rounds 20] [--db URL]

Without --db a fresh SQLite file in a temporary folder is used; with --db the database is used as it is
(generate the history first with `petitions generate-history`, or pass --generate). Each page is requested
`rounds` times through the WSGI app as a logged-in leader (Flask test client: the server's work — routing,
policy, SQL, rendering — without the network), over several periods: cold (the figures cache emptied before
each request, i.e. the first leader to open a period after any change) and warm (the same period again while
nothing changed). The p50 / p95 / max of each are printed; the target applies to the cold p95.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PETITIONS_SECRET_KEY", "bench-secret-key-not-for-production")

TARGET_MS = 500.0
PASSWORD = "bench-dashboard-password"


def _pages(today: dt.date) -> list[tuple[str, str]]:
    half = 1 if today.month <= 6 else 2
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    year_ago = (today - dt.timedelta(days=365)).isoformat()
    return [
        ("dashboard (default half-year)", "/dashboard"),
        ("dashboard (12 months)", f"/dashboard?from={year_ago}&to={today.isoformat()}"),
        ("dashboard (2 years)", f"/dashboard?from={(today - dt.timedelta(days=730)).isoformat()}&to={today.isoformat()}"),
        ("drill-down (answered, 12 months)", f"/dashboard/petitions?metric=answered&from={year_ago}&to={today}"),
        ("drill-down (overdue now)", f"/dashboard/petitions?metric=overdue&from={today}&to={today}"),
        ("bottleneck page (default half-year)", "/dashboard/bottlenecks"),
        ("bottleneck data (default half-year)", "/dashboard/bottlenecks.json"),
        ("bottleneck data (12 months)", f"/dashboard/bottlenecks.json?from={year_ago}&to={today}"),
        ("unit ranking (last month)", f"/dashboard/ranking?month={last_month}"),
        ("half-yearly report", f"/dashboard/reports/half-year?year={today.year}&half={half}"),
        ("overdue digest", "/dashboard/reports/overdue"),
    ]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


def _timed(client: object, path: str, rounds: int, cold: bool) -> list[float]:
    from workflows.dashboard import cache

    times = []
    for _ in range(rounds):
        if cold:
            cache.clear()
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return times


def main() -> int:
    """Run the benchmark and print one line per page; exit 1 when a page misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--petitions", type=int, default=20_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--db", default="")
    parser.add_argument("--generate", action="store_true", help="generate the history into --db too")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="bench-dashboard-")
    url = args.db or f"sqlite:///{Path(folder.name) / 'dashboard.sqlite'}"

    from sqlalchemy import func, select

    from webapp import create_app
    from webapp.cli import initialise
    from workflows.dashboard.history import generate_history
    from workflows.models import Petition, User
    from workflows.users import create_user

    app = create_app({"PETITIONS_DATABASE_URL": url, "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
                      "PETITIONS_RUN_SCHEDULER": False})
    with app.app_context():
        initialise()
    sessions = app.extensions["petitions.sessions"]
    with sessions() as session:
        if not args.db or args.generate:
            started = time.monotonic()
            generated = generate_history(session, args.petitions, args.years, args.seed)
            session.commit()
            print(f"generated {generated.petitions} petitions ({generated.tasks} task rows, {generated.events} audit "
                  f"events) in {time.monotonic() - started:.1f} s")
        if session.scalar(select(User).where(User.username == "bench_leader")) is None:
            create_user(session, "bench_leader", PASSWORD, ["leader"])
        session.commit()
        total = session.scalar(select(func.count()).select_from(Petition))
    client = app.test_client()
    assert client.post("/login", data={"username": "bench_leader", "password": PASSWORD}).status_code == 302
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    print(f"database: {dialect}, {total} petitions; {args.rounds} requests per page after one warm-up; target p95 "
          f"< {TARGET_MS:.0f} ms")
    print(f"{'page':<36} {'cold p50':>9} {'cold p95':>9} {'cold max':>9} {'warm p95':>9}  met")
    missed, cold_all, warm_all = 0, [], []
    for name, path in _pages(dt.date.today()):
        assert client.get(path).status_code == 200, path
        cold, warm = _timed(client, path, args.rounds, True), _timed(client, path, args.rounds, False)
        cold_all += cold
        warm_all += warm
        missed += _percentile(cold, 95) >= TARGET_MS
        print(f"{name:<36} {statistics.median(cold):9.1f} {_percentile(cold, 95):9.1f} {max(cold):9.1f} "
              f"{_percentile(warm, 95):9.1f}  {'yes' if _percentile(cold, 95) < TARGET_MS else 'NO'}")
    print(f"{'all pages':<36} {statistics.median(cold_all):9.1f} {_percentile(cold_all, 95):9.1f} "
          f"{max(cold_all):9.1f} {_percentile(warm_all, 95):9.1f}  "
          f"{'yes' if _percentile(cold_all, 95) < TARGET_MS else 'NO'}")
    app.extensions["petitions.engine"].dispose()
    folder.cleanup()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
