"""Jinja filters and globals: Vietnamese dates, reference labels, deadline marks, step and role names."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from workflows.petitions import HANOI
from workflows.reference import LANGUAGES, get_reference

DUE_SOON_DAYS = 2

# Step names by BPMN id; the BPMN carries Vietnamese names only, so the English ids live here.
STEP_TITLES = {
    "register": _l("Register the petition"),
    "supply_info": _l("Supply the missing information"),
    "classify": _l("Classify the petition"),
    "record_out_of_track": _l("Record a complaint or denunciation"),
    "forward": _l("Forward to the competent authority"),
    "assign": _l("Assign the petition"),
    "handle": _l("Handle the petition"),
    "coordinate": _l("Coordination reply"),
    "draft_answer": _l("Draft the answer"),
    "approve": _l("Approve the answer"),
    "send_answer": _l("Send the answer"),
    "confirm": _l("Rate the answer"),
    "review_overdue": _l("Review an overdue petition"),
    "approve_extension": _l("Decide on an extension"),
}

ROLE_TITLES = {
    "intake": _l("Intake officer"),
    "leader": _l("Board leader"),
    "unit": _l("Unit officer"),
    "agency": _l("Coordinating agency"),
    "enterprise": _l("Enterprise"),
    "designer": _l("Process designer"),
    "auditor": _l("Auditor"),
    "admin": _l("Administrator"),
    "system": _l("System"),
}

DEADLINE_TEXT = {
    "overdue": _l("Overdue"),
    "due_soon": _l("Due soon"),
    "on_time": _l("On time"),
}


def current_lang() -> str:
    """Return the language of this request ('vi' or 'en')."""
    locale = get_locale()
    lang = locale.language if locale is not None else "vi"
    return lang if lang in LANGUAGES else "vi"


def today_hanoi() -> dt.date:
    """Return today's date in Hanoi."""
    return dt.datetime.now(HANOI).date()


def _parse(value: Any) -> dt.date | dt.datetime | None:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _aware(moment: dt.datetime) -> dt.datetime:
    # The database hands back UTC; a naive value can only be UTC too.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _as_date(value: Any) -> dt.date | None:
    parsed = _parse(value)
    if isinstance(parsed, dt.datetime):
        return _aware(parsed).astimezone(HANOI).date() if parsed.tzinfo else parsed.date()
    return parsed


def date_vn(value: Any) -> str:
    """Format a date, datetime or ISO string as dd/mm/yyyy (Hanoi date); other values as text."""
    day = _as_date(value)
    if day is not None:
        return day.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def datetime_vn(value: Any) -> str:
    """Format a datetime (UTC when naive) or ISO string as dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh."""
    parsed = _parse(value)
    if isinstance(parsed, dt.datetime):
        return _aware(parsed).astimezone(HANOI).strftime("%d/%m/%Y %H:%M")
    return date_vn(value)


@lru_cache(maxsize=64)
def _labels(kind: str, lang: str) -> dict[str, str]:
    return dict(get_reference().options(kind, lang))


def label(code: Any, kind: str) -> str:
    """Return the label of a reference code in the current language (the code itself when unknown)."""
    if code is None or code == "":
        return ""
    labels = _labels(kind, current_lang())
    text = str(code)
    return labels.get(text) or labels.get(text.upper()) or text


def labels(codes: Any, kind: str) -> str:
    """Return the labels of several codes joined by commas."""
    if not codes:
        return ""
    if isinstance(codes, str):
        codes = [codes]
    return ", ".join(label(code, kind) for code in codes)


def options(kind: str) -> list[tuple[str, str]]:
    """Return the (code, label) pairs of a reference list in the current language."""
    return list(_labels(kind, current_lang()).items())


def status_label(code: Any) -> str:
    """Return the label of a petition status code."""
    return label(code, "statuses")


def step_label(bpmn_id: str | None, fallback: str = "") -> str:
    """Return the name of a process step in the current language."""
    title = STEP_TITLES.get(bpmn_id or "")
    return str(title) if title is not None else (fallback or bpmn_id or "")


def role_label(role: str | None) -> str:
    """Return the name of a role in the current language."""
    title = ROLE_TITLES.get(role or "")
    return str(title) if title is not None else (role or "")


def deadline_state(due_date: Any, today: dt.date | None = None) -> str:
    """Return 'overdue', 'due_soon' (at most two days left) or 'on_time'; '' without a due date."""
    due = _as_date(due_date)
    if due is None:
        return ""
    left = (due - (today or today_hanoi())).days
    if left < 0:
        return "overdue"
    return "due_soon" if left <= DUE_SOON_DAYS else "on_time"


def deadline_text(state: str) -> str:
    """Return the words of a deadline state."""
    text = DEADLINE_TEXT.get(state)
    return str(text) if text is not None else ""


def init_app(app: Flask) -> None:
    """Register the filters and globals with Jinja."""
    for name, func in (("date_vn", date_vn), ("datetime_vn", datetime_vn), ("label", label),
                       ("labels", labels), ("status_label", status_label), ("step_label", step_label),
                       ("role_label", role_label)):
        app.add_template_filter(func, name)
    for name, func in (("deadline_state", deadline_state), ("deadline_text", deadline_text), ("options", options),
                       ("current_lang", current_lang), ("label", label), ("step_label", step_label)):
        app.add_template_global(func, name)
