"""Compare deployed versions of a process and migrate running instances between them."""
from engine.migration.diff import (
    ASPECT_LABELS,
    CHANGE_ADDED,
    CHANGE_CHANGED,
    CHANGE_REMOVED,
    KIND_LABELS,
    Aspect,
    Change,
    VersionDiff,
    diff_versions,
)
from engine.migration.instances import (
    ACTIVE,
    MIGRATION_MESSAGES,
    MSG_CANNOT_LOAD,
    MSG_CANNOT_RESTORE,
    MSG_FAILS_AFTER,
    MSG_LEFTOVER,
    MSG_MI_CHANGED,
    MSG_NEXT_STEPS,
    MSG_NOT_RUNNING,
    MSG_OTHER_PROCESS,
    MSG_REMOVED_IN_USE,
    MSG_REROUTED_DONE,
    MSG_RESET_STEP,
    MSG_RESTART_TIMER,
    MSG_SAME_VERSION,
    MSG_SUBPROCESS_GONE,
    PREDICTED,
    Verdict,
    candidates,
    dry_run,
    migrate,
    plan,
)

__all__ = [
    "ACTIVE", "ASPECT_LABELS", "CHANGE_ADDED", "CHANGE_CHANGED", "CHANGE_REMOVED", "KIND_LABELS",
    "MIGRATION_MESSAGES", "MSG_CANNOT_LOAD", "MSG_CANNOT_RESTORE", "MSG_FAILS_AFTER", "MSG_LEFTOVER",
    "MSG_MI_CHANGED", "MSG_NEXT_STEPS", "MSG_NOT_RUNNING", "MSG_OTHER_PROCESS", "MSG_REMOVED_IN_USE",
    "MSG_REROUTED_DONE", "MSG_RESET_STEP", "MSG_RESTART_TIMER", "MSG_SAME_VERSION", "MSG_SUBPROCESS_GONE", "PREDICTED",
    "Aspect", "Change", "Verdict", "VersionDiff", "candidates", "diff_versions", "dry_run", "migrate", "plan",
]
