"""The outbox: e-mail queued in the caller's transaction, delivered after commit at least once (R4).

`enqueue` runs inside the step's transaction, so a message exists exactly when the step committed.
`deliver_pending` sends in three short steps per message: claim (its own transaction, `FOR UPDATE SKIP
LOCKED` on PostgreSQL, a lease moves `next_attempt_at` forward and counts the attempt), send (no transaction
open: on SQLite a transaction holds the database's only write lock), mark sent (its own transaction). A
crash between send and mark leaves the row unsent; it is sent again when the lease runs out. Every message
carries a Message-ID derived from its outbox row, so the receiving side can drop the repeat.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import insert_unless_present, utcnow
from engine.models import OutboxMessage

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF = dt.timedelta(hours=1)
SMTP_TIMEOUT = 30
UNCONFIGURED_WARNING_EVERY = dt.timedelta(minutes=15)
_next_warning: dt.datetime | None = None


@dataclass(frozen=True)
class Mail:
    """A message as the sender sees it (no database object crosses into the network call)."""

    outbox_id: int
    message_id: str
    recipient: str
    subject: str
    body: str


class PermanentFailure(Exception):
    """The receiving server refused the message for good (e.g. an unknown mailbox): do not retry."""


class Sender(Protocol):
    """Sends one message or raises; `configured` False means: keep everything queued."""

    configured: bool

    def send(self, mail: Mail) -> None: ...

    def close(self) -> None: ...


_enqueue = insert_unless_present(OutboxMessage, "dedupe_key")


def enqueue(session: Session, dedupe_key: str, recipient: str, subject: str, body: str) -> bool:
    """Queue an e-mail in the caller's transaction; return False when `dedupe_key` was already queued."""
    stmt = _enqueue(session)
    now = utcnow()
    row = {"dedupe_key": dedupe_key, "channel": "email", "recipient": recipient, "subject": subject,
           "body_text": body, "created_at": now, "attempts": 0, "next_attempt_at": now}
    # On the session's connection: a Core insert that needs no flush of the caller's pending changes.
    return session.connection().execute(stmt, row).scalar_one_or_none() is not None


def message_id(outbox_id: int, dedupe_key: str, domain: str) -> str:
    """Return the Message-ID of an outbox row: stable across re-sends, distinct across databases."""
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]
    return f"<outbox.{outbox_id}.{digest}@{domain}>"


def pending_count(session: Session) -> int:
    """Return how many messages are still waiting to be sent (given-up ones excluded)."""
    return session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at.is_not(None))
    ) or 0


