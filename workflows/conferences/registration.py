"""Register checked rows as conference petitions and stage an import file until it is confirmed."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from engine.audit import Actor
from engine.errors import NotFound
from engine.runtime import Runtime
from workflows import intake
from workflows.conferences.records import add_participant
from workflows.conferences.rows import Row
from workflows.intake import Source, normalize_text
from workflows.models import Conference, Petition
from workflows.petitions import HANOI, Submission
from workflows.users import get_or_create_enterprise


def row_key(conference: Conference, row: Row) -> str:
    """Return the submission key of a row: the same row of the same conference is registered once."""
    digest = hashlib.sha256("\x1f".join((conference.code, row.tax_code, normalize_text(row.title),
                                         normalize_text(row.content))).encode()).hexdigest()
    return f"conf-{digest[:48]}"


def _received_at(conference: Conference) -> dt.datetime:
    held = dt.datetime.combine(conference.held_on, dt.time(9, 0), HANOI)
    return min(held, dt.datetime.now(HANOI))


def register_rows(session: Session, runtime: Runtime, actor: Actor, conference: Conference,
                  rows: Sequence[Row], is_demo: bool = False) -> list[Petition]:
    """Register checked rows as HOI_NGHI petitions linked to the conference (the caller commits)."""
    registered = []
    for row in rows:
        enterprise = get_or_create_enterprise(session, row.tax_code, row.enterprise_name or None, row.zone,
                                              contact_name=row.contact_name or None,
                                              contact_email=row.contact_email or None,
                                              contact_phone=row.contact_phone or None)
        sub = Submission(title=row.title, content=row.content, zone=row.zone, channel="HOI_NGHI",
                         category_hint=row.category or None, submission_key=row_key(conference, row))
        source = Source(conference_code=conference.code, contact_name=row.contact_name or None,
                        contact_email=row.contact_email or None, contact_phone=row.contact_phone or None)
        registered.append(intake.register(session, runtime, actor, enterprise, sub, source=source,
                                          allow_duplicate=True, received_at=_received_at(conference),
                                          is_demo=is_demo))
        add_participant(session, conference, enterprise)
    return registered


def stage_file(base: Path, data: bytes) -> str:
    """Keep an uploaded import file until the officer confirms; return its random token."""
    token = secrets.token_hex(16)
    folder = base / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / token).write_bytes(data)
    return token


def staged_file(base: Path, token: str) -> bytes:
    """Return a staged file's bytes; raise NotFound for an unknown or malformed token."""
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        raise NotFound("the import file has expired; upload it again")
    path = base / "imports" / token
    if not path.exists():
        raise NotFound("the import file has expired; upload it again")
    return path.read_bytes()


def drop_staged(base: Path, token: str) -> None:
    """Delete a staged file once its rows are registered."""
    if re.fullmatch(r"[0-9a-f]{32}", token or ""):
        (base / "imports" / token).unlink(missing_ok=True)
