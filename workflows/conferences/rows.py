"""Read petition rows from a grid or an XLSX/CSV file and check each one before registration."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ValidationFailed
from workflows.enterprises import email_problem, normalize_tax_code, tax_code_problem
from workflows.intake import normalize_text
from workflows.models import Enterprise
from workflows.petitions import MAX_CONTENT, MAX_TITLE
from workflows.reference import get_reference

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_ROWS = 500
FIELDS = ("tax_code", "enterprise_name", "zone", "title", "content", "category", "contact_name", "contact_email",
          "contact_phone")
# Column headers accepted in a file, compared after normalize_text (no diacritics, lower case).
HEADERS = {
    "tax_code": ("tax code", "tax_code", "ma so doanh nghiep", "ma so thue", "mst", "ma doanh nghiep"),
    "enterprise_name": ("enterprise", "enterprise name", "enterprise_name", "ten doanh nghiep", "doanh nghiep"),
    "zone": ("zone", "kcn", "khu", "khu cong nghiep", "khu cong nghe cao", "kcn kcnc"),
    "title": ("title", "tieu de", "ten kien nghi", "trich yeu"),
    "content": ("content", "noi dung", "noi dung kien nghi"),
    "category": ("category", "linh vuc"),
    "contact_name": ("contact", "contact name", "contact_name", "nguoi lien he"),
    "contact_email": ("email", "e mail", "contact email", "contact_email", "thu dien tu"),
    "contact_phone": ("phone", "contact phone", "contact_phone", "dien thoai", "so dien thoai"),
}
REQUIRED_HEADERS = ("tax_code", "zone", "title", "content")

BAD_FILE = "The file cannot be read: send an XLSX or CSV file with a header row."
MISSING_COLUMNS = "The file lacks the columns: tax code, zone, title and content are required."
TOO_MANY_ROWS = "The file has too many rows (at most 500)."
FILE_TOO_LARGE = "The file is too large (at most 5 MB)."


@dataclass(frozen=True)
class Row:
    """One petition to register: `line` is its line in the file (or its number in the grid)."""

    line: int
    tax_code: str = ""
    enterprise_name: str = ""
    zone: str = ""
    title: str = ""
    content: str = ""
    category: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""

    def is_blank(self) -> bool:
        """Tell whether the row has no value at all (a blank grid or file line is skipped)."""
        return not any(getattr(self, name) for name in FIELDS)


@dataclass(frozen=True)
class RowProblem:
    """Why a row cannot be registered: messages are fixed texts with optional parameters."""

    row: Row
    messages: tuple[tuple[str, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class RowCheck:
    """The result of checking rows: the good ones (normalized) and each bad one with its reasons."""

    good: list[Row] = field(default_factory=list)
    bad: list[RowProblem] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Return how many non-blank rows were read."""
        return len(self.good) + len(self.bad)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def row_from(line: int, values: Mapping[str, Any]) -> Row:
    """Build a row from field values (missing fields are empty)."""
    return Row(line, **{name: _cell(values.get(name)) for name in FIELDS})


def _header_map(header: Sequence[Any]) -> dict[int, str]:
    lookup = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
    mapping = {}
    for index, title in enumerate(header):
        name = lookup.get(normalize_text(_cell(title)))
        if name and name not in mapping.values():
            mapping[index] = name
    return mapping


def _table(filename: str, data: bytes) -> Iterable[tuple[int, Sequence[Any]]]:
    if filename.lower().endswith(".xlsx"):
        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds of errors on a damaged file
            raise ValidationFailed({"file": BAD_FILE}) from exc
        return ((i, row) for i, row in enumerate(sheet.iter_rows(values_only=True), start=1))
    if filename.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed({"file": BAD_FILE}) from exc
        delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
        return enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
    raise ValidationFailed({"file": BAD_FILE})


def read_rows(filename: str, data: bytes) -> list[Row]:
    """Read the rows of an XLSX or CSV file with a header row; raise ValidationFailed when unreadable."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed({"file": FILE_TOO_LARGE})
    rows: list[Row] = []
    mapping: dict[int, str] | None = None
    for line, values in _table(filename, data):
        if mapping is None:
            if not any(_cell(v) for v in values):
                continue
            mapping = _header_map(values)
            if any(name not in mapping.values() for name in REQUIRED_HEADERS):
                raise ValidationFailed({"file": MISSING_COLUMNS})
            continue
        row = row_from(line, {name: values[i] for i, name in mapping.items() if i < len(values)})
        if not row.is_blank():
            rows.append(row)
        if len(rows) > MAX_ROWS:
            raise ValidationFailed({"file": TOO_MANY_ROWS})
    if mapping is None:
        raise ValidationFailed({"file": BAD_FILE})
    return rows


def _code_of(value: str, kind: str) -> str | None:
    # A cell may hold the code (TL) or the Vietnamese or English name (KCN Thăng Long).
    entries = getattr(get_reference(), kind)
    if value.upper() in entries:
        return value.upper()
    wanted = normalize_text(value)
    for code, entry in entries.items():
        if wanted in (normalize_text(entry.name_vi), normalize_text(entry.name_en)):
            return code
    return None


def _row_problems(session: Session, row: Row, named: set[str]) -> tuple[Row, list[tuple[str, Mapping[str, Any]]]]:
    problems: list[tuple[str, Mapping[str, Any]]] = []
    tax_code = normalize_tax_code(row.tax_code)
    zone = _code_of(row.zone, "zones") if row.zone else None
    category = _code_of(row.category, "categories") if row.category else ""
    if tax_code_problem(tax_code):
        problems.append(("The tax code must have 10 or 13 digits.", {}))
    elif tax_code not in named and session.scalar(
            select(Enterprise.id).where(Enterprise.tax_code == tax_code)) is None:
        problems.append(("The enterprise name is required for a tax code not yet known.", {}))
    if zone is None:
        problems.append(("Unknown zone.", {}))
    if not row.title:
        problems.append(("The title is required.", {}))
    elif len(row.title) > MAX_TITLE:
        problems.append(("The title is too long (at most 500 characters).", {}))
    if not row.content:
        problems.append(("The content is required.", {}))
    elif len(row.content) > MAX_CONTENT:
        problems.append(("The content is too long.", {}))
    if category is None:
        problems.append(("Unknown category.", {}))
    if row.contact_email and email_problem(row.contact_email):
        problems.append(("The e-mail address is not valid.", {}))
    fixed = Row(row.line, tax_code, row.enterprise_name, zone or row.zone, row.title, row.content, category or "",
                row.contact_name, row.contact_email, row.contact_phone)
    return fixed, problems


def check_rows(session: Session, rows: Iterable[Row]) -> RowCheck:
    """Check every non-blank row; a row repeating an earlier one (same tax code and title) is bad too."""
    result = RowCheck()
    rows = [row for row in rows if not row.is_blank()]
    named = {normalize_tax_code(row.tax_code) for row in rows if row.enterprise_name}
    seen: dict[tuple[str, str], int] = {}
    for raw in rows:
        row, problems = _row_problems(session, raw, named)
        key = (row.tax_code, normalize_text(row.title))
        if row.title and key in seen:
            problems.append(("The same petition appears twice (see line %(line)s).", {"line": seen[key]}))
        seen.setdefault(key, row.line)
        if problems:
            result.bad.append(RowProblem(row, tuple(problems)))
        else:
            result.good.append(row)
    return result
