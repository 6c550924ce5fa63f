"""What auditors read: a petition's timeline, the path it took through the BPMN, the processing-control sheet,
a search across the audit log, and CSV / XLSX exports (no Flask here).

Everything is read from the hash-chained `audit_event` log, the human-task projection and the instance's stored
workflow state. The only write is `record_view`, which appends an `AUDIT_VIEWED` event (what was opened, and by
whom) in the caller's transaction, like every other event.

Timing of a step against its due date (`timing`): a due date expires at the calendar's cut-off (17:00, Hanoi)
on that day, as for deadlines everywhere else. A step finished before its due day is `early`, on its due day
before the cut-off `on_time`, after it `late`; an open step is `in_progress`, or `overdue` once the cut-off has
passed; without a due date the timing is empty.
"""
from workflows.audit_trail.chain import VIEWED, ChainReport, record_view, verify
from workflows.audit_trail.diagram import ElementTrace, PathTrace, Visit, diagram_xml, path_taken
from workflows.audit_trail.durations import (
    IN_TIME,
    LATE,
    TIMINGS,
    local_date,
    task_timing,
    timing,
    working_days,
)
from workflows.audit_trail.exports import to_csv, to_xlsx
from workflows.audit_trail.history import Timeline, TimelineEvent, timeline
from workflows.audit_trail.loading import STEP_TRIGGERS, definition_of
from workflows.audit_trail.log_search import (
    SEARCH_LIMIT,
    SearchFilters,
    SearchResult,
    SearchRow,
    known_actions,
    known_roles,
    search,
)
from workflows.audit_trail.sheet import HandOff, Sheet, control_sheet
from workflows.petitions import HANOI

__all__ = [
    "HANOI", "IN_TIME", "LATE", "SEARCH_LIMIT", "STEP_TRIGGERS", "TIMINGS", "VIEWED",
    "ChainReport", "ElementTrace", "HandOff", "PathTrace", "SearchFilters", "SearchResult", "SearchRow", "Sheet",
    "Timeline", "TimelineEvent", "Visit",
    "control_sheet", "definition_of", "diagram_xml", "known_actions", "known_roles", "local_date", "path_taken",
    "record_view", "search", "task_timing", "timeline", "timing", "to_csv", "to_xlsx", "verify", "working_days",
]
