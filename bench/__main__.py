"""Run the six benchmarks of issue 7 and print each figure next to its target and its same-run baseline.

    .venv/bin/python -m bench                 # full scale (about 30 minutes on 2 busy CPUs)
    .venv/bin/python -m bench --quick         # small scale, a few minutes
    .venv/bin/python -m bench --only 1,4      # some figures
    .venv/bin/python -m bench --inbox-scale 0.1 --json out.json

PostgreSQL: each run creates and drops its own database, `petitions_bench_<pid>` on
the local server, by its Unix socket (/var/run/postgresql) when it answers there, else 127.0.0.1:5432
(PETITIONS_BENCH_PG_URL names another one).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import sys
import time
import traceback

from bench.common import Figure, by_socket, load_average, pg_url, server_url


def machine() -> str:
    """Describe the machine: CPUs, CPU model, memory, PostgreSQL, Python."""
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):  # noqa: SIM115
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in open("/proc/meminfo", encoding="ascii")  # noqa: SIM115
                   if line.startswith("MemTotal"))
    except OSError:
        mem = 0
    pg = "?"
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(server_url(pg_url()))
        with engine.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - only describes the machine
        pg = f"unreachable ({type(exc).__name__})"
    via = "Unix socket" if by_socket(pg_url()) else "TCP"
    return (f"nproc {os.cpu_count()}, {model}, {mem / 1024 / 1024:.1f} GiB RAM, PostgreSQL {pg} (by {via}), "
            f"Python {platform.python_version()}, load average {load_average()}")


def _runners(args: argparse.Namespace) -> dict[int, object]:
    from bench import engine_step, growth, inbox, memory, officers, timers

    return {
        1: lambda: engine_step.run(args.quick),
        2: lambda: officers.run(args.quick, officers=args.officers),
        3: lambda: inbox.run(args.quick, args.inbox_scale),
        4: lambda: growth.run(args.quick),
        5: lambda: timers.run(args.quick, procs=args.timer_procs),
        6: lambda: memory.run(args.quick),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the selected figures; print the report; exit 0 (figures that miss their targets are reported)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small scale (minutes)")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="figures to run, e.g. 1,4,5")
    parser.add_argument("--inbox-scale", type=float, default=None,
                        help="figure 3 scale (1.0 = 1,000,000 petitions / 100,000 open tasks)")
    parser.add_argument("--timer-procs", type=int, default=3, help="sweeping processes of figure 5")
    parser.add_argument("--officers", type=int, default=16, help="simulated officers of figure 2")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    wanted = [int(n) for n in args.only.split(",") if n.strip()]
    print(f"petitions benchmarks {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
          f"{' (quick)' if args.quick else ''}", flush=True)
    print(f"machine: {machine()}", flush=True)
    runners, figures = _runners(args), []
    for number in wanted:
        started = time.perf_counter()
        try:
            figure = runners[number]()
        except Exception as exc:  # noqa: BLE001 - one failing figure must not hide the others
            traceback.print_exc()
            figure = Figure(number, f"figure {number}", f"FAILED: {type(exc).__name__}: {exc}", "", "", None)
        figure.details.append(f"took {time.perf_counter() - started:.0f} s, load average after {load_average()}")
        figures.append(figure)
        _print(figure)
    print("\nsummary:")
    for figure in figures:
        verdict = "met" if figure.met else "not measured" if figure.met is None else "MISSED"
        print(f"  {figure.number}. {verdict:>12}  {figure.name}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([dataclasses.asdict(f) for f in figures], out, ensure_ascii=False, indent=1)
    return 0


def _print(figure: Figure) -> None:
    verdict = "met" if figure.met else "not measured" if figure.met is None else "MISSED"
    print(f"\n{figure.number}. {figure.name}: {verdict}")
    print(f"   measured: {figure.value}")
    print(f"   target:   {figure.target}")
    print(f"   baseline: {figure.baseline}")
    for line in figure.details:
        print(f"   - {line}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
