"""Dialogue conferences: the record, quick registration of its petitions (grid or XLSX/CSV) and follow-up.

Import policy: every row is checked first and the officer sees a report with each bad row, its line in the
file and the reasons; after confirmation the good rows are registered and the bad ones stay in the report
(nothing is dropped silently). Each row's submission key is derived from the conference and the row's
content, so importing the corrected file again registers only the rows that were missing.
"""
from workflows.conferences.records import (
    CODE,
    ConferenceInput,
    add_participant,
    create,
    enterprises_of,
    get,
    listing,
    petitions_of,
    recent,
)
from workflows.conferences.registration import drop_staged, register_rows, row_key, stage_file, staged_file
from workflows.conferences.report import TOTAL_LABELS_VI, FollowUp, FollowUpLine, follow_up, follow_up_xlsx
from workflows.conferences.rows import (
    BAD_FILE,
    FIELDS,
    FILE_TOO_LARGE,
    HEADERS,
    MAX_IMPORT_BYTES,
    MAX_ROWS,
    MISSING_COLUMNS,
    REQUIRED_HEADERS,
    TOO_MANY_ROWS,
    Row,
    RowCheck,
    RowProblem,
    check_rows,
    read_rows,
    row_from,
)
from workflows.conferences.samples import link_samples

__all__ = [
    "BAD_FILE", "CODE", "FIELDS", "FILE_TOO_LARGE", "HEADERS", "MAX_IMPORT_BYTES", "MAX_ROWS", "MISSING_COLUMNS",
    "REQUIRED_HEADERS", "TOO_MANY_ROWS", "TOTAL_LABELS_VI",
    "ConferenceInput", "FollowUp", "FollowUpLine", "Row", "RowCheck", "RowProblem",
    "add_participant", "check_rows", "create", "drop_staged", "enterprises_of", "follow_up", "follow_up_xlsx", "get",
    "link_samples", "listing", "petitions_of", "read_rows", "recent", "register_rows", "row_from", "row_key",
    "stage_file", "staged_file",
]
