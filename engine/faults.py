"""Fault injection for crash tests: a process kills itself with SIGKILL at a named point, only when asked.

`PETITIONS_FAULT` lists the enabled points, comma-separated, as `<fault>:<operation>`, e.g.
`kill_before_commit:complete,kill_after_commit:submit`. The points are the two sides of a step's commit
(`commit(session, operation)`): `kill_before_commit` (the step is flushed, the transaction still open) and
`kill_after_commit` (committed, the caller has not answered yet). Operations named by the callers:
`submit` (intake), `complete` (task completion), `timer` (one timer fired by the sweep).

With `PETITIONS_FAULT_ARM_DIR` set, an enabled point fires only when a file named after it exists in that
folder (`kill_before_commit:complete`), and the process that fires removes the file first: a test arms
exactly one crash among several worker processes, and the restarted worker runs normally.

Unset (production), `point` is one environment lookup and returns.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

FAULT_ENV = "PETITIONS_FAULT"
ARM_DIR_ENV = "PETITIONS_FAULT_ARM_DIR"
POINTS = ("kill_before_commit", "kill_after_commit")


def _enabled(name: str) -> bool:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return False
    return name in {part.strip() for part in spec.split(",")}


def _armed(name: str) -> bool:
    folder = os.environ.get(ARM_DIR_ENV)
    if not folder:
        return True
    try:
        (Path(folder) / name).unlink()  # atomic: of several processes exactly one takes the crash
    except FileNotFoundError:
        return False
    return True


def point(fault: str, operation: str) -> None:
    """Kill this process with SIGKILL when `<fault>:<operation>` is enabled (and armed); otherwise return."""
    name = f"{fault}:{operation}"
    if not _enabled(name) or not _armed(name):
        return
    log.critical("fault injection: %s, pid %d kills itself", name, os.getpid())
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def commit(session: Session, operation: str) -> None:
    """Commit the step's transaction, with the crash points on both sides of it."""
    point("kill_before_commit", operation)
    session.commit()
    point("kill_after_commit", operation)
