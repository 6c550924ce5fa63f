"""Enterprise accounts: self-registration with e-mail verification, and colleagues invited by a user.

Links carry tokens signed with the application's secret (itsdangerous, time-limited); the caller passes the
secret and builds the URL. E-mails go through the outbox in the caller's transaction. A tax code names an
enterprise publicly, so knowing it is no proof of belonging: registration attaches to an existing
enterprise only when that enterprise has no account yet and the e-mail given is its contact address on
record; otherwise a user of the enterprise must invite the newcomer.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, outbox
from engine.audit import Actor
from engine.db import utcnow
from engine.errors import Conflict, NotFound, ValidationFailed
from workflows.models import EmailVerification, Enterprise, User
from workflows.passwords import policy_problem
from workflows.reference import get_reference
from workflows.users import create_user

VERIFY_MAX_AGE = 3 * 24 * 3600
INVITE_MAX_AGE = 7 * 24 * 3600
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TAX_CODE = re.compile(r"^\d{10}(\d{3})?$")
FOOTER = ("--\nThư tự động của Hệ thống tiếp nhận, xử lý phản ánh, kiến nghị của doanh nghiệp - Ban Quản lý các "
          "khu công nghệ cao và khu công nghiệp thành phố Hà Nội.")

BAD_TAX_CODE = "A tax code has 10 digits, or 13 for a branch (e.g. 0101234567 or 0101234567-001)."
BAD_EMAIL = "The e-mail address is not valid."
REQUIRED = "This field is required."
HAS_ACCOUNT = "This enterprise already has an account: ask one of its users to invite you."
KNOWN_ENTERPRISE = ("This tax code is already known to the Board: register with the contact e-mail on record, "
                    "or ask the one-stop desk to open your account.")
EMAIL_TAKEN = "This e-mail address is already used by an account."
BAD_LINK = "This link is not valid or has expired."
USED_INVITATION = "This invitation has already been used."


def normalize_tax_code(raw: str | None) -> str:
    """Return the tax code without spaces, dots or dashes (0101234567-001 -> 0101234567001)."""
    return re.sub(r"[\s.\-]", "", raw or "")


def tax_code_problem(code: str) -> str | None:
    """Return why a (normalized) tax code has the wrong format, or None."""
    return None if TAX_CODE.match(code) else BAD_TAX_CODE


def email_problem(email: str) -> str | None:
    """Return why an e-mail address is not acceptable, or None."""
    return None if EMAIL.match(email) and len(email) <= 200 else BAD_EMAIL


@dataclass(frozen=True)
class Registration:
    """What a new enterprise account gives."""

    tax_code: str
    enterprise_name: str
    zone: str
    contact_name: str
    email: str
    username: str
    password: str
    phone: str = ""


def _email_in_use(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None


def _enterprise_problem(session: Session, reg: Registration, tax_code: str) -> str | None:
    enterprise = session.scalar(select(Enterprise).where(Enterprise.tax_code == tax_code))
    if enterprise is None:
        return None
    if session.scalar(select(User.id).where(User.enterprise_id == enterprise.id)) is not None:
        return HAS_ACCOUNT
    if (enterprise.contact_email or "").strip().lower() != reg.email.strip().lower():
        return KNOWN_ENTERPRISE
    return None


def _check(session: Session, reg: Registration) -> dict[str, str]:
    errors: dict[str, str] = {}
    tax_code = normalize_tax_code(reg.tax_code)
    for field in ("tax_code", "enterprise_name", "zone", "contact_name", "email", "username", "password"):
        if not str(getattr(reg, field)).strip():
            errors[field] = REQUIRED
    if "tax_code" not in errors and (problem := tax_code_problem(tax_code) or _enterprise_problem(session, reg,
                                                                                                   tax_code)):
        errors["tax_code"] = problem
    if "zone" not in errors and reg.zone not in get_reference().zones:
        errors["zone"] = "Choose one of the allowed values."
    if "email" not in errors and (problem := email_problem(reg.email.strip()) or (
            EMAIL_TAKEN if _email_in_use(session, reg.email.strip()) else None)):
        errors["email"] = problem
    if "password" not in errors and (problem := policy_problem(reg.password)):
        errors["password"] = problem
    if "username" not in errors and session.scalar(select(User.id).where(User.username == reg.username.strip())):
        errors["username"] = "This username is taken."
    if len(reg.enterprise_name) > 300:
        errors["enterprise_name"] = "The text is too long."
    return errors


def register(session: Session, reg: Registration) -> User:
    """Create the enterprise (if new) and an inactive user awaiting e-mail verification.

    Raises ValidationFailed with every wrong field at once.
    """
    errors = _check(session, reg)
    if errors:
        raise ValidationFailed(errors)
    tax_code, email = normalize_tax_code(reg.tax_code), reg.email.strip()
    enterprise = session.scalar(select(Enterprise).where(Enterprise.tax_code == tax_code))
    if enterprise is None:
        enterprise = Enterprise(tax_code=tax_code, name=reg.enterprise_name.strip(), zone=reg.zone,
                                contact_name=reg.contact_name.strip(), contact_email=email,
                                contact_phone=reg.phone.strip() or None)
        session.add(enterprise)
        session.flush()
    user = create_user(session, reg.username.strip(), reg.password, ["enterprise"],
                       full_name=reg.contact_name.strip(), email=email, enterprise=enterprise)
    user.active = False
    session.add(EmailVerification(user_id=user.id, email=email))
    audit.record(session, Actor(user.username, "enterprise"), "ENTERPRISE_ACCOUNT_REGISTERED",
                 data={"enterprise": tax_code, "user": user.username})
    session.flush()
    return user


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def verification_token(secret: str, user: User) -> str:
    """Return the signed token of the verification link of a user's e-mail."""
    return _serializer(secret, "email-verify").dumps({"uid": user.id, "email": user.email})


