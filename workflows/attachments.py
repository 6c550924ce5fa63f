"""Petition attachments: an allow-list checked against the file's content, size limits, durable storage.

Files live outside the web root (`instance/attachments` by default) under a server-generated name: 128
random bits in hex, spread over 256 sub-folders. The name the client sent is kept only as metadata, after
normalization. A file is written to a temporary name in the same folder, fsynced and renamed before the
caller commits the row that references it (reliability notes D1): a crash can leave a file without a row,
which `sweep_orphans` removes later, never a row without its file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import NotFound, ValidationFailed
from workflows.models import Attachment, Petition

MB = 1024 * 1024
MAX_FILE_BYTES = 10 * MB
MAX_FILES_PER_PETITION = 10
MAX_TOTAL_BYTES = 30 * MB
MAX_NAME = 120
KINDS = ("petition", "scan", "supply_info", "answer")

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jpg": "image/jpeg",
    "png": "image/png",
}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MARKERS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
_KEY = re.compile(r"^[0-9a-f]{32}$")

TOO_LARGE = "A file may not be larger than 10 MB."
WRONG_TYPE = "This type of file is not accepted: send PDF, DOC, DOCX, XLS, XLSX, JPG or PNG."
FORGED = "The content of the file does not match its type."
EMPTY = "The file is empty."
TOO_MANY = "A petition may have at most 10 files."
TOTAL_TOO_LARGE = "The files of a petition may not exceed 30 MB in total."


@dataclass(frozen=True)
class Upload:
    """A file as received from the client: the name it claims and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks, with its normalized name and canonical content type."""

    original_name: str
    extension: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        """Return the hex SHA-256 of the content."""
        return hashlib.sha256(self.data).hexdigest()


class FilesRefused(ValidationFailed):
    """One or more files were refused; `problems` lists (normalized file name, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__({"attachments": problems[0][1]})
        self.problems = problems

    @property
    def too_large(self) -> bool:
        """Tell whether a size limit was the reason (HTTP 413)."""
        return any(message in (TOO_LARGE, TOTAL_TOO_LARGE) for _, message in self.problems)


def normalize_name(raw: str) -> str:
    """Return a display name that is safe as metadata: no folders, no control characters, NFKC, capped."""
    name = unicodedata.normalize("NFKC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[^\w .()\-]+", "_", name).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 5 else name[:MAX_NAME]
    return name or "tep-dinh-kem"


def _extension(name: str) -> str:
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    return "jpg" if ext == "jpeg" else ext


def _content_matches(ext: str, data: bytes) -> bool:
    if ext == "pdf":
        return data.startswith(b"%PDF-")
    if ext == "png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if ext == "jpg":
        return data.startswith(b"\xff\xd8\xff")
    if ext in ("doc", "xls"):
        return data.startswith(_OLE2)
    if ext in _ZIP_MARKERS:
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:  # only the central directory is read; nothing is decompressed
            return _ZIP_MARKERS[ext] in zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError):
            return False
    return False


def check_file(upload: Upload) -> CheckedFile | str:
    """Return the checked file, or the message that refuses it."""
    name = normalize_name(upload.filename)
    ext = _extension(name)
    if ext not in CONTENT_TYPES:
        return WRONG_TYPE
    if not upload.data:
        return EMPTY
    if len(upload.data) > MAX_FILE_BYTES:
        return TOO_LARGE
    if not _content_matches(ext, upload.data):
        return FORGED
    return CheckedFile(name, ext, CONTENT_TYPES[ext], upload.data)


def check_uploads(uploads: Iterable[Upload], already: tuple[int, int] = (0, 0)) -> list[CheckedFile]:
    """Check every upload; raise FilesRefused listing each refused file (nothing is refused silently).

    `already` is (count, total bytes) of the files the petition has, for the per-petition quota.
    """
    checked: list[CheckedFile] = []
    problems: list[tuple[str, str]] = []
    for upload in uploads:
        result = check_file(upload)
        if isinstance(result, str):
            problems.append((normalize_name(upload.filename), result))
        else:
            checked.append(result)
    count, total = already
    if not problems and count + len(checked) > MAX_FILES_PER_PETITION:
        problems.append(("", TOO_MANY))
    if not problems and total + sum(len(f.data) for f in checked) > MAX_TOTAL_BYTES:
        problems.append(("", TOTAL_TOO_LARGE))
    if problems:
        raise FilesRefused(problems)
    return checked


def usage(session: Session, petition: Petition) -> tuple[int, int]:
    """Return (count, total bytes) of a petition's attachments."""
    row = session.execute(
        select(func.count(Attachment.id), func.coalesce(func.sum(Attachment.size), 0))
        .where(Attachment.petition_id == petition.id)
    ).one()
    return int(row[0]), int(row[1])


def path_of(base: Path, key: str) -> Path:
    """Return where the file with this key is stored; raise NotFound for anything but a well-formed key."""
    if not _KEY.match(key or ""):
        raise NotFound("no such attachment")
    return base / key[:2] / key


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store(base: Path, data: bytes) -> str:
    """Write bytes durably under a new random key (temp file, fsync, rename, fsync folder); return the key."""
    key = secrets.token_hex(16)
    final = path_of(base, key)
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = final.parent / f".tmp-{key}"
    with open(temp, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, final)
    _fsync_dir(final.parent)
    return key


def attach(session: Session, base: Path, petition: Petition, files: Sequence[CheckedFile], kind: str,
           uploaded_by: str) -> list[Attachment]:
    """Store checked files and add their rows in the caller's transaction (the caller commits)."""
    if kind not in KINDS:
        raise ValueError(f"unknown attachment kind {kind!r}")
    rows = []
    for checked in files:
        row = Attachment(key=store(base, checked.data), petition_id=petition.id, kind=kind,
                         original_name=checked.original_name, extension=checked.extension,
                         content_type=checked.content_type, size=len(checked.data), sha256=checked.sha256,
                         uploaded_by=uploaded_by)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def of_petition(session: Session, petition: Petition) -> list[Attachment]:
    """Return a petition's attachments in upload order."""
    return list(session.scalars(
        select(Attachment).where(Attachment.petition_id == petition.id).order_by(Attachment.id)
    ))


def get(session: Session, petition: Petition, key: str) -> Attachment:
    """Return the petition's attachment with this key; raise NotFound when it belongs to another petition."""
    row = session.scalar(select(Attachment).where(Attachment.key == key, Attachment.petition_id == petition.id))
    if row is None:
        raise NotFound("no such attachment")
    return row


def sweep_orphans(session: Session, base: Path, older_than: dt.timedelta = dt.timedelta(hours=1),
                  now: dt.datetime | None = None) -> int:
    """Delete stored files (and stale temp files) older than `older_than` that no row references."""
    if not base.exists():
        return 0
    limit = (now or utcnow()).timestamp() - older_than.total_seconds()
    removed = 0
    for folder in base.iterdir():
        if not folder.is_dir() or len(folder.name) != 2:
            continue
        for path in folder.iterdir():
            if path.stat().st_mtime > limit:
                continue
            key = path.name.removeprefix(".tmp-")
            known = not path.name.startswith(".tmp-") and session.scalar(
                select(Attachment.id).where(Attachment.key == key)) is not None
            if not known:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
