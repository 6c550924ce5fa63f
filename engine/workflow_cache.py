"""Keep the workflow objects this process saved, to skip deserializing them at the instance's next step.

Restoring an instance from JSON is the largest part of a step after the database (docs/performance.md,
figure 1). When the same process runs the next step of an instance -- one officer completing several tasks,
a worker that handled the previous step, the timer sweep -- the object it saved is still in memory. It is
reused only when the stored state is *exactly* the text written from it (compared as strings), so a step by
another process, a restored backup, a migration or a rolled-back step all fall back to a fresh load:

- an object enters the cache only after its transaction committed (`after_commit`); a rollback drops it;
- `take` removes it, so the step that uses it owns it, and a step that then fails never puts it back;
- the cache is bounded by a number of instances (least recently saved leave first); 0 turns it off.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_PENDING = "engine.workflow_cache.pending"


class WorkflowCache:
    """A bounded map instance id -> (the state text saved, the workflow object it was saved from)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[int, tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, instance_id: int, stored_state: str) -> Any | None:
        """Remove and return the object saved as `stored_state`, or None (then load from the state)."""
        with self._lock:
            entry = self._entries.pop(instance_id, None)
            if entry is not None and entry[0] == stored_state:
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def keep_after_commit(self, session: Session, instance_id: int, state: str, workflow: Any) -> None:
        """Remember `workflow` (saved as `state`) once the session's transaction commits."""
        if self.size > 0:
            session.info.setdefault(_PENDING, {})[instance_id] = (self, state, workflow)

    def _put(self, instance_id: int, state: str, workflow: Any) -> None:
        with self._lock:
            self._entries.pop(instance_id, None)
            self._entries[instance_id] = (state, workflow)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every object (e.g. after a restore)."""
        with self._lock:
            self._entries.clear()


@event.listens_for(Session, "after_commit")
def _keep_committed(session: Session) -> None:
    for instance_id, (cache, state, workflow) in session.info.pop(_PENDING, {}).items():
        cache._put(instance_id, state, workflow)


@event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
