"""The ticker: APScheduler calls a sweep every few seconds and keeps no state (reliability notes §2.1, E23).

The database holds the timers (`engine.timers`); APScheduler only ticks. So there is no persistent job
store (sharing one between processes duplicates or loses jobs, and a late job is dropped after its
`misfire_grace_time`); one interval job with `coalesce=True, max_instances=1, misfire_grace_time=None`, whose
first run is immediate so that timers due while the process was down fire at start. A second ticker (one
per web worker, or a dedicated process next to `serve`) is still correct, only wasteful.

Never start a ticker in a process that forks afterwards (gunicorn `--preload`): threads do not survive
`fork()`. The app factory never starts one; `petitions serve` and `petitions scheduler` do.
"""
from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

JOB_ID = "fire_due_timers"
JOB_OPTIONS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
DEFAULT_SECONDS = 10.0


def make_scheduler(tick: Callable[[], Any], seconds: float = DEFAULT_SECONDS) -> BackgroundScheduler:
    """Return a (not yet started) scheduler that calls `tick` now and then every `seconds`."""
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        timezone=dt.timezone.utc,
    )
    scheduler.add_job(tick, "interval", seconds=seconds, id=JOB_ID, name="sweep due timers",
                      next_run_time=dt.datetime.now(dt.timezone.utc), **JOB_OPTIONS)
    return scheduler


def run_blocking(
    tick: Callable[[], Any],
    seconds: float = DEFAULT_SECONDS,
    *,
    stop: threading.Event | None = None,
    stop_signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Run the ticker in the foreground (the dedicated scheduler process) until `stop` is set or a signal.

    SIGTERM/SIGINT only set `stop` (the tick should pass it on, e.g. `fire_due_timers(..., stop=stop)`, so a
    sweep ends between two steps); the current step's transaction finishes, then the scheduler shuts down.
    """
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in stop_signals:
            previous[signum] = signal.signal(signum, lambda _signum, _frame: stop.set())
    scheduler = make_scheduler(tick, seconds)
    scheduler.start()
    log.info("ticker started: a sweep every %s s", seconds)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        stop.set()
        scheduler.shutdown(wait=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        log.info("ticker stopped")