def send_verification(session: Session, secret: str, user: User, link_for: Callable[[str], str]) -> None:
    """Queue the verification e-mail (in the caller's transaction)."""
    link = link_for(verification_token(secret, user))
    body = (f"Kính gửi {user.full_name},\n\nTài khoản {user.username} đã được đăng ký trên Hệ thống tiếp nhận "
            f"phản ánh, kiến nghị của doanh nghiệp. Vui lòng mở liên kết sau trong 3 ngày để xác nhận địa chỉ "
            f"thư điện tử và kích hoạt tài khoản:\n\n{link}\n\nNếu bạn không đăng ký, hãy bỏ qua thư này.\n\n{FOOTER}")
    outbox.enqueue(session, f"verify-email:{user.id}:{secrets.token_hex(4)}", user.email or "",
                   "Xác nhận địa chỉ thư điện tử - tài khoản doanh nghiệp", body)


def read_verification(session: Session, secret: str, token: str) -> tuple[User, EmailVerification]:
    """Return the account and verification row of a link without changing anything; ValidationFailed if bad."""
    try:
        payload = _serializer(secret, "email-verify").loads(token, max_age=VERIFY_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise ValidationFailed({"token": BAD_LINK}) from exc
    row = session.get(EmailVerification, payload.get("uid"))
    user = session.get(User, payload.get("uid"))
    if row is None or user is None or row.email != payload.get("email"):
        raise ValidationFailed({"token": BAD_LINK})
    return user, row


def verify(session: Session, secret: str, token: str) -> User:
    """Activate the account of a verification link (idempotent); raise ValidationFailed on a bad link."""
    user, row = read_verification(session, secret, token)
    if row.verified_at is None:  # a verified account deactivated later is not revived by an old link
        row.verified_at = utcnow()
        user.active = True
        audit.record(session, Actor(user.username, "enterprise"), "ENTERPRISE_EMAIL_VERIFIED",
                     data={"user": user.username})
    return user


@dataclass(frozen=True)
class Invitation:
    """An invitation read from its link."""

    enterprise: Enterprise
    email: str
    full_name: str
    invited_by: str


def colleagues(session: Session, user: User) -> list[User]:
    """Return the users of the user's enterprise."""
    if not user.enterprise_id:
        return []
    return list(session.scalars(select(User).where(User.enterprise_id == user.enterprise_id).order_by(User.id)))


def invite(session: Session, secret: str, inviter: User, email: str, full_name: str,
           link_for: Callable[[str], str]) -> str:
    """Invite a colleague into the inviter's enterprise: queue the e-mail and return the token."""
    email, full_name = email.strip(), full_name.strip()
    errors: dict[str, str] = {}
    if not inviter.enterprise_id or "enterprise" not in inviter.roles:
        raise NotFound("no enterprise")
    if problem := email_problem(email):
        errors["email"] = problem
    elif _email_in_use(session, email):
        errors["email"] = EMAIL_TAKEN
    if not full_name:
        errors["full_name"] = REQUIRED
    if errors:
        raise ValidationFailed(errors)
    enterprise = session.get(Enterprise, inviter.enterprise_id)
    token = _serializer(secret, "enterprise-invite").dumps(
        {"eid": enterprise.id, "email": email, "name": full_name, "by": inviter.username, "n": secrets.token_hex(8)})
    body = (f"Kính gửi {full_name},\n\n{inviter.full_name} mời bạn dùng tài khoản của {enterprise.name} "
            f"(mã số doanh nghiệp {enterprise.tax_code}) trên Hệ thống tiếp nhận phản ánh, kiến nghị của doanh "
            f"nghiệp. Mở liên kết sau trong 7 ngày để tạo tài khoản:\n\n{link_for(token)}\n\n{FOOTER}")
    outbox.enqueue(session, f"invite:{enterprise.id}:{email.lower()}:{secrets.token_hex(4)}", email,
                   f"Lời mời tham gia tài khoản doanh nghiệp {enterprise.name}", body)
    audit.record(session, Actor(inviter.username, "enterprise"), "ENTERPRISE_USER_INVITED",
                 data={"enterprise": enterprise.tax_code, "email": email})
    return token


def read_invitation(session: Session, secret: str, token: str) -> Invitation:
    """Return the invitation of a link; raise ValidationFailed when it is forged or expired."""
    try:
        payload = _serializer(secret, "enterprise-invite").loads(token, max_age=INVITE_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise ValidationFailed({"token": BAD_LINK}) from exc
    enterprise = session.get(Enterprise, payload.get("eid"))
    if enterprise is None:
        raise ValidationFailed({"token": BAD_LINK})
    return Invitation(enterprise, str(payload["email"]), str(payload.get("name") or ""), str(payload.get("by")))


def accept_invitation(session: Session, secret: str, token: str, username: str, password: str) -> User:
    """Create the invited colleague's account, active at once (the link proved the mailbox); once only."""
    invitation = read_invitation(session, secret, token)
    if _email_in_use(session, invitation.email):
        raise Conflict(USED_INVITATION)
    user = create_user(session, username.strip(), password, ["enterprise"], full_name=invitation.full_name,
                       email=invitation.email, enterprise=invitation.enterprise)
    session.add(EmailVerification(user_id=user.id, email=invitation.email, verified_at=utcnow()))
    audit.record(session, Actor(user.username, "enterprise"), "ENTERPRISE_INVITATION_ACCEPTED",
                 data={"enterprise": invitation.enterprise.tax_code, "invited_by": invitation.invited_by})
    session.flush()
    return user