def backoff(attempts: int) -> dt.timedelta:
    """Return the wait before the next attempt: 1, 2, 4 ... minutes, at most an hour."""
    return min(dt.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver_pending(
    session_factory: Callable[[], Session],
    sender: Sender,
    now: dt.datetime | None = None,
    batch: int = 50,
    lease: dt.timedelta = LEASE,
) -> int:
    """Send up to `batch` due messages, each claimed, sent and marked on its own; return how many were sent."""
    if not getattr(sender, "configured", True):
        _warn_unconfigured(session_factory)
        return 0
    sent = 0
    try:
        for _ in range(batch):
            moment = now or utcnow()  # the lease runs from each claim, not from the start of a long pass
            mail = _claim(session_factory, moment, lease, getattr(sender, "domain", "localhost"))
            if mail is None:
                break
            try:
                sender.send(mail)
            except PermanentFailure as exc:
                _failed(session_factory, mail, moment, exc, give_up=True)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
                _failed(session_factory, mail, moment, exc, give_up=False)
                if _stops_pass(exc):
                    break  # the server is down or refuses us: leave the rest queued, untouched, for the next pass
            else:
                _mark_sent(session_factory, mail)
                sent += 1
    finally:
        sender.close()
    return sent


def _warn_unconfigured(session_factory: Callable[[], Session]) -> None:
    # The ticker calls every few seconds: say it at most every UNCONFIGURED_WARNING_EVERY per process.
    global _next_warning
    if _next_warning is not None and utcnow() < _next_warning:
        return
    with session_factory() as session:
        waiting = pending_count(session)
    if waiting:
        log.warning("no SMTP host configured (PETITIONS_SMTP_HOST): %d message(s) stay queued", waiting)
        _next_warning = utcnow() + UNCONFIGURED_WARNING_EVERY


def _claim(session_factory: Callable[[], Session], now: dt.datetime, lease: dt.timedelta,
           domain: str) -> Mail | None:
    with session_factory() as session, session.begin():
        row = session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = now + lease
        return Mail(row.id, message_id(row.id, row.dedupe_key, domain), row.recipient, row.subject, row.body_text)


def _mark_sent(session_factory: Callable[[], Session], mail: Mail) -> None:
    with session_factory() as session, session.begin():
        row = session.get(OutboxMessage, mail.outbox_id, with_for_update=True)
        if row is not None:
            row.sent_at, row.last_error = utcnow(), None


def _failed(session_factory: Callable[[], Session], mail: Mail, now: dt.datetime, exc: BaseException,
            give_up: bool) -> None:
    with session_factory() as session, session.begin():
        row = session.get(OutboxMessage, mail.outbox_id, with_for_update=True)
        if row is None:
            return
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        row.next_attempt_at = None if give_up else now + backoff(row.attempts)
    level = logging.ERROR if give_up else logging.WARNING
    log.log(level, "outbox message %d to %s %s: %s", mail.outbox_id, mail.recipient,
            "given up" if give_up else "will be retried", exc)


def _stops_pass(exc: BaseException) -> bool:
    # smtplib's errors are OSErrors; only a refused recipient or message is about this one message.
    return isinstance(exc, OSError) and not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


class SmtpSender:
    """Send through one SMTP server (smtplib), one connection per delivery pass."""

    def __init__(self, host: str | None, port: int = 25, user: str | None = None, password: str | None = None,
                 starttls: bool = False, mail_from: str = "petitions@localhost", timeout: float = SMTP_TIMEOUT):
        self.host, self.port, self.user, self.password = host, port, user, password
        self.starttls, self.mail_from, self.timeout = starttls, mail_from, timeout
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_env(cls) -> SmtpSender:
        """Read PETITIONS_SMTP_HOST/PORT/USER/PASSWORD/STARTTLS and PETITIONS_MAIL_FROM."""
        env = os.environ
        starttls = _flag(env.get("PETITIONS_SMTP_STARTTLS"))
        return cls(
            host=env.get("PETITIONS_SMTP_HOST") or None,
            port=int(env.get("PETITIONS_SMTP_PORT") or (587 if starttls else 25)),
            user=env.get("PETITIONS_SMTP_USER") or None,
            password=env.get("PETITIONS_SMTP_PASSWORD") or None,
            starttls=starttls,
            mail_from=env.get("PETITIONS_MAIL_FROM") or "petitions@localhost",
        )

    @property
    def configured(self) -> bool:
        """Tell whether an SMTP host is set."""
        return bool(self.host)

    @property
    def domain(self) -> str:
        """Return the domain of the sender address (the right-hand side of Message-IDs)."""
        return self.mail_from.rpartition("@")[2] or "localhost"

    def build(self, mail: Mail) -> MIMEText:
        """Return the MIME message: UTF-8 text, the subject as RFC 2047 encoded words."""
        # email.header.Header, not EmailMessage: the new policy's folding drops the space between two
        # encoded words ("Lãnh đạo" arrives as "Lãnhđạo"), which Vietnamese subjects hit all the time.
        msg = MIMEText(mail.body, "plain", "utf-8")
        msg["From"], msg["To"] = self.mail_from, mail.recipient.strip()
        # Header values come from user input (petition titles): never let a line break through.
        msg["Subject"] = Header(" ".join(mail.subject.split()), "utf-8")
        msg["Message-ID"] = mail.message_id
        msg["Date"] = format_datetime(utcnow())
        msg["Auto-Submitted"] = "auto-generated"
        return msg

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host or "", self.port, timeout=self.timeout)
            try:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def send(self, mail: Mail) -> None:
        """Send one message; raise PermanentFailure when the recipient is refused for good."""
        try:
            self._connection().send_message(self.build(mail))
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise PermanentFailure(str(exc.recipients)) from exc
            raise
        except BaseException:
            self.close()  # a broken conversation is not reused; the next message reconnects
            raise

    def close(self) -> None:
        """End the connection, if any."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
